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

// ErrDiskFull wraps a write refused because the database's disk (or
// PostgreSQL's) is full; errors that wrap it wrap ErrUnavailable too.
var ErrDiskFull = errors.New("the database's disk is full")

// Store is everything Herald keeps. Every tenant-owned method takes a Scope
// and never returns rows of another scope.
type Store interface {
	// OperatorTokenHash returns the stored hash, or nil when none was set.
	OperatorTokenHash(ctx context.Context) ([]byte, error)
	SetOperatorTokenHash(ctx context.Context, hash []byte) error

	CreateTenant(ctx context.Context, t *domain.Tenant) error
	GetTenant(ctx context.Context, id string) (*domain.Tenant, error)
	ListTenants(ctx context.Context, p Page) ([]domain.Tenant, error)
	// UpdateTenant replaces a tenant's name and rate limits.
	UpdateTenant(ctx context.Context, t *domain.Tenant) error

	CreateAPIKey(ctx context.Context, k *domain.APIKey, hash []byte) error
	// APIKeyByHash finds a key by the hash of its secret, whatever its state.
	APIKeyByHash(ctx context.Context, hash []byte) (*domain.APIKey, error)
	ListAPIKeys(ctx context.Context, s domain.Scope) ([]domain.APIKey, error)
	// RotateAPIKey creates next and makes the old key expire at oldExpiresAt,
	// together.
	RotateAPIKey(ctx context.Context, s domain.Scope, oldID string, oldExpiresAt time.Time, next *domain.APIKey, nextHash []byte) error
	RevokeAPIKey(ctx context.Context, s domain.Scope, id string, at time.Time) error
	// TouchAPIKey records a use; callers throttle it.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error

	// PutEventType creates or replaces a type and reports whether it was new.
	PutEventType(ctx context.Context, t *domain.EventType) (created bool, err error)
	GetEventType(ctx context.Context, name string) (*domain.EventType, error)
	ListEventTypes(ctx context.Context) ([]domain.EventType, error)

	CreateEndpoint(ctx context.Context, e *domain.Endpoint) error
	GetEndpoint(ctx context.Context, s domain.Scope, id string) (*domain.Endpoint, error)
	ListEndpoints(ctx context.Context, s domain.Scope, p Page) ([]domain.Endpoint, error)
	// UpdateEndpoint replaces the mutable fields of an existing endpoint,
	// secrets included. Marking it the default callback unmarks the
	// scope's previous one.
	UpdateEndpoint(ctx context.Context, e *domain.Endpoint) error
	// DefaultCallback returns the scope's default callback endpoint.
	DefaultCallback(ctx context.Context, s domain.Scope) (*domain.Endpoint, error)
	// RecoverDeliveries makes an endpoint's failed deliveries created in
	// [since, until) due now and reports how many.
	RecoverDeliveries(ctx context.Context, s domain.Scope, endpointID string, since, until, now time.Time) (int, error)
	// DeleteEndpoint removes the endpoint and cancels its pending deliveries.
	DeleteEndpoint(ctx context.Context, s domain.Scope, id string) error
	// EndpointHealth returns an endpoint's breaker state and its latest
	// health changes, newest first.
	EndpointHealth(ctx context.Context, s domain.Scope, id string, history int) (*domain.EndpointHealth, error)
	// ExpirePaused cancels the pending deliveries of paused endpoints
	// created before cutoff, at most limit of them, scrubbing the data of
	// sensitive events left with none pending, and reports how many.
	ExpirePaused(ctx context.Context, cutoff, now time.Time, limit int) (int, error)

	// Publish commits events, their jobs and one delivery per subscribed
	// endpoint in one transaction: all of them or none. An idempotency key
	// already used with the same request hash returns the first result with
	// Replayed set; with a different hash it is a domain.ConflictError.
	Publish(ctx context.Context, s domain.Scope, events []Publication) ([]PublishResult, error)
	GetEvent(ctx context.Context, s domain.Scope, id string) (*domain.Event, error)
	// ListEvents returns events oldest first, after the cursor (an event id).
	ListEvents(ctx context.Context, s domain.Scope, p Page) ([]domain.Event, error)

	// PutJob creates or updates a job ahead of its events.
	PutJob(ctx context.Context, s domain.Scope, j *domain.Job, now time.Time) (*domain.JobRecord, error)
	GetJob(ctx context.Context, s domain.Scope, id string) (*domain.JobRecord, error)
	ListJobs(ctx context.Context, s domain.Scope, f JobFilter) ([]domain.JobRecord, error)
	// JobEvents returns a job's events oldest first, after the cursor.
	JobEvents(ctx context.Context, s domain.Scope, jobID string, p Page) ([]domain.Event, error)

	// ListDeliveries returns deliveries newest first, before the cursor.
	ListDeliveries(ctx context.Context, s domain.Scope, f DeliveryFilter) ([]domain.Delivery, error)
	// GetDelivery returns the delivery with its attempt log, oldest attempt first.
	GetDelivery(ctx context.Context, s domain.Scope, id string) (*domain.Delivery, error)
	// RetryDelivery makes a delivery due now, whatever its status.
	RetryDelivery(ctx context.Context, s domain.Scope, id string, now time.Time) (*domain.Delivery, error)
	// RetryDeliveries makes the oldest f.Limit deliveries the filter
	// selects due now, as RetryDelivery does each (those in flight and
	// those whose endpoint was deleted are left), and reports how many.
	RetryDeliveries(ctx context.Context, s domain.Scope, f DeliveryFilter, now time.Time) (int, error)

	// Claim leases up to Limit due deliveries of active endpoints to Owner,
	// oldest due first within each endpoint and at most ClaimRounds rounds
	// of an endpoint's max_concurrency from one claim, so that endpoints
	// share the claims; once other owners hold live leases of an endpoint,
	// no more than its max_concurrency less every owner's live leases, so
	// that the processes on one database keep to it together. A lease that is not recorded or released before it ends makes
	// the delivery due again, which is how a crashed process's work is taken
	// over.
	Claim(ctx context.Context, p ClaimParams) ([]Claimed, error)
	// EndpointsByID returns the named endpoints, with their signing secrets.
	EndpointsByID(ctx context.Context, ids []string) ([]domain.Endpoint, error)
	// Record writes the outcome of attempts, in one batch.
	Record(ctx context.Context, outcomes []Outcome) error
	// Release gives back leased deliveries that were never attempted.
	Release(ctx context.Context, owner string, deliveryIDs []string) error
	// TakeTokens takes up to want tokens from the bucket b, which every
	// process on the database shares, and reports how many it took and the
	// tokens left, in whole tokens and a part. A bucket never taken from
	// is full.
	TakeTokens(ctx context.Context, b TokenBucket, want int, now time.Time) (took int, left float64, err error)

	// ListAudit returns audit log entries newest first, before the cursor
	// (an entry id), narrowed by the filter.
	ListAudit(ctx context.Context, f AuditFilter) ([]domain.AuditEntry, error)

	// Purge removes deliveries (with their attempts), events, audit log and
	// endpoint health history entries created before cutoff, jobs unchanged
	// since before it once their events are gone, idempotency keys used
	// before it, and token buckets untouched since and full again by then,
	// at most limit rows of each kind per call. A pending delivery is never removed, nor its
	// event. It returns how many rows went.
	Purge(ctx context.Context, cutoff time.Time, limit int) (int, error)

	// Erase removes the personal data of what sel matches in s (see
	// domain.Erasure), in bounded batches, and keeps r as the receipt
	// with its counts filled in; the audit entry attached to ctx is
	// written with the receipt. Erasing again what is erased is harmless.
	Erase(ctx context.Context, s domain.Scope, sel domain.ErasureSelector, r *domain.Erasure) error
	// ListErasures returns receipts newest first, before the cursor.
	ListErasures(ctx context.Context, f ErasureFilter) ([]domain.Erasure, error)

	// Backlog counts the pending deliveries of each tenant's environment
	// and finds the oldest one's creation time; with byEndpoint, of each
	// endpoint instead. It reads the pending rows only (the queue's partial
	// index), so its cost follows the backlog, never the history; the
	// metrics call it at most every few seconds, with a timeout.
	Backlog(ctx context.Context, byEndpoint bool) ([]BacklogGroup, error)
	// Schema reaches the database and reports the migration version it is
	// at and the latest this binary knows; they differ while another
	// process migrates, or when the database was rolled back or dropped.
	Schema(ctx context.Context) (SchemaVersion, error)

	Close() error
}

// BacklogGroup is the pending deliveries of one tenant's environment, or
// of one endpoint of it.
type BacklogGroup struct {
	TenantID    string
	Environment domain.Environment
	// EndpointID is empty unless the backlog was asked by endpoint.
	EndpointID string
	Pending    int
	// OldestCreatedAt is when the oldest pending delivery was created.
	OldestCreatedAt time.Time
}

// SchemaVersion is where the database's migrations stand.
type SchemaVersion struct {
	Current, Latest int64
}

// Applied reports whether every migration this binary knows is applied.
func (v SchemaVersion) Applied() bool { return v.Current >= v.Latest }

// Sealer encrypts endpoint secrets at rest (internal/secrets.Box). A store
// is opened with one; without one, secrets are stored as given.
type Sealer interface {
	Seal(plaintext string) (string, error)
	Open(stored string) (string, error)
}

// Page selects a slice of a list.
type Page struct {
	Cursor string
	Limit  int
}

// Publication is one event to publish.
type Publication struct {
	Event domain.Event
	// OnlyEndpoint restricts the fan-out to one endpoint (test sends).
	OnlyEndpoint   string
	IdempotencyKey string
	// RequestHash identifies the request body that carried the key.
	RequestHash []byte
}

// PublishResult is what the publisher is told.
type PublishResult struct {
	EventID    string
	Deliveries int
	Replayed   bool
	// HandedOff is how many of the deliveries went leased to this
	// process's dispatcher at publish (Handoff): nobody needs waking for
	// them.
	HandedOff int
}

// Handoff is a dispatcher of the publishing process that takes new
// deliveries at publish. A delivery it has room for is inserted already
// leased to it and handed over with its event once the publish commits,
// so that it is never claimed: no claim's update of its row, no read of
// its event. It is what a claim would have given the dispatcher, and
// what it cannot take (no room, another dispatcher that could hold
// leases, an endpoint paused, with a rate limit, per-job order or a
// circuit not closed) waits in the queue for a claim as before.
type Handoff interface {
	// Lease is the lease a delivery handed over now carries: its owner,
	// the dispatcher's clock's now, and when the lease ends.
	Lease() (owner string, now, until time.Time)
	// Reserve asks for room for one delivery to the endpoint, whose
	// max_concurrency is given; false is no room.
	Reserve(endpointID string, concurrency int) bool
	// Unreserve gives back room reserved for deliveries that were not
	// committed, one endpoint id per delivery.
	Unreserve(endpointIDs []string)
	// Deliver hands over committed deliveries, each once, with their
	// events; the dispatcher sends and records them as claimed ones.
	Deliver(claimed []Claimed)
}

// DeliveryFilter narrows the delivery log.
type DeliveryFilter struct {
	Page
	EventID string
	// EventIDs selects the deliveries of several events.
	EventIDs   []string
	EndpointID string
	Status     string
	EventType  string
	Since      time.Time
	Until      time.Time
}

// AuditFilter narrows the audit log. Scoped keeps the entries of
// TenantID and Environment exactly (a tenant key's view); otherwise empty
// fields do not filter (the operator's).
type AuditFilter struct {
	Page
	Scoped       bool
	TenantID     string
	Environment  domain.Environment
	ResourceType string
	ResourceID   string
	ActorID      string
	ActorType    string
	Action       string
	Since        time.Time
	Until        time.Time
}

// ErasureFilter narrows the erasure receipts; empty fields do not filter.
type ErasureFilter struct {
	Page
	TenantID    string
	Environment domain.Environment
}

type auditKey struct{}

// WithAudit attaches the audit log entry of a change to ctx. The store
// method that makes the change writes it in the change's own transaction,
// so that a change is never committed without its entry nor an entry
// without its change. Methods that change configuration (tenants, keys,
// event types, endpoints, portal sessions) do so; called without an entry
// (the dispatcher disabling an endpoint, tests) they write none. The entry
// travels in the context rather than as a parameter so that every such
// method keeps its signature and its callers that record nothing.
func WithAudit(ctx context.Context, e *domain.AuditEntry) context.Context {
	return context.WithValue(ctx, auditKey{}, e)
}

// AuditFrom returns the entry attached by WithAudit, or nil.
func AuditFrom(ctx context.Context) *domain.AuditEntry {
	e, _ := ctx.Value(auditKey{}).(*domain.AuditEntry)
	return e
}

// ClaimRounds is how many rounds of an endpoint's max_concurrency one claim
// takes at most. One round leaves a lane that empties between two claims
// idle; two keep it busy while the next claim waits for the single writer,
// and still share a claim between endpoints.
const ClaimRounds = 2

// ClaimParams bounds one claim.
type ClaimParams struct {
	Owner string
	Limit int
	Lease time.Duration
	Now   time.Time
	// Skip, when set, is asked about each endpoint with due deliveries as
	// the claim runs, and true leaves that endpoint's deliveries in the
	// queue: its lane is full, and claiming more now would only let their
	// leases run down in a queue. It is asked then, not when the claim is
	// made, because a claim may wait (for SQLite's one writer, behind a
	// flood of publishes) while the lane empties: a decision taken before
	// the wait would leave an idle lane without work until the next claim.
	// It must be quick and must not use the store.
	Skip func(endpointID string) bool
	// DeliveryIDs, when set, claims only these (if due): a test send.
	DeliveryIDs []string
}

// JobFilter narrows the job list.
type JobFilter struct {
	Page
	UpdatedSince time.Time
	Final        *bool
	// UpdatedBefore keeps the jobs changed before it.
	UpdatedBefore time.Time
	// Kind keeps the jobs of this kind; Status those whose last event is
	// of this type.
	Kind, Status string
	// PartnerParam keeps the jobs whose partner params hold this value
	// (exactly) as a top-level string or whole number, under any key.
	PartnerParam string
	// Newest pages from the job changed last instead of the first.
	Newest bool
}

// Claimed is a leased delivery with the event it carries.
type Claimed struct {
	DeliveryID string
	EndpointID string
	// TargetURL replaces the endpoint's URL (a job's own callback).
	TargetURL string
	// Attempts made before this one.
	Attempts int
	// SignedAt is when the first attempt was signed; zero before it.
	SignedAt time.Time
	Event    domain.Event
	// LeaseUntil is when the lease this claim took ends.
	LeaseUntil time.Time
	// TakenOver is set when the delivery was leased before and that lease
	// ran out with no outcome recorded: a process crashed or stalled.
	TakenOver bool
	// EndpointUpdatedAt is the endpoint's UpdatedAt as the claim found it,
	// zero when the claim did not read it (a claim of named deliveries, an
	// endpoint that is gone): the dispatcher keeps the endpoint it
	// prepared while this matches, and reads it again when it does not.
	EndpointUpdatedAt time.Time
	// OrderedJob is the job whose order the delivery keeps at its endpoint
	// (domain.OrderingJob); "" for an unordered one.
	OrderedJob string
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
	// SignedAt is the instant the attempt was signed at; the delivery
	// keeps its first attempt's.
	SignedAt time.Time
	// DisableEndpoint, when set, disables the endpoint with this reason (410 Gone).
	DisableEndpoint string
	// EventID and Scrub: a sensitive event's data is erased once none of
	// its deliveries is pending any more.
	EventID string
	Scrub   bool
	// OrderedJob is the job whose order the delivery keeps
	// (Claimed.OrderedJob): recording the outcome lets the job's next
	// delivery go, or holds it behind the retry.
	OrderedJob string
	// Breaker, when set, counts the attempt toward its endpoint's health
	// under this policy (the circuit breaker, and disabling after failing
	// for too long); without it only DisableEndpoint changes the endpoint.
	Breaker *domain.Breaker
	// Changes is filled in by Record: the changes of the endpoint's health
	// this outcome made (the dispatcher signals them).
	Changes []domain.HealthChange
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
