package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// EventType is a kind of event, such as verification.approved.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
	Sensitive   bool            `json:"sensitive,omitempty"`
	TTLSeconds  int             `json:"ttl_seconds,omitempty"`
	// RetryPolicy, when set, replaces the endpoints' own for events of
	// the type.
	RetryPolicy *RetryPolicy `json:"retry_policy,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// EventTypePut registers or replaces an event type.
type EventTypePut struct {
	Description string `json:"description,omitempty"`
	// Schema is a JSON Schema that every event's data must satisfy.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Example is data for test sends; it must satisfy the schema.
	Example json.RawMessage `json:"example,omitempty"`
	// Sensitive data is never shown by the API and is erased once delivered.
	Sensitive bool `json:"sensitive,omitempty"`
	// TTLSeconds: an event older than this is no longer delivered; 0: no limit.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
	// RetryPolicy, when set, replaces the endpoints' own for events of the
	// type; the TTL still ends the retries.
	RetryPolicy *RetryPolicy `json:"retry_policy,omitempty"`
}

var (
	putEventType   = newRoute[none, EventTypePut, EventType]("put-event-type", http.MethodPut, "/v1/event-types/{name}")
	listEventTypes = newRoute[none, none, List[EventType]]("list-event-types", http.MethodGet, "/v1/event-types")
	getEventType   = newRoute[none, none, EventType]("get-event-type", http.MethodGet, "/v1/event-types/{name}")
)

// PutEventType registers or replaces an event type. Operator only.
func (c *Client) PutEventType(ctx context.Context, name string, in *EventTypePut) (*EventType, error) {
	return putEventType.call(ctx, c, nil, in, name)
}

// ListEventTypes lists every event type; the list has one page.
func (c *Client) ListEventTypes(ctx context.Context) (*List[EventType], error) {
	return listEventTypes.call(ctx, c, nil, nil)
}

// GetEventType gets an event type.
func (c *Client) GetEventType(ctx context.Context, name string) (*EventType, error) {
	return getEventType.call(ctx, c, nil, nil, name)
}
