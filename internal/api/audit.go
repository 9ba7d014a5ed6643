package api

import (
	"context"
	"encoding/json"
	"io"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// The audit log: every change made through the API is recorded by the
// store method that makes it, in the same transaction (store.WithAudit).
// A handler describes the change (audited) before it calls the store.

// audited returns ctx carrying the audit entry of a change the caller is
// about to make: who (the principal), from where, what and the changed
// fields (before and after, secrets masked by domain.Changes).
func (s *Server) audited(ctx context.Context, sc domain.Scope, action, resourceType, resourceID string, before, after domain.Snapshot) context.Context {
	return store.WithAudit(ctx, s.auditEntry(ctx, sc, action, resourceType, resourceID, domain.Changes(before, after)))
}

func (s *Server) auditEntry(ctx context.Context, sc domain.Scope, action, resourceType, resourceID string, changes map[string]domain.FieldChange) *domain.AuditEntry {
	p := principalFrom(ctx)
	now := domain.Now()
	e := &domain.AuditEntry{
		ID: domain.NewIDAt(domain.PrefixAudit, now), TenantID: sc.TenantID, Environment: sc.Environment, At: now,
		ActorType: domain.ActorOperator, Action: action, ResourceType: resourceType, ResourceID: resourceID,
		ClientIP: p.client, UserAgent: clip(p.userAgent, domain.MaxAuditUserAgent), Changes: changes,
	}
	switch {
	case p.key != nil && p.session:
		e.ActorType, e.ActorID = domain.ActorPortalSession, p.key.ID
	case p.key != nil:
		e.ActorType, e.ActorID = domain.ActorAPIKey, p.key.ID
	case p.consoleSession != "":
		e.ActorType, e.ActorID = domain.ActorOperatorSession, p.consoleSession
	}
	return e
}

// snap is a snapshot of a value without secrets (raw and shown alike).
func snap(v any) domain.Snapshot {
	sn, err := domain.Snap(v, v)
	if err != nil {
		// Only Herald's own types pass here; they always marshal.
		panic(err)
	}
	return sn
}

// endpointSnap is an endpoint as stored and as shown, with its signing
// secret (never shown) as a field of its own. The log is stricter than an
// answer: every custom header's value is masked, whatever its name, since
// the log outlives the person who set it.
func endpointSnap(e *domain.Endpoint) domain.Snapshot {
	sh := shown(e)
	if len(e.Headers) > 0 {
		sh.Headers = make(map[string]string, len(e.Headers))
		for k := range e.Headers {
			sh.Headers[k] = domain.Masked
		}
	}
	sn, err := domain.Snap(e, sh)
	if err != nil {
		panic(err)
	}
	sn.SetSecret("secret", e.Secret)
	return sn
}

// clip cuts s to at most n bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// auditLogInput selects entries of the audit log.
type auditLogInput struct {
	PageParams
	Tenant       string    `query:"tenant" maxLength:"64" doc:"Operator only: the entries of this tenant. A key sees its own tenant's only."`
	Environment  string    `query:"environment" enum:"sandbox,production" doc:"Operator only: the entries of this environment. A key sees its own environment's only."`
	ResourceType string    `query:"resource_type" maxLength:"64" doc:"tenant, api_key, endpoint, event_type or portal_session." example:"endpoint"`
	ResourceID   string    `query:"resource_id" maxLength:"200"`
	Actor        string    `query:"actor" maxLength:"200" doc:"The id of the API key or the portal or console session that made the change."`
	ActorType    string    `query:"actor_type" enum:"operator,operator_session,api_key,portal_session"`
	Action       string    `query:"action" maxLength:"64" example:"endpoint.updated"`
	Since        time.Time `query:"since" doc:"Made at or after (RFC 3339)."`
	Until        time.Time `query:"until" doc:"Made before (RFC 3339)."`
}

// AuditLog is a page of the audit log, newest first.
type AuditLog struct {
	List[domain.AuditEntry]
}

// auditLogOutput carries the page in the body and, for NDJSON, where the
// next page starts in a header (an NDJSON body is entries only).
type auditLogOutput struct {
	NextCursor string `header:"Herald-Next-Cursor" doc:"Where the next page starts (as cursor); absent on the last page. Also in next_cursor of a JSON body."`
	Body       *AuditLog
}

func (s *Server) listAuditLog(ctx context.Context, in *auditLogInput) (*auditLogOutput, error) {
	f := store.AuditFilter{
		Page: in.page(), TenantID: in.Tenant, Environment: domain.Environment(in.Environment),
		ResourceType: in.ResourceType, ResourceID: in.ResourceID, ActorID: in.Actor, ActorType: in.ActorType, Action: in.Action,
		Since: in.Since, Until: in.Until,
	}
	if k := principalFrom(ctx).key; k != nil {
		// A key (or a portal session) reads its own scope's entries only.
		if in.Tenant != "" && in.Tenant != k.TenantID || in.Environment != "" && domain.Environment(in.Environment) != k.Environment {
			return nil, huma.Error403Forbidden("an API key reads its own tenant's and environment's audit log only; leave out tenant and environment")
		}
		f.Scoped, f.TenantID, f.Environment = true, k.TenantID, k.Environment
	}
	es, err := s.store.ListAudit(ctx, f)
	if err != nil {
		return nil, s.problem(err)
	}
	l := listOf(es, f.Limit, func(e *domain.AuditEntry) string { return e.ID })
	return &auditLogOutput{NextCursor: l.NextCursor, Body: &AuditLog{List: *l}}, nil
}

// ndjsonType is the media type of the audit log's export: one entry a line.
const ndjsonType = "application/x-ndjson"

// ndjsonFormat writes the audit log one entry a line when a client asks
// for application/x-ndjson. Any other answer (an error, another
// operation's body) is one line of JSON, which is NDJSON too.
var ndjsonFormat = huma.Format{
	Marshal: func(w io.Writer, v any) error {
		enc := json.NewEncoder(w)
		if l, ok := v.(*AuditLog); ok {
			for i := range l.Data {
				if err := enc.Encode(&l.Data[i]); err != nil {
					return err
				}
			}
			return nil
		}
		return enc.Encode(v)
	},
	Unmarshal: json.Unmarshal,
}

// declareNDJSON adds the NDJSON form of the audit log's answer to the
// document: huma describes the JSON one only.
func declareNDJSON(api huma.API) {
	op := api.OpenAPI().Paths["/v1/audit-log"].Get
	ok := op.Responses["200"]
	entry := api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[domain.AuditEntry](), true, "AuditEntry")
	ok.Content[ndjsonType] = &huma.MediaType{Schema: entry}
}
