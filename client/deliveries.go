package client

import (
	"context"
	"net/http"
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
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
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
	// ErrorClass is timeout, dns, connect, tls, blocked or http.
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
	listDeliveries = newRoute[DeliveryListParams, none, List[Delivery]]("list-deliveries", http.MethodGet, "/v1/deliveries")
	getDelivery    = newRoute[none, none, Delivery]("get-delivery", http.MethodGet, "/v1/deliveries/{id}")
	retryDelivery  = newRoute[none, none, Delivery]("retry-delivery", http.MethodPost, "/v1/deliveries/{id}/retry")
)

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
