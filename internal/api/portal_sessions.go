package api

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Portal sessions: the operator hands a tenant a sign-in link for the web
// portal, and the portal, acting for a signed-in browser, calls this API
// with the session's secret as its bearer token. A tenant session is
// treated like an API key of its tenant and environment (scope, operator-
// only refusals, rate limit); a console session like the operator token.

const (
	// PortalStartPath is where a sign-in link points; the portal serves it.
	PortalStartPath = "/portal/start"

	defaultPortalLinkTTL = time.Hour
	maxPortalLinkTTL     = 24 * time.Hour
)

type portalSessionBody struct {
	Environment string `json:"environment" enum:"sandbox,production" doc:"The environment the portal opens in; the tenant can switch to the other."`
	ExpiresIn   string `json:"expires_in,omitempty" doc:"How long the link can be used, as a duration (default 1h, at most 24h). Signing in with it opens a session of 8 hours." example:"1h"`
	ReturnURL   string `json:"return_url,omitempty" maxLength:"2048" doc:"Where the browser goes when the person signs out or the session ends, instead of Herald's sign-in page: an absolute https URL (http only on localhost and loopback addresses), such as the platform's dashboard." example:"https://dashboard.example.com/webhooks"`
}

type portalSessionInput struct {
	ID   string `path:"id"`
	Body portalSessionBody
	base string
}

// Resolve remembers the address the operator called, for the link: the
// portal is served by the same listener.
func (in *portalSessionInput) Resolve(ctx huma.Context) []error {
	scheme := "http"
	if ctx.TLS() != nil || strings.EqualFold(ctx.Header("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	in.base = scheme + "://" + ctx.Host()
	return nil
}

type portalSessionLink struct {
	URL         string             `json:"url" doc:"Open it in a browser to sign in; it works once." example:"https://herald.example.com/portal/start?token=hpt_…"`
	ExpiresAt   time.Time          `json:"expires_at" doc:"Until when the link works."`
	TenantID    string             `json:"tenant_id"`
	Environment domain.Environment `json:"environment"`
}

func (s *Server) createPortalSession(ctx context.Context, in *portalSessionInput) (*Body[portalSessionLink], error) {
	ps, ok := s.store.(store.PortalSessions)
	if !ok {
		return nil, huma.Error501NotImplemented("this store does not keep portal sessions")
	}
	if _, err := s.tenant(ctx, in.ID); err != nil {
		return nil, s.problem(err)
	}
	ttl := defaultPortalLinkTTL
	if in.Body.ExpiresIn != "" {
		d, err := time.ParseDuration(in.Body.ExpiresIn)
		if err != nil || d <= 0 || d > maxPortalLinkTTL {
			return nil, s.problem(domain.Invalid("expires_in", "%q is not a duration between 1s and 24h, such as 1h", in.Body.ExpiresIn))
		}
		ttl = d
	}
	returnURL, err := domain.ParseReturnURL(in.Body.ReturnURL)
	if err != nil {
		return nil, s.problem(err)
	}
	token, hash, err := credential.NewPortalToken()
	if err != nil {
		return nil, s.problem(err)
	}
	now := domain.Now()
	sess := &store.PortalSession{
		ID: domain.NewIDAt("pss", now), TenantID: in.ID, Environment: domain.Environment(in.Body.Environment),
		Environments: []domain.Environment{domain.Sandbox, domain.Production}, CreatedAt: now, ExpiresAt: now.Add(ttl),
		ReturnURL: returnURL,
	}
	changes := map[string]domain.FieldChange{"expires_at": {To: sess.ExpiresAt}, "environment": {To: sess.Environment}}
	if returnURL != "" {
		changes["return_url"] = domain.FieldChange{To: returnURL}
	}
	ctx = store.WithAudit(ctx, s.auditEntry(ctx, domain.Scope{TenantID: sess.TenantID, Environment: sess.Environment},
		"portal_session.created", "portal_session", sess.ID, changes))
	if err := ps.CreatePortalSession(ctx, sess, hash, nil); err != nil {
		return nil, s.problem(err)
	}
	return &Body[portalSessionLink]{Body: portalSessionLink{
		URL: in.base + PortalStartPath + "?token=" + url.QueryEscape(token), ExpiresAt: sess.ExpiresAt,
		TenantID: sess.TenantID, Environment: sess.Environment,
	}}, nil
}

// portalPrincipal resolves a portal session's secret: the operator for a
// console session (its id returned as console); for a tenant session, a
// stand-in key with the session's id and scope, so that every rule for
// keys applies to it.
func (s *Server) portalPrincipal(ctx context.Context, hash []byte) (key *domain.APIKey, console string, err error) {
	ps, ok := s.store.(store.PortalSessions)
	if !ok {
		return nil, "", &domain.NotFoundError{Kind: "portal session"}
	}
	sess, err := ps.PortalSession(ctx, hash, time.Now())
	if err != nil {
		return nil, "", err
	}
	if sess.Operator {
		return nil, sess.ID, nil
	}
	return &domain.APIKey{ID: sess.ID, TenantID: sess.TenantID, Environment: sess.Environment, Prefix: "portal", CreatedAt: sess.CreatedAt}, "", nil
}

// isPortalSession tells a session secret from an API key.
func isPortalSession(token string) bool {
	return strings.HasPrefix(token, credential.PortalSessionPrefix)
}
