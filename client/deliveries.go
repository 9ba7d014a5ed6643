package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"reflect"
	"time"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
	DeliveryCancelled = "cancelled"
)

// Delivery is one event to one endpoint.
type Delivery struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenant_id"`
	Environment string `json:"environment"`
	EventID     string `json:"event_id"`
	EventType   string `json:"event_type"`
	EndpointID  string `json:"endpoint_id"`
	// TargetURL is the job's own callback URL, when it had one.
	TargetURL          string     `json:"target_url,omitempty"`
	Test               bool       `json:"test,omitempty"`
	Status             string     `json:"status"`
	AttemptCount       int        `json:"attempt_count"`
	NextAttemptAt      *time.Time `json:"next_attempt_at,omitempty"`
	LastResponseStatus int        `json:"last_response_status,omitempty"`
	LastError          string     `json:"last_error,omitempty"`
	// OrderedJob is the job whose deliveries to the endpoint go one at a
	// time, in publish order.
	OrderedJob string `json:"ordered_job,omitempty"`
	// FollowsFailed is an earlier delivery of the same job to the endpoint
	// that failed for good: this one went on without it.
	FollowsFailed string    `json:"follows_failed,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// ErasedAt is when an erasure removed what the delivery kept of its
	// event and of the receiver's answers.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
	// Attempts are filled in by GetDelivery only.
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	ID             string            `json:"id"`
	DeliveryID     string            `json:"delivery_id"`
	Number         int               `json:"number"`
	At             time.Time         `json:"at"`
	DurationMS     int64             `json:"duration_ms"`
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	// ResponseStatus is 0 when no answer came (see ErrorClass).
	ResponseStatus  int               `json:"response_status,omitempty"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	// ErrorClass is timeout, dns, connect, tls, blocked, auth, http or
	// transform (the endpoint's body transform failed; nothing was sent).
	ErrorClass string `json:"error_class,omitempty"`
	Error      string `json:"error,omitempty"`
	// TraceID is the OpenTelemetry trace of the attempt's span, the one
	// the publish started; empty when tracing is off or the trace was
	// not sampled.
	TraceID string `json:"trace_id,omitempty"`
}

// DeliveryListParams page through the delivery log, newest first, and
// filter it; zero fields do not filter.
type DeliveryListParams struct {
	ListParams
	EventID    string `query:"event_id"`
	EndpointID string `query:"endpoint_id"`
	// Status is pending, succeeded, failed or cancelled.
	Status    string `query:"status"`
	EventType string `query:"event_type"`
	// Since and Until bound the creation time: since included, until not.
	Since time.Time `query:"since"`
	Until time.Time `query:"until"`
}

var (
	listDeliveries  = newRoute[DeliveryListParams, none, List[Delivery]]("list-deliveries", http.MethodGet, "/v1/deliveries")
	getDelivery     = newRoute[none, none, Delivery]("get-delivery", http.MethodGet, "/v1/deliveries/{id}")
	retryDelivery   = newRoute[none, none, Delivery]("retry-delivery", http.MethodPost, "/v1/deliveries/{id}/retry")
	retryDeliveries = newRoute[none, DeliveryRetry, DeliveryRetryResult]("retry-deliveries", http.MethodPost, "/v1/deliveries/retry")
)

// DeliveryRetry selects the deliveries a bulk retry sends again. Status is
// required (failed, cancelled or succeeded), so that nothing is retried by
// accident; the other fields narrow the set.
type DeliveryRetry struct {
	Status     string `json:"status"`
	EndpointID string `json:"endpoint_id,omitempty"`
	EventType  string `json:"event_type,omitempty"`
	// Since and Until bound the creation time: since included, until not.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Limit is the most one call queues, the oldest first: 1 to 10,000;
	// 0 means 1,000.
	Limit int `json:"limit,omitempty"`
}

// DeliveryRetryResult says how many deliveries a bulk retry queued, and
// whether its limit was reached (the same request queues the next ones).
type DeliveryRetryResult struct {
	Queued       int  `json:"queued"`
	LimitReached bool `json:"limit_reached"`
}

// RetryDeliveries sends again now, with the same webhook-id, the
// deliveries the filter selects, up to its limit.
func (c *Client) RetryDeliveries(ctx context.Context, in *DeliveryRetry) (*DeliveryRetryResult, error) {
	return retryDeliveries.call(ctx, c, nil, in)
}

// ExportDeliveries walks every delivery the filter selects, newest first,
// from one streamed answer (Accept: application/x-ndjson): Herald reads
// them from its store a page at a time, so neither side holds the whole
// set. Limit does not apply; Cursor, when set, is where it starts. An
// error, such as a transfer cut off part way, ends the walk as its last
// item.
func (c *Client) ExportDeliveries(ctx context.Context, p *DeliveryListParams) iter.Seq2[Delivery, error] {
	return func(yield func(Delivery, error) bool) {
		body, err := c.ExportDeliveriesReader(ctx, p)
		if err != nil {
			yield(Delivery{}, err)
			return
		}
		defer body.Close()
		dec := json.NewDecoder(body)
		for {
			var d Delivery
			err := dec.Decode(&d)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(Delivery{}, fmt.Errorf("herald: export deliveries: %w", err))
				return
			}
			if !yield(d, nil) {
				return
			}
		}
	}
}

// ExportDeliveriesReader is the export of ExportDeliveries as it comes:
// NDJSON, one delivery per line, for writing to a file. The caller closes
// it; a read error means the export was cut off.
func (c *Client) ExportDeliveriesReader(ctx context.Context, p *DeliveryListParams) (io.ReadCloser, error) {
	query := url.Values{}
	if p != nil {
		q := *p
		q.Limit = 0
		if err := encodeQuery(query, reflect.ValueOf(&q).Elem()); err != nil {
			return nil, fmt.Errorf("herald: export deliveries: %w", err)
		}
	}
	req, err := c.request(ctx, "list-deliveries", http.MethodGet, "/v1/deliveries", query, http.Header{"Accept": {"application/x-ndjson"}}, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("herald: export deliveries: %w", err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("herald: export deliveries: read the answer: %w", err)
		}
		return nil, fmt.Errorf("herald: export deliveries: %w", problem(resp, data))
	}
	return resp.Body, nil
}

// ListDeliveries lists the delivery log, newest first.
func (c *Client) ListDeliveries(ctx context.Context, p *DeliveryListParams) (*List[Delivery], error) {
	return listDeliveries.call(ctx, c, p, nil)
}

// GetDelivery gets a delivery with every attempt.
func (c *Client) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	return getDelivery.call(ctx, c, nil, nil, id)
}

// RetryDelivery sends a delivery again now, whatever its status; the
// receiver sees the same webhook-id.
func (c *Client) RetryDelivery(ctx context.Context, id string) (*Delivery, error) {
	return retryDelivery.call(ctx, c, nil, nil, id)
}
