// Package store defines the contract between Herald and its databases. The
// contract lives in this one file; each database has its own package beside
// it, and storetest holds the conformance suite every implementation passes.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// ErrUnavailable wraps failures of the database itself (connection lost,
// disk full), as opposed to a request that is wrong. The API answers 503.
var ErrUnavailable = errors.New("store unavailable")

// Store is everything Herald keeps. Every tenant-owned method takes a Scope
// and never returns rows of another scope.
type Store interface {
	// OperatorTokenHash returns the stored hash, or nil when none was set.
	OperatorTokenHash(ctx context.Context) ([]byte, error)
	SetOperatorTokenHash(ctx context.Context, hash []byte) error

	CreateTenant(ctx context.Context, t *domain.Tenant) error
	GetTenant(ctx context.Context, id string) (*domain.Tenant, error)
	ListTenants(ctx context.Context, p Page) ([]domain.Tenant, error)

	// PutEventType creates or replaces a type and reports whether it was new.
	PutEventType(ctx context.Context, t *domain.EventType) (created bool, err error)
	GetEventType(ctx context.Context, name string) (*domain.EventType, error)
	ListEventTypes(ctx context.Context) ([]domain.EventType, error)

	CreateEndpoint(ctx context.Context, e *domain.Endpoint) error
	GetEndpoint(ctx context.Context, s domain.Scope, id string) (*domain.Endpoint, error)
	ListEndpoints(ctx context.Context, s domain.Scope, p Page) ([]domain.Endpoint, error)
	// UpdateEndpoint replaces the mutable fields of an existing endpoint.
	UpdateEndpoint(ctx context.Context, e *domain.Endpoint) error
	// DeleteEndpoint removes the endpoint and cancels its pending deliveries.
	DeleteEndpoint(ctx context.Context, s domain.Scope, id string) error

	// Publish commits events, their jobs and one delivery per subscribed
	// endpoint in one transaction: all of them or none. An idempotency key
	// already used with the same request hash returns the first result with
	// Replayed set; with a different hash it is a domain.ConflictError.
	Publish(ctx context.Context, s domain.Scope, events []Publication) ([]PublishResult, error)
	GetEvent(ctx context.Context, s domain.Scope, id string) (*domain.Event, error)
	// ListEvents returns events oldest first, after the cursor (an event id).
	ListEvents(ctx context.Context, s domain.Scope, p Page) ([]domain.Event, error)

	// ListDeliveries returns deliveries newest first, before the cursor.
	ListDeliveries(ctx context.Context, s domain.Scope, f DeliveryFilter) ([]domain.Delivery, error)
	// GetDelivery returns the delivery with its attempt log, oldest attempt first.
	GetDelivery(ctx context.Context, s domain.Scope, id string) (*domain.Delivery, error)
	// RetryDelivery makes a delivery due now, whatever its status.
	RetryDelivery(ctx context.Context, s domain.Scope, id string, now time.Time) (*domain.Delivery, error)

	// Claim leases up to Limit due deliveries of active endpoints to Owner.
	// A lease that is not recorded or released before it ends makes the
	// delivery due again, which is how a crashed process's work is taken over.
	Claim(ctx context.Context, p ClaimParams) ([]Claimed, error)
	// EndpointsByID returns the named endpoints, with their signing secrets.
	EndpointsByID(ctx context.Context, ids []string) ([]domain.Endpoint, error)
	// Record writes the outcome of attempts, in one batch.
	Record(ctx context.Context, outcomes []Outcome) error
	// Release gives back leased deliveries that were never attempted.
	Release(ctx context.Context, owner string, deliveryIDs []string) error

	// Purge removes deliveries (with their attempts) and events created
	// before cutoff, and idempotency keys used before it, at most limit rows
	// of each kind per call. A pending delivery is never removed, nor its
	// event. It returns how many rows went.
	Purge(ctx context.Context, cutoff time.Time, limit int) (int, error)

	Close() error
}

// Page selects a slice of a list.
type Page struct {
	Cursor string
	Limit  int
}

// Publication is one event to publish.
type Publication struct {
	Event          domain.Event
	IdempotencyKey string
	// RequestHash identifies the request body that carried the key.
	RequestHash []byte
}

// PublishResult is what the publisher is told.
type PublishResult struct {
	EventID    string
	Deliveries int
	Replayed   bool
}

// DeliveryFilter narrows the delivery log.
type DeliveryFilter struct {
	Page
	EventID    string
	EndpointID string
	Status     string
	EventType  string
	Since      time.Time
	Until      time.Time
}

// ClaimParams bounds one claim.
type ClaimParams struct {
	Owner string
	Limit int
	Lease time.Duration
	Now   time.Time
	// SkipEndpoints are endpoints whose lanes are full: claiming their
	// deliveries now would only let the leases run down in a queue.
	SkipEndpoints []string
}

// Claimed is a leased delivery with the event it carries.
type Claimed struct {
	DeliveryID string
	EndpointID string
	// EndpointUpdatedAt lets the dispatcher tell whether its cached copy of
	// the endpoint is stale.
	EndpointUpdatedAt time.Time
	// Attempts made before this one.
	Attempts int
	Event    domain.Event
}

// Outcome is the result of one attempt and what follows from it.
type Outcome struct {
	DeliveryID string
	EndpointID string
	Scope      domain.Scope
	Attempt    domain.Attempt
	// Status is the delivery's new status: pending (to retry), succeeded or failed.
	Status        string
	NextAttemptAt time.Time
	// DisableEndpoint, when set, disables the endpoint with this reason (410 Gone).
	DisableEndpoint string
}

// Limits on list sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Clamp normalises a page size.
func (p Page) Clamp() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultPageSize
	}
	if p.Limit > MaxPageSize {
		p.Limit = MaxPageSize
	}
	return p
}
