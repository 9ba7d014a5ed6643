package portal

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/client"

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

// auditFilter is the audit page's filter form, as given.
type auditFilter struct {
	Tenant, ResourceType, ResourceID, Action, Actor string
}

// auditView is a page of the audit log.
type auditView struct {
	F       auditFilter
	Console bool
	Rows    []client.AuditEntry
	Error   string
	// Next is the address of the next page, filters kept (empty on the
	// last page). A template.URL, built by url.Values: the template would
	// otherwise escape its = and &.
	Next template.URL
}

// auditResourceTypes are the kinds of resource the log records, for the
// filter.
var auditResourceTypes = []string{"endpoint", "api_key", "portal_session", "tenant", "event_type", "console_session", "erasure"}

// audit lists the audit log: in the portal, the session's own tenant and
// environment (the API scopes the session's calls); in the console, every
// tenant's or the one asked for.
func (p *Portal) audit(w http.ResponseWriter, r *http.Request, st *state) {
	q := r.URL.Query()
	v := auditView{Console: st.sess.Operator, F: auditFilter{ResourceType: q.Get("resource_type"), ResourceID: strings.TrimSpace(q.Get("resource_id")),
		Action: strings.TrimSpace(q.Get("action")), Actor: strings.TrimSpace(q.Get("actor"))}}
	params := &client.AuditLogParams{ListParams: client.ListParams{Limit: 50, Cursor: q.Get("cursor")},
		ResourceType: v.F.ResourceType, ResourceID: v.F.ResourceID, Action: v.F.Action, Actor: v.F.Actor}
	if v.Console {
		v.F.Tenant = strings.TrimSpace(q.Get("tenant"))
		params.Tenant = v.F.Tenant
	}
	l, err := st.api.ListAuditLog(r.Context(), params)
	if ae := problem(err); ae != nil && ae.Status == http.StatusUnprocessableEntity {
		v.Error = detail(ae)
	} else if err != nil {
		p.fail(w, r, st, err)
		return
	} else {
		v.Rows = l.Data
		if l.NextCursor != "" {
			next := url.Values{"cursor": {l.NextCursor}}
			for k, val := range map[string]string{"tenant": v.F.Tenant, "resource_type": v.F.ResourceType, "resource_id": v.F.ResourceID, "action": v.F.Action, "actor": v.F.Actor} {
				if val != "" {
					next.Set(k, val)
				}
			}
			v.Next = template.URL(v.Path() + "?" + next.Encode()) //nolint:gosec // url.Values encodes every value

		}
	}
	p.show(w, r, st, "audit.html", "audit", "Audit log", v)
}

// ResourceTypes lists the kinds of resource, for the filter.
func (auditView) ResourceTypes() []string { return auditResourceTypes }

// Path is where the page is served: the console's or the portal's.
func (v auditView) Path() string {
	if v.Console {
		return "/console/audit"
	}
	return "/portal/audit"
}
