package portal

import (
	"context"
	"net/http"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/store"
)

// Sign-ins and sign-outs are the portal's own changes (every other change
// is an API call, which the API records): the portal describes each in an
// audit entry that the session store writes with the session's row.

// audited returns r's context carrying the audit entry of a sign-in or
// sign-out of sess by the given actor.
func (p *Portal) audited(r *http.Request, sess *store.PortalSession, actorType, actorID, verb string) context.Context {
	resource, sc := "portal_session", domain.Scope{TenantID: sess.TenantID, Environment: sess.Environment}
	if sess.Operator {
		resource, sc = "console_session", domain.Scope{}
	}
	now := domain.Now()
	ua := r.UserAgent()
	if len(ua) > domain.MaxAuditUserAgent {
		ua = ua[:domain.MaxAuditUserAgent]
	}
	return store.WithAudit(r.Context(), &domain.AuditEntry{
		ID: domain.NewIDAt(domain.PrefixAudit, now), TenantID: sc.TenantID, Environment: sc.Environment, At: now,
		ActorType: actorType, ActorID: actorID, Action: resource + "." + verb, ResourceType: resource, ResourceID: sess.ID,
		ClientIP: limit.Client(r).String(), UserAgent: ua,
	})
}

// sessionActor is who a signed-in session acts as in the audit log.
func sessionActor(sess *store.PortalSession) string {
	if sess.Operator {
		return domain.ActorOperatorSession
	}
	return domain.ActorPortalSession
}
