package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// AuditEntry is one change in the audit log: who made it, what, when,
// from where and the fields it changed (secrets shown as "****").
type AuditEntry struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenant_id,omitempty"`
	Environment string    `json:"environment,omitempty"`
	At          time.Time `json:"at"`
	// ActorType is operator, operator_session, api_key or portal_session.
	ActorType string `json:"actor_type"`
	// ActorID is the API key or the portal or console session; empty for
	// the operator token.
	ActorID      string                 `json:"actor_id,omitempty"`
	Action       string                 `json:"action"`
	ResourceType string                 `json:"resource_type"`
	ResourceID   string                 `json:"resource_id,omitempty"`
	ClientIP     string                 `json:"client_ip,omitempty"`
	UserAgent    string                 `json:"user_agent,omitempty"`
	Changes      map[string]FieldChange `json:"changes,omitempty"`
}

// FieldChange is a field's value before and after a change, as JSON.
type FieldChange struct {
	From json.RawMessage `json:"from,omitempty"`
	To   json.RawMessage `json:"to,omitempty"`
}

// AuditLog is a page of the audit log, newest first.
type AuditLog = List[AuditEntry]

// AuditLogParams page through the audit log and filter it; zero fields do
// not filter. Tenant and Environment are for the operator: a key reads its
// own scope only.
type AuditLogParams struct {
	ListParams
	Tenant       string    `query:"tenant"`
	Environment  string    `query:"environment"`
	ResourceType string    `query:"resource_type"`
	ResourceID   string    `query:"resource_id"`
	Actor        string    `query:"actor"`
	ActorType    string    `query:"actor_type"`
	Action       string    `query:"action"`
	Since        time.Time `query:"since"`
	Until        time.Time `query:"until"`
}

var listAuditLog = newRoute[AuditLogParams, none, AuditLog]("list-audit-log", http.MethodGet, "/v1/audit-log")

// ListAuditLog lists a page of the audit log, newest first.
func (c *Client) ListAuditLog(ctx context.Context, p *AuditLogParams) (*AuditLog, error) {
	return listAuditLog.call(ctx, c, p, nil)
}

// ndjsonPage is an NDJSON answer, kept as it came.
type ndjsonPage struct{ bytes.Buffer }

// ExportAuditLog writes every entry p selects to w, one JSON object a
// line (NDJSON), newest first, following the pages from p.Cursor on. It
// returns how many entries it wrote.
func (c *Client) ExportAuditLog(ctx context.Context, p *AuditLogParams, w io.Writer) (int, error) {
	q := AuditLogParams{}
	if p != nil {
		q = *p
	}
	n := 0
	for {
		query, err := queryOf(&q)
		if err != nil {
			return n, fmt.Errorf("herald: list-audit-log: %w", err)
		}
		var page ndjsonPage
		h, err := c.send(ctx, listAuditLog.id, listAuditLog.method, listAuditLog.path, query,
			http.Header{"Accept": {"application/x-ndjson"}}, nil, &page)
		if err != nil {
			return n, err
		}
		n += bytes.Count(page.Bytes(), []byte{'\n'})
		if _, err := w.Write(page.Bytes()); err != nil {
			return n, err
		}
		next := h.Get("Herald-Next-Cursor")
		if next == "" {
			return n, nil
		}
		q.Cursor = next
	}
}
