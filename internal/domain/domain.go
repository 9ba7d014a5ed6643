// Package domain holds Herald's nouns, their validation and their errors.
// It performs no I/O and imports nothing of Herald's.
package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Environment separates a tenant's test traffic from its live traffic.
type Environment string

const (
	Sandbox    Environment = "sandbox"
	Production Environment = "production"
)

// ParseEnvironment accepts exactly "sandbox" or "production".
func ParseEnvironment(s string) (Environment, error) {
	switch Environment(s) {
	case Sandbox, Production:
		return Environment(s), nil
	}
	return "", fmt.Errorf("environment %q is not one of sandbox, production", s)
}

// Scope is the tenant and environment that every tenant-owned row belongs to.
type Scope struct {
	TenantID    string
	Environment Environment
}

// Tenant is one of the platform's customers.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// EventType is a registered kind of event, optionally with a JSON Schema for its data.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
	// Sensitive types (one-time codes, session links) are never shown in
	// clear by the API or the delivery log once delivered.
	Sensitive bool `json:"sensitive,omitempty"`
	// TTLSeconds, when set, is how long an event of the type is worth
	// delivering; after it the event is not sent or retried.
	TTLSeconds int       `json:"ttl_seconds,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Endpoint statuses. Deliveries to a paused or disabled endpoint are held, not dropped.
const (
	EndpointActive   = "active"
	EndpointPaused   = "paused"
	EndpointDisabled = "disabled"
)

// Success modes decide which responses count as taken.
const (
	Success2xx       = "2xx"
	SuccessJSONOr204 = "json-or-204"
)

// Endpoint is a receiver URL and everything Herald needs to deliver to it.
type Endpoint struct {
	ID             string            `json:"id"`
	TenantID       string            `json:"tenant_id"`
	Environment    Environment       `json:"environment"`
	URL            string            `json:"url"`
	Name           string            `json:"name,omitempty"`
	Status         string            `json:"status"`
	DisabledReason string            `json:"disabled_reason,omitempty"`
	EventTypes     []string          `json:"event_types"`
	Headers        map[string]string `json:"headers,omitempty"`
	RetryPolicy    RetryPolicy       `json:"retry_policy"`
	TimeoutMS      int               `json:"timeout_ms"`
	MaxConcurrency int               `json:"max_concurrency"`
	Success        string            `json:"success"`
	// Secret is the signing secret (whsec_…). It is returned once, on creation.
	Secret    string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Endpoint defaults, from the field's leaders (see DESIGN.md).
const (
	DefaultTimeoutMS      = 15000
	MaxTimeoutMS          = 30000
	DefaultMaxConcurrency = 16
	MaxMaxConcurrency     = 256
)

// Subscribes reports whether the endpoint takes events of the given type:
// an empty filter takes everything, "a.*" takes every type under "a.".
func (e *Endpoint) Subscribes(eventType string) bool {
	return MatchesFilter(e.EventTypes, eventType)
}

// MatchesFilter applies an endpoint's event-type filter.
func MatchesFilter(filter []string, eventType string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if f == "*" || f == eventType {
			return true
		}
		if n := len(f); n >= 2 && f[n-2:] == ".*" && len(eventType) > n-1 && eventType[:n-1] == f[:n-1] {
			return true
		}
	}
	return false
}

// Job is the subject of an asynchronous verification; its events share it.
type Job struct {
	ID            string          `json:"id"`
	Kind          string          `json:"kind,omitempty"`
	PartnerParams json.RawMessage `json:"partner_params,omitempty"`
}

// Event is one published fact.
type Event struct {
	ID          string          `json:"id"`
	TenantID    string          `json:"tenant_id"`
	Environment Environment     `json:"environment"`
	Type        string          `json:"type"`
	Job         *Job            `json:"job,omitempty"`
	Final       bool            `json:"final,omitempty"`
	Data        json.RawMessage `json:"data"`
	CreatedAt   time.Time       `json:"timestamp"`
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
	DeliveryCancelled = "cancelled"
)

// Delivery is one event to one endpoint; the queue is made of these.
type Delivery struct {
	ID            string      `json:"id"`
	TenantID      string      `json:"tenant_id"`
	Environment   Environment `json:"environment"`
	EventID       string      `json:"event_id"`
	EventType     string      `json:"event_type"`
	EndpointID    string      `json:"endpoint_id"`
	Status        string      `json:"status"`
	Attempts      int         `json:"attempt_count"`
	NextAttemptAt *time.Time  `json:"next_attempt_at,omitempty"`
	LastStatus    int         `json:"last_response_status,omitempty"`
	LastError     string      `json:"last_error,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
	AttemptLog    []Attempt   `json:"attempts,omitempty"`
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	ID              string            `json:"id"`
	DeliveryID      string            `json:"delivery_id"`
	Number          int               `json:"number"`
	At              time.Time         `json:"at"`
	DurationMS      int64             `json:"duration_ms"`
	RequestHeaders  map[string]string `json:"request_headers,omitempty"`
	ResponseStatus  int               `json:"response_status,omitempty"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	ErrorClass      string            `json:"error_class,omitempty"`
	Error           string            `json:"error,omitempty"`
}

// MaxStoredResponseBody is how much of a receiver's answer the attempt log keeps.
const MaxStoredResponseBody = 16 << 10

// Errors the store and the API share.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// NotFoundError names what was missing.
type NotFoundError struct{ Kind, ID string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.ID) }
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// ConflictError explains why a write could not be applied.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }
func (e *ConflictError) Unwrap() error { return ErrConflict }

// ValidationError names the field that is wrong and why.
type ValidationError struct {
	Field string // JSON path, e.g. "url" or "retry_policy.delays[2]"
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

// Invalid builds a ValidationError.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
