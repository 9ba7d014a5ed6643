// Package manage carries out what a tenant or the operator asks of Herald
// when it is more than one read or write of the store: building an event
// from what a publisher gave (its type's schema, its job), test sends,
// signing secret and API key rotations, recovery of an endpoint's failed
// deliveries, event types and jobs. The HTTP API calls it after parsing
// and scoping a request; the portal or a command line can call it too, and
// the same rules hold whoever asks. Its errors are domain errors
// (ValidationError, NotFoundError, ConflictError) or the store's.
package manage

import (
	"context"
	"errors"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// URLChecker validates a destination when it is saved (the SSRF guard).
type URLChecker interface {
	CheckURL(ctx context.Context, raw string) error
}

// Sender attempts one delivery now and records it.
type Sender interface {
	SendNow(ctx context.Context, deliveryID string) (store.Outcome, error)
}

// Config is what the rules need from the process.
type Config struct {
	Store store.Store
	URLs  URLChecker
	// ProductionHTTPSOnly refuses http destinations in production.
	ProductionHTTPSOnly bool
	// Sender attempts a delivery at once (test sends).
	Sender Sender
	// Wake tells the dispatcher that deliveries are due now.
	Wake func()
}

// Manager applies the rules. It keeps compiled event type schemas for a
// few seconds, so one Manager per process serves every caller.
type Manager struct {
	cfg     Config
	store   store.Store
	schemas *schemaCache
}

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	return &Manager{cfg: cfg, store: cfg.Store, schemas: newSchemaCache(cfg.Store)}
}

// CheckURL validates a destination URL for an environment: the SSRF guard,
// and HTTPS in production when Herald is configured to require it. field
// names the URL in the validation error.
func (m *Manager) CheckURL(ctx context.Context, env domain.Environment, field, raw string) (string, error) {
	u := strings.TrimSpace(raw)
	if err := m.cfg.URLs.CheckURL(ctx, u); err != nil {
		return "", domain.Invalid(field, "%v", err)
	}
	if env == domain.Production && m.cfg.ProductionHTTPSOnly && !strings.HasPrefix(strings.ToLower(u), "https://") {
		return "", domain.Invalid(field, "production destinations must use https (sandbox may use http)")
	}
	return u, nil
}

// jobCallbackURL checks a job's own callback URL. It borrows the default
// callback endpoint's secret and settings, so without one it could never
// be sent to: refused now rather than ignored later.
func (m *Manager) jobCallbackURL(ctx context.Context, sc domain.Scope, field, raw string) (string, error) {
	u, err := m.CheckURL(ctx, sc.Environment, field, raw)
	if err != nil {
		return "", err
	}
	if _, err := m.store.DefaultCallback(ctx, sc); errors.Is(err, domain.ErrNotFound) {
		return "", domain.Invalid(field, "this environment has no default callback endpoint; a job's URL is signed with its secret and sent with its settings (PUT /v1/default-callback)")
	} else if err != nil {
		return "", err
	}
	return u, nil
}
