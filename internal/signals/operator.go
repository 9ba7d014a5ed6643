package signals

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Operator is the operator webhook as the flags give it
// (--operator-webhook-url, --operator-webhook-secret).
type Operator struct {
	URL string
	// Secret signs its deliveries (whsec_…); empty keeps the one stored,
	// or makes one the first time.
	Secret string
	// HTTPSOnly refuses an http URL: the operator's scope is a production
	// one, and --production-https-only holds for it as for the tenants'.
	HTTPSOnly bool
}

// OperatorStore is the part of the store ConfigureOperator uses.
type OperatorStore interface {
	GetTenant(ctx context.Context, id string) (*domain.Tenant, error)
	CreateTenant(ctx context.Context, t *domain.Tenant) error
	GetEndpoint(ctx context.Context, s domain.Scope, id string) (*domain.Endpoint, error)
	CreateEndpoint(ctx context.Context, e *domain.Endpoint) error
	UpdateEndpoint(ctx context.Context, e *domain.Endpoint) error
}

// URLChecker is the SSRF guard deliveries leave through (egress.Client).
type URLChecker interface {
	CheckURL(ctx context.Context, raw string) error
}

// ConfigureOperator makes the operator's scope (domain.OperatorScope) what
// the flags say: its tenant and its one endpoint, subscribed to the
// operational events, at op.URL, signed with op.Secret (or the stored
// secret, or a new one, which it returns: shown once, like a generated
// operator token). Without a URL, an operator webhook set up before is
// disabled, so that nothing more is sent to it. Each change is recorded in
// the audit log as the operator's. Several processes may run it at once.
func ConfigureOperator(ctx context.Context, st OperatorStore, urls URLChecker, op Operator, now time.Time) (generated string, err error) {
	sc := domain.OperatorScope
	ep, err := st.GetEndpoint(ctx, sc, domain.OperatorEndpointID)
	if errors.Is(err, domain.ErrNotFound) {
		ep, err = nil, nil
	}
	if err != nil {
		return "", fmt.Errorf("read the operator webhook: %w", err)
	}
	if op.URL == "" {
		if ep == nil || ep.Status == domain.EndpointDisabled {
			return "", nil
		}
		before := operatorSnap(ep)
		ep.Status, ep.DisabledReason, ep.UpdatedAt = domain.EndpointDisabled, "--operator-webhook-url is not set", now
		return "", st.UpdateEndpoint(audited(ctx, "endpoint.disabled", before, operatorSnap(ep), now), ep)
	}
	if err := checkOperatorURL(ctx, urls, op); err != nil {
		return "", err
	}
	if op.Secret != "" {
		if _, err := credential.SigningSecret(op.Secret); err != nil {
			return "", fmt.Errorf("--operator-webhook-secret: %w", err)
		}
	}
	if err := ensureOperatorTenant(ctx, st, now); err != nil {
		return "", err
	}
	if ep == nil {
		secret := op.Secret
		if secret == "" {
			if secret, err = credential.SigningSecret(""); err != nil {
				return "", err
			}
		}
		e := domain.NewEndpoint(sc, secret, now)
		e.ID, e.Name, e.URL, e.EventTypes = domain.OperatorEndpointID, "Operator webhook", op.URL, slices.Clone(domain.SignalTypes)
		if err := e.RetryPolicy.Normalize(); err != nil {
			return "", err
		}
		err := st.CreateEndpoint(audited(ctx, "endpoint.created", domain.Snapshot{}, operatorSnap(e), now), e)
		if err == nil {
			if op.Secret == "" {
				generated = secret
			}
			return generated, nil
		}
		// Another process may have made it just now: then it is updated.
		if ep, _ = st.GetEndpoint(ctx, sc, domain.OperatorEndpointID); ep == nil {
			return "", fmt.Errorf("create the operator webhook: %w", err)
		}
	}
	before := operatorSnap(ep)
	ep.URL, ep.Status, ep.DisabledReason = op.URL, domain.EndpointActive, ""
	ep.EventTypes = slices.Clone(domain.SignalTypes)
	if op.Secret != "" {
		ep.Secret = op.Secret
	}
	changes := domain.Changes(before, operatorSnap(ep))
	if len(changes) == 0 {
		return "", nil
	}
	ep.UpdatedAt = now
	if err := st.UpdateEndpoint(audited(ctx, "endpoint.updated", before, operatorSnap(ep), now), ep); err != nil {
		return "", fmt.Errorf("update the operator webhook: %w", err)
	}
	return "", nil
}

// checkOperatorURL refuses a URL that is not absolute http(s), or that the
// SSRF guard would refuse at every delivery: better at start than never.
func checkOperatorURL(ctx context.Context, urls URLChecker, op Operator) error {
	raw := op.URL
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--operator-webhook-url %q: give an absolute http:// or https:// URL", safeURL(raw))
	}
	if op.HTTPSOnly && u.Scheme != "https" {
		return fmt.Errorf("--operator-webhook-url %s: give an https:// URL (or --no-production-https-only)", safeURL(raw))
	}
	if err := urls.CheckURL(ctx, raw); err != nil {
		return fmt.Errorf("--operator-webhook-url %s: %w (a private address needs --allow-cidr)", safeURL(raw), err)
	}
	return nil
}

// ensureOperatorTenant creates the operator's tenant unless it exists.
func ensureOperatorTenant(ctx context.Context, st OperatorStore, now time.Time) error {
	_, err := st.GetTenant(ctx, domain.OperatorTenantID)
	if !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	t := &domain.Tenant{ID: domain.OperatorTenantID, Name: "Herald operator (operational events)", CreatedAt: now}
	after, _ := domain.Snap(t, t)
	e := auditEntry(domain.Scope{TenantID: t.ID}, "tenant.created", "tenant", t.ID, domain.Changes(domain.Snapshot{}, after), now)
	err = st.CreateTenant(store.WithAudit(ctx, e), t)
	var conflict *domain.ConflictError
	if errors.As(err, &conflict) {
		return nil // another process made it just now
	}
	return err
}

// operatorSnap is what the audit log shows of the operator webhook: its
// URL, status, subscriptions and (masked) secret.
func operatorSnap(e *domain.Endpoint) domain.Snapshot {
	v := struct {
		URL        string   `json:"url"`
		Status     string   `json:"status"`
		EventTypes []string `json:"event_types"`
	}{e.URL, e.Status, e.EventTypes}
	sn, _ := domain.Snap(v, v)
	sn.SetSecret("secret", e.Secret)
	return sn
}

// audited is ctx with the audit entry of a change of the operator webhook,
// made by the operator through Herald's flags.
func audited(ctx context.Context, action string, before, after domain.Snapshot, now time.Time) context.Context {
	return store.WithAudit(ctx, auditEntry(domain.OperatorScope, action, "endpoint", domain.OperatorEndpointID,
		domain.Changes(before, after), now))
}

func auditEntry(sc domain.Scope, action, resourceType, resourceID string, changes map[string]domain.FieldChange, now time.Time) *domain.AuditEntry {
	return &domain.AuditEntry{
		ID: domain.NewIDAt(domain.PrefixAudit, now), TenantID: sc.TenantID, Environment: sc.Environment, At: now,
		ActorType: domain.ActorOperator, Action: action, ResourceType: resourceType, ResourceID: resourceID,
		UserAgent: "herald serve", Changes: changes,
	}
}
