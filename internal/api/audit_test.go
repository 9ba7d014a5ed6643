package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// auditOf returns the entries of the list with the action, failing the
// test unless there is exactly one.
func auditOne(t *testing.T, es []client.AuditEntry, action, resourceID string) client.AuditEntry {
	t.Helper()
	var found []client.AuditEntry
	for _, e := range es {
		if e.Action == action && (resourceID == "" || e.ResourceID == resourceID) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d entries %s of %q in %s", len(found), action, resourceID, dumpAudit(es))
	}
	return found[0]
}

func dumpAudit(es []client.AuditEntry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("\n  " + e.Action + " " + e.ResourceType + "/" + e.ResourceID + " by " + e.ActorType + "/" + e.ActorID)
	}
	return b.String()
}

// change is a field's from and to as JSON text ("" when absent).
func change(t *testing.T, e client.AuditEntry, field string) (from, to string) {
	t.Helper()
	c, ok := e.Changes[field]
	if !ok {
		t.Fatalf("%s: no change of %s in %v", e.Action, field, e.Changes)
	}
	return string(c.From), string(c.To)
}

func TestTheAuditLogRecordsEveryChangeWithItsActorAndNoSecret(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		// The operator calls as a command-line tool would: its user agent is recorded.
		op := client.New(h.URL, servertest.Token, client.WithUserAgent("herald-cli/1.2.3"))
		servertest.Must(op.CreateTenant(ctx, &client.TenantCreate{ID: "acme", Name: "Acme"}))(t)
		h.Tenant("globex")
		key := servertest.Must(op.CreateTenantAPIKey(ctx, "acme", "sandbox"))(t)
		globexKey := h.APIKey("globex", "sandbox")
		acme := client.New(h.URL, key.Key)
		rc := servertest.NewReceiver(t)

		const (
			signing   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			password  = "pw-s3cret-first-value"
			password2 = "pw-s3cret-second-value"
			header    = "hdr-s3cret-value-0123456789"
			option    = "po-s3cret-api-secret-value"
		)
		e := servertest.Must(acme.CreateEndpoint(ctx, &client.EndpointCreate{
			URL: rc.URL + "/a", Secret: signing, Headers: map[string]string{"X-Api-Key": header},
			Auth:    &client.EndpointAuth{Type: "basic", Username: "herald", Password: password},
			Profile: "smart-kyc", ProfileOptions: map[string]json.RawMessage{"api_secret": json.RawMessage(`"` + option + `"`)},
		}))(t)
		servertest.Must(acme.UpdateEndpoint(ctx, e.ID, &client.EndpointUpdate{URL: client.Ptr(rc.URL + "/b"),
			Auth: &client.EndpointAuth{Type: "basic", Username: "herald", Password: password2}}))(t)
		servertest.Must(acme.UpdateEndpoint(ctx, e.ID, &client.EndpointUpdate{Status: client.Ptr("paused")}))(t)
		servertest.Must(acme.UpdateEndpoint(ctx, e.ID, &client.EndpointUpdate{Status: client.Ptr("active")}))(t)
		rotated := servertest.Must(acme.RotateEndpointSecret(ctx, e.ID, &client.SecretRotation{}))(t)
		servertest.Must(acme.RecoverEndpoint(ctx, e.ID, &client.RecoverWindow{Since: time.Now().Add(-time.Hour)}))(t)
		next := servertest.Must(acme.RotateAPIKey(ctx, key.ID, &client.Rotation{}))(t)
		if err := acme.DeleteEndpoint(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		servertest.Must(op.UpdateTenant(ctx, "acme", &client.TenantUpdate{Name: client.Ptr("Acme Bank")}))(t)
		servertest.Must(op.PutEventType(ctx, "kyc.done", &client.EventTypePut{Description: "done"}))(t)
		link := servertest.Must(op.CreatePortalSession(ctx, "acme", &client.PortalSessionCreate{Environment: "sandbox"}))(t)
		if err := op.WithScope("acme", "sandbox").RevokeAPIKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}

		// The tenant's view: its own scope, newest first.
		mine := servertest.Must(client.New(h.URL, next.Key).ListAuditLog(ctx, &client.AuditLogParams{ListParams: client.ListParams{Limit: 500}}))(t).Data
		created := auditOne(t, mine, "endpoint.created", e.ID)
		if created.ActorType != "api_key" || created.ActorID != key.ID || created.ClientIP != "127.0.0.1" ||
			!strings.HasPrefix(created.UserAgent, "herald-go-client") || created.TenantID != "acme" || created.Environment != "sandbox" {
			t.Fatalf("endpoint.created %+v", created)
		}
		if _, to := change(t, created, "secret"); to != `"****"` {
			t.Fatalf("the new endpoint's secret is recorded as %s", to)
		}
		if _, to := change(t, created, "headers"); to != `{"X-Api-Key":"****"}` {
			t.Fatalf("custom headers are recorded as %s", to)
		}
		if _, to := change(t, created, "profile_options"); to != `{"api_secret":"****"}` {
			t.Fatalf("profile options are recorded as %s", to)
		}
		updated := auditOne(t, mine, "endpoint.updated", e.ID)
		if from, to := change(t, updated, "url"); from != `"`+rc.URL+`/a"` || to != `"`+rc.URL+`/b"` {
			t.Fatalf("url change %s -> %s", from, to)
		}
		if _, to := change(t, updated, "auth"); !strings.Contains(to, `"password":"****"`) {
			t.Fatalf("a changed password is recorded as %s", to)
		}
		if _, ok := updated.Changes["status"]; ok {
			t.Fatalf("fields that did not change are recorded: %v", updated.Changes)
		}
		paused := auditOne(t, mine, "endpoint.paused", e.ID)
		if from, to := change(t, paused, "status"); from != `"active"` || to != `"paused"` {
			t.Fatalf("pause %s -> %s", from, to)
		}
		auditOne(t, mine, "endpoint.resumed", e.ID)
		auditOne(t, mine, "endpoint.secret_rotated", e.ID)
		auditOne(t, mine, "endpoint.recovered", e.ID)
		auditOne(t, mine, "endpoint.deleted", e.ID)
		if rot := auditOne(t, mine, "api_key.rotated", key.ID); rot.ActorID != key.ID {
			t.Fatalf("rotation %+v", rot)
		} else if _, to := change(t, rot, "replaced_by"); to != `"`+next.ID+`"` {
			t.Fatalf("rotation replaced_by %s", to)
		}
		issued := auditOne(t, mine, "api_key.created", key.ID)
		if issued.ActorType != "operator" || issued.ActorID != "" || issued.UserAgent != "herald-cli/1.2.3" {
			t.Fatalf("the key's issue %+v", issued)
		}
		auditOne(t, mine, "api_key.revoked", key.ID)
		ps := auditOne(t, mine, "portal_session.created", "")
		if ps.ActorType != "operator" || !strings.HasPrefix(ps.ResourceID, "pss_") {
			t.Fatalf("portal session %+v", ps)
		}
		for _, e := range mine {
			if e.TenantID != "acme" || e.Environment != "sandbox" {
				t.Fatalf("the acme sandbox key sees %+v", e)
			}
		}

		// The operator's view: all, and by filter.
		all := servertest.Must(op.ListAuditLog(ctx, &client.AuditLogParams{ListParams: client.ListParams{Limit: 500}}))(t).Data
		tu := auditOne(t, all, "tenant.updated", "acme")
		if from, to := change(t, tu, "name"); from != `"Acme"` || to != `"Acme Bank"` || tu.Environment != "" {
			t.Fatalf("tenant.updated %+v", tu)
		}
		auditOne(t, all, "tenant.created", "acme")
		if et := auditOne(t, all, "event_type.created", "kyc.done"); et.TenantID != "" {
			t.Fatalf("event types belong to no tenant: %+v", et)
		}
		byResource := servertest.Must(op.ListAuditLog(ctx, &client.AuditLogParams{ResourceType: "endpoint", ResourceID: e.ID, Action: "endpoint.paused"}))(t).Data
		if len(byResource) != 1 {
			t.Fatalf("filtered by resource and action: %s", dumpAudit(byResource))
		}
		byActor := servertest.Must(op.ListAuditLog(ctx, &client.AuditLogParams{Actor: key.ID, Tenant: "acme", Environment: "sandbox"}))(t).Data
		if len(byActor) != 8 { // the endpoint's 7 changes and the key's rotation
			t.Fatalf("the key's own changes: %s", dumpAudit(byActor))
		}
		window := servertest.Must(op.ListAuditLog(ctx, &client.AuditLogParams{Since: time.Now().Add(time.Hour)}))(t).Data
		if len(window) != 0 {
			t.Fatalf("entries from the future: %s", dumpAudit(window))
		}

		// Another tenant's key sees none of it, and may not ask for it.
		theirs := client.New(h.URL, globexKey.Key)
		got := servertest.Must(theirs.ListAuditLog(ctx, nil))(t).Data
		if len(got) != 1 || got[0].Action != "api_key.created" || got[0].ResourceID != globexKey.ID {
			t.Fatalf("globex sees more than its own key's issue: %s", dumpAudit(got))
		}
		servertest.Refused(t, func() error { _, err := theirs.ListAuditLog(ctx, &client.AuditLogParams{Tenant: "acme"}); return err }(), http.StatusForbidden)
		servertest.Refused(t, func() error {
			_, err := theirs.ListAuditLog(ctx, &client.AuditLogParams{ResourceID: e.ID, Environment: "production"})
			return err
		}(), http.StatusForbidden)

		// No secret anywhere in the log, as stored and as answered.
		raw := h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/audit-log?limit=500"}).Body
		for name, secret := range map[string]string{
			"signing secret": signing, "rotated signing secret": rotated.Secret, "password": password, "new password": password2,
			"header value": header, "profile secret option": option, "api key": key.Key, "rotated api key": next.Key,
			"operator token": servertest.Token, "portal link token": link.URL[strings.Index(link.URL, "hpt_"):],
		} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("the audit log holds the %s", name)
			}
		}
	})
}

func TestTheAuditLogExportsAsNDJSONPageByPage(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		for _, id := range []string{"a1", "a2", "a3", "a4", "a5"} {
			h.Tenant(id)
		}
		r := h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/audit-log?limit=2", Headers: map[string]string{"Accept": "application/x-ndjson"}})
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
			t.Fatalf("content type %q", ct)
		}
		var lines []client.AuditEntry
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		for sc.Scan() {
			var e client.AuditEntry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, e)
		}
		if len(lines) != 2 || lines[0].Action != "tenant.created" || lines[0].ResourceID != "a5" || r.Header.Get("Herald-Next-Cursor") != lines[1].ID {
			t.Fatalf("first page %+v, next %q", lines, r.Header.Get("Herald-Next-Cursor"))
		}
		// The client follows the pages to the end.
		var out bytes.Buffer
		n := servertest.Must(h.Client.ExportAuditLog(t.Context(), &client.AuditLogParams{ListParams: client.ListParams{Limit: 2}}, &out))(t)
		got := strings.Split(strings.TrimSpace(out.String()), "\n")
		if n != 5 || len(got) != 5 || !strings.Contains(got[4], `"resource_id":"a1"`) {
			t.Fatalf("export of %d entries: %s", n, out.String())
		}
		// Without the header, or with any type: JSON, as every list.
		for _, accept := range []string{"", "*/*", "application/json"} {
			var page client.AuditLog
			r := h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/audit-log?limit=2", Headers: map[string]string{"Accept": accept}})
			r.JSON(t, &page)
			if len(page.Data) != 2 || page.NextCursor == "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("Accept %q: %s %+v", accept, r.Header.Get("Content-Type"), page)
			}
		}
	})
}
