package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Event is one published fact. A sensitive event's Data reads
// {"redacted":true}.
type Event struct {
	ID          string          `json:"id"`
	TenantID    string          `json:"tenant_id"`
	Environment string          `json:"environment"`
	Type        string          `json:"type"`
	Job         *EventJob       `json:"job,omitempty"`
	Final       bool            `json:"final,omitempty"`
	Test        bool            `json:"test,omitempty"`
	Data        json.RawMessage `json:"data"`
	Sensitive   bool            `json:"sensitive,omitempty"`
	ExpiresAt   *time.Time      `json:"expires_at,omitempty"`
	Timestamp   time.Time       `json:"timestamp"`
	// ErasedAt is when an erasure removed the event's data.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

// EventJob is the job an event is about.
type EventJob struct {
	ID            string          `json:"id"`
	Kind          string          `json:"kind,omitempty"`
	PartnerParams json.RawMessage `json:"partner_params,omitempty"`
}

// PublishEvent is an event to publish.
type PublishEvent struct {
	Type string `json:"type"`
	// Data is a JSON object, checked against the type's schema.
	Data  json.RawMessage `json:"data"`
	Job   *JobRef         `json:"job,omitempty"`
	Final bool            `json:"final,omitempty"`
	// IdempotencyKey makes a repeat with the same key and event return the
	// first result, for at least 24 hours. It travels as the
	// Idempotency-Key header of Publish, and in the body of PublishBatch.
	IdempotencyKey string `json:"-"`
}

// PublishResult is a published event.
type PublishResult struct {
	ID string `json:"id"`
	// Deliveries is how many endpoints will receive it.
	Deliveries int `json:"deliveries"`
	// Replayed says the idempotency key was used before: this is the
	// first publish's result.
	Replayed bool `json:"-"`
}

// EventListParams page through events, oldest first.
type EventListParams struct {
	// Cursor is where the previous page ended: its NextCursor.
	Cursor string `query:"after"`
	// Limit is the most items a page holds: 1 to 500; 0 means 50.
	Limit int `query:"limit"`
}

func (p *EventListParams) setCursor(c string) { p.Cursor = c }

// batchItem is a PublishEvent as a batch carries it: the idempotency key
// in the body.
type batchItem struct {
	PublishEvent
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

type batch struct {
	Events []batchItem `json:"events"`
}

type batchResult struct {
	PublishResult
	Replayed bool `json:"replayed,omitempty"`
}

var (
	publishEvent  = newRoute[none, PublishEvent, PublishResult]("publish-event", http.MethodPost, "/v1/events")
	publishEvents = newRoute[none, batch, List[batchResult]]("publish-events", http.MethodPost, "/v1/events/batch")
	listEvents    = newRoute[EventListParams, none, List[Event]]("list-events", http.MethodGet, "/v1/events")
	getEvent      = newRoute[none, none, Event]("get-event", http.MethodGet, "/v1/events/{id}")
)

// Publish publishes an event. Once it answers, the event and one delivery
// per subscribed endpoint are on disk.
func (c *Client) Publish(ctx context.Context, ev *PublishEvent) (*PublishResult, error) {
	var h http.Header
	if ev.IdempotencyKey != "" {
		h = http.Header{"Idempotency-Key": {ev.IdempotencyKey}}
	}
	out, answer, err := publishEvent.do(ctx, c, h, nil, ev)
	if err != nil {
		return nil, err
	}
	out.Replayed = answer.Get("Idempotent-Replayed") == "true"
	return out, nil
}

// PublishBatch publishes up to 1,000 events, all or none: when one is
// refused, nothing is published and the *Error names its field as
// body.events[i]…. The results are in the order of the events.
func (c *Client) PublishBatch(ctx context.Context, events []PublishEvent) ([]PublishResult, error) {
	in := &batch{Events: make([]batchItem, len(events))}
	for i, ev := range events {
		in.Events[i] = batchItem{PublishEvent: ev, IdempotencyKey: ev.IdempotencyKey}
	}
	out, err := publishEvents.call(ctx, c, nil, in)
	if err != nil {
		return nil, err
	}
	res := make([]PublishResult, len(out.Data))
	for i, r := range out.Data {
		res[i] = r.PublishResult
		res[i].Replayed = r.Replayed
	}
	return res, nil
}

// ListEvents lists the scope's events, oldest first.
func (c *Client) ListEvents(ctx context.Context, p *EventListParams) (*List[Event], error) {
	return listEvents.call(ctx, c, p, nil)
}

// GetEvent gets an event.
func (c *Client) GetEvent(ctx context.Context, id string) (*Event, error) {
	return getEvent.call(ctx, c, nil, nil, id)
}
