package store

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// The portal's own needs are kept out of Store: the delivery pipeline and
// the API never use them, and a store that lacks them still runs Herald,
// without the web pages. Both SQL stores implement them; callers assert.

// StatsReader answers the aggregate questions of the portal's charts and
// the operator's health page. Every query reads a bounded, recent window
// through existing indexes (ids are time-ordered, so "since t" is an id
// range), never the whole history.
type StatsReader interface {
	// DeliveryCounts counts the scope's deliveries created in [since, since
	// + n*bucket) by bucket, endpoint and state, for the 24-hour chart and
	// the endpoints' success rates.
	DeliveryCounts(ctx context.Context, s domain.Scope, since time.Time, bucket time.Duration, n int) ([]DeliveryCount, error)
	// Health describes the whole installation at now: attempts in each of
	// the last minutes, the backlog and the endpoints that are failing or
	// disabled.
	Health(ctx context.Context, now time.Time, minutes int) (*Health, error)
}

// DeliveryCount is the deliveries of one endpoint created in one bucket.
type DeliveryCount struct {
	Bucket     int
	EndpointID string
	Succeeded  int
	// Failed counts deliveries given up on (failed) and those whose last
	// attempt failed and that wait for a retry: both mean the receiver is
	// not taking them.
	Failed int
	// Waiting counts pending deliveries not yet attempted.
	Waiting   int
	Cancelled int
}

// Attempted is the number of deliveries that have an outcome to judge.
func (c DeliveryCount) Attempted() int { return c.Succeeded + c.Failed }

// Health is the operator's view of the installation.
type Health struct {
	// Minutes holds attempts per minute, oldest first; the last is the
	// current, partial minute.
	Minutes []MinuteCount
	// Pending deliveries, Due of them now (the backlog), and when the
	// oldest pending delivery was created.
	Pending, Due  int
	OldestPending *time.Time
	OldestDue     *time.Time
	// Endpoints that failed in the last 24 hours, most failures first, and
	// every disabled endpoint.
	Failing  []EndpointHealth
	Disabled []EndpointHealth
	// Open are the endpoints whose circuit breaker is open or half-open.
	Open []EndpointHealth
}

// MinuteCount is one minute of attempts.
type MinuteCount struct {
	Start    time.Time
	Attempts int
	Failed   int
}

// EndpointHealth is an endpoint and how its recent deliveries went.
type EndpointHealth struct {
	ID             string
	TenantID       string
	Environment    domain.Environment
	Name           string
	URL            string
	Status         string
	DisabledReason string
	Succeeded      int
	Failed         int
	LastError      string

	// Circuit is the endpoint's circuit breaker state (domain.Circuit…).
	Circuit string
}

// PortalSessions keeps the browser sessions of the tenant portal and the
// operator console. Only SHA-256 hashes of the one-time sign-in token and of
// the session secret are stored.
type PortalSessions interface {
	// CreatePortalSession stores a session under the hash of its one-time
	// token (a sign-in link, not yet used) or of its secret (a session
	// already signed in); the other hash is nil. Long-expired sessions are
	// removed on the way.
	CreatePortalSession(ctx context.Context, s *PortalSession, tokenHash, secretHash []byte) error
	// RedeemPortalSession exchanges an unused, unexpired one-time token for
	// a session secret, once: the token stops working and the session
	// lasts until expiresAt. An unknown, used or expired token is a
	// domain.NotFoundError.
	RedeemPortalSession(ctx context.Context, tokenHash, secretHash []byte, now, expiresAt time.Time) (*PortalSession, error)
	// PortalSession returns the live session with this secret: signed in,
	// not ended, not expired, and, when it was opened with an API key,
	// that key still usable. Anything else is a domain.NotFoundError.
	PortalSession(ctx context.Context, secretHash []byte, now time.Time) (*PortalSession, error)
	// EndPortalSession ends a session (sign-out, or a switch of
	// environment that replaced it).
	EndPortalSession(ctx context.Context, id string, at time.Time) error
	// EndedPortalSession returns the session with this secret, live or
	// not, while its row is kept: where to send a browser whose session
	// is over. An unknown secret is a domain.NotFoundError.
	EndedPortalSession(ctx context.Context, secretHash []byte) (*PortalSession, error)
}

// PortalSession is one browser's sign-in.
type PortalSession struct {
	ID string
	// Operator marks a console session; it has no tenant.
	Operator    bool
	TenantID    string
	Environment domain.Environment
	// Environments are those the session may switch to: both for a link
	// the operator issued, only its own for an API-key sign-in.
	Environments []domain.Environment
	// APIKeyID is the key a tenant signed in with; the session ends with it.
	APIKeyID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	// ReturnURL is where the browser goes when the session ends or signs
	// out ("" for the portal's sign-in page): the platform's own pages.
	ReturnURL string
}

// Scope is the tenant and environment a tenant session acts in.
func (s *PortalSession) Scope() domain.Scope {
	return domain.Scope{TenantID: s.TenantID, Environment: s.Environment}
}

// Allows reports whether the session may act in an environment.
func (s *PortalSession) Allows(env domain.Environment) bool {
	for _, e := range s.Environments {
		if e == env {
			return true
		}
	}
	return false
}
