package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

const operatorToken = "test-operator-token"

// newAPI builds Herald's API on a real SQLite file, with a dispatcher for
// test sends; the one place these tests construct it.
func newAPI(t *testing.T) http.Handler {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log := slog.New(slog.DiscardHandler)
	out := egress.New(egress.Options{AllowPrivate: true})
	sum := sha256.Sum256([]byte(operatorToken))
	h, _ := api.New(api.Config{
		Store: st, OperatorTokenHash: sum[:], URLs: out, Logger: log,
		Sender: dispatch.New(st, out, dispatch.Config{Logger: log}),
	})
	return h
}

// both runs a test with an operator's client of a fresh API, reached over
// a real socket and in process through HandlerTransport.
func both(t *testing.T, test func(t *testing.T, operator *client.Client)) {
	t.Run("over HTTP", func(t *testing.T) {
		srv := httptest.NewServer(newAPI(t))
		t.Cleanup(srv.Close)
		test(t, client.New(srv.URL, operatorToken))
	})
	t.Run("in process", func(t *testing.T) {
		hc := &http.Client{Transport: client.HandlerTransport(newAPI(t))}
		test(t, client.New("http://herald.test", operatorToken, client.WithHTTPClient(hc)))
	})
}

// acme creates the tenant acme and returns op acting for it in env.
func acme(t *testing.T, op *client.Client, env string) *client.Client {
	t.Helper()
	must(op.CreateTenant(t.Context(), &client.TenantCreate{ID: "acme", Name: "Acme"}))(t)
	return op.WithScope("acme", env)
}

// receiver is a webhook receiver that takes everything.
func receiver(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// must(f())(t) is f's value, failing the test if f failed.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// apiError is err's *client.Error, failing the test when there is none.
func apiError(t *testing.T, err error, status int) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *client.Error with status %d, got %v", status, err)
	}
	if e.Status != status {
		t.Fatalf("status %d, want %d: %v", e.Status, status, e)
	}
	return e
}

func TestAnOperatorSetsUpATenantPublishesAndReadsTheLog(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		tn := must(op.CreateTenant(ctx, &client.TenantCreate{ID: "acme", Name: "Acme Bank"}))(t)
		if tn.ID != "acme" || tn.Name != "Acme Bank" || tn.CreatedAt.IsZero() {
			t.Fatalf("tenant: %+v", tn)
		}
		tn = must(op.UpdateTenant(ctx, "acme", &client.TenantUpdate{RateLimitPerMinute: client.Ptr(500)}))(t)
		if tn.RateLimitPerMinute != 500 || tn.Name != "Acme Bank" {
			t.Fatalf("updated tenant: %+v", tn)
		}
		if got := must(op.GetTenant(ctx, "acme"))(t); got.RateLimitPerMinute != 500 {
			t.Fatalf("got tenant: %+v", got)
		}
		if ts := must(op.ListTenants(ctx, nil))(t); len(ts.Data) != 1 || ts.Data[0].ID != "acme" || ts.NextCursor != "" {
			t.Fatalf("tenants: %+v", ts)
		}

		sc := op.WithScope("acme", client.Sandbox)
		ep := must(sc.CreateEndpoint(ctx, &client.EndpointCreate{
			URL: receiver(t), Name: "main", EventTypes: []string{"verification.*"},
			RetryPolicy: &client.RetryPolicy{Preset: "once"},
		}))(t)
		if !strings.HasPrefix(ep.Secret, "whsec_") || ep.Status != client.EndpointActive || ep.TimeoutMS != 15000 ||
			ep.RetryPolicy.Preset != "once" || ep.TenantID != "acme" || ep.Environment != client.Sandbox {
			t.Fatalf("endpoint: %+v", ep)
		}

		pub := must(sc.Publish(ctx, &client.PublishEvent{
			Type: "verification.approved", Data: json.RawMessage(`{"status": "approved"}`),
			Job: &client.JobRef{ID: "job_1", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}, Final: true,
		}))(t)
		if !strings.HasPrefix(pub.ID, "evt_") || pub.Deliveries != 1 || pub.Replayed {
			t.Fatalf("publish: %+v", pub)
		}
		ev := must(sc.GetEvent(ctx, pub.ID))(t)
		if ev.Type != "verification.approved" || string(ev.Data) != `{"status":"approved"}` || !ev.Final ||
			ev.Job == nil || ev.Job.ID != "job_1" || string(ev.Job.PartnerParams) != `{"user_id":"u-1"}` {
			t.Fatalf("event: %+v", ev)
		}
		ds := must(sc.ListDeliveries(ctx, &client.DeliveryListParams{EventID: pub.ID, Status: client.DeliveryPending}))(t)
		if len(ds.Data) != 1 || ds.Data[0].EndpointID != ep.ID || ds.Data[0].EventType != "verification.approved" {
			t.Fatalf("deliveries: %+v", ds)
		}
		d := must(sc.RetryDelivery(ctx, ds.Data[0].ID))(t)
		if d.ID != ds.Data[0].ID || d.Status != client.DeliveryPending {
			t.Fatalf("retried: %+v", d)
		}

		sent := must(sc.TestEndpoint(ctx, ep.ID, &client.TestSend{EventType: "verification.approved", Data: json.RawMessage(`{"x":1}`)}))(t)
		if sent.Status != client.DeliverySucceeded || sent.ResponseStatus != http.StatusNoContent || sent.DeliveryID == "" {
			t.Fatalf("test send: %+v", sent)
		}
		d = must(sc.GetDelivery(ctx, sent.DeliveryID))(t)
		if !d.Test || d.AttemptCount != 1 || len(d.Attempts) != 1 || d.Attempts[0].ResponseStatus != http.StatusNoContent ||
			d.Attempts[0].RequestHeaders["webhook-id"] != sent.EventID {
			t.Fatalf("test delivery: %+v", d)
		}
		j := must(sc.GetJob(ctx, "job_1"))(t)
		if !j.Final || string(j.PartnerParams) != `{"user_id":"u-1"}` || len(j.Events) != 1 || len(j.Events[0].Deliveries) != 1 {
			t.Fatalf("job: %+v", j)
		}
		if js := must(sc.ListJobs(ctx, &client.JobListParams{Final: client.Ptr(false)}))(t); len(js.Data) != 0 {
			t.Fatalf("unfinished jobs: %+v", js)
		}
		if js := must(sc.ListJobs(ctx, &client.JobListParams{Final: client.Ptr(true), UpdatedSince: time.Now().Add(-time.Hour)}))(t); len(js.Data) != 1 {
			t.Fatalf("finished jobs: %+v", js)
		}
	})
}

func TestAllWalksEveryPageAndStopsWhenTheLoopDoes(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		sc := acme(t, op, client.Production)
		evs := make([]client.PublishEvent, 7)
		for i := range evs {
			evs[i] = client.PublishEvent{Type: "aml.hit", Data: json.RawMessage(`{}`)}
		}
		pubs := must(sc.PublishBatch(ctx, evs))(t)
		if len(pubs) != 7 {
			t.Fatalf("published %d", len(pubs))
		}

		pages := 0
		list := func(ctx context.Context, p *client.EventListParams) (*client.List[client.Event], error) {
			pages++
			return sc.ListEvents(ctx, p)
		}
		params := &client.EventListParams{Limit: 3}
		var ids []string
		for ev, err := range client.All(ctx, list, params) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
		}
		want := make([]string, len(pubs))
		for i, p := range pubs {
			want[i] = p.ID
		}
		// Oldest first; a last page of one item, and one empty page after
		// a full one would be a fourth call.
		if !slices.Equal(ids, want) || pages != 3 {
			t.Fatalf("walked %v in %d pages, want %v in 3", ids, pages, want)
		}
		if params.Cursor != "" {
			t.Fatalf("All changed the caller's params: %+v", params)
		}

		pages = 0
		for range client.All(ctx, list, &client.EventListParams{Limit: 3}) {
			break
		}
		if pages != 1 {
			t.Fatalf("a loop that stopped at once fetched %d pages", pages)
		}

		var got []client.Tenant
		for tn, err := range client.All(ctx, op.ListTenants, nil) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, tn)
		}
		if len(got) != 1 || got[0].ID != "acme" {
			t.Fatalf("tenants: %+v", got)
		}
	})
}

func TestAllEndsWithTheErrorOfAFailedPage(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		var n int
		for _, err := range client.All(t.Context(), op.ListDeliveries, &client.DeliveryListParams{}) {
			n++
			apiError(t, err, http.StatusBadRequest)
		}
		if n != 1 {
			t.Fatalf("%d items, want the error alone", n)
		}
	})
}

func TestARefusedRequestIsAnErrorNamingItsFields(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		sc := acme(t, op, client.Sandbox)

		_, err := sc.CreateEndpoint(ctx, &client.EndpointCreate{
			URL: receiver(t), RetryPolicy: &client.RetryPolicy{Delays: []string{"5s", "soon"}},
		})
		e := apiError(t, err, http.StatusUnprocessableEntity)
		if len(e.Errors) != 1 || e.Errors[0].Location != "body.retry_policy.delays[1]" || e.Errors[0].Field() != "retry_policy" {
			t.Fatalf("errors: %+v", e.Errors)
		}
		if f := e.Fields(); len(f) != 1 || !strings.Contains(f["retry_policy"], `"soon"`) {
			t.Fatalf("fields: %v", f)
		}
		if !strings.Contains(err.Error(), "create-endpoint") || !strings.Contains(err.Error(), "body.retry_policy.delays[1]") {
			t.Fatalf("message: %v", err)
		}

		// huma's own validation, before the handler: a batch's item.
		_, err = sc.PublishBatch(ctx, []client.PublishEvent{{Type: "a.b", Data: json.RawMessage(`{}`)}, {Type: "", Data: json.RawMessage(`{}`)}})
		e = apiError(t, err, http.StatusUnprocessableEntity)
		if e.Fields()["events"] == "" {
			t.Fatalf("fields of a refused batch: %v (%+v)", e.Fields(), e.Errors)
		}

		// Not the body: the scope headers are missing.
		_, err = op.ListEndpoints(ctx, nil)
		e = apiError(t, err, http.StatusBadRequest)
		if len(e.Errors) != 1 || e.Errors[0].Location != "header.Herald-Tenant" || e.Fields()[""] != "required" {
			t.Fatalf("missing scope: %+v, fields %v", e, e.Fields())
		}
	})
}

func TestAMissingResourceIsA404Error(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		_, err := acme(t, op, client.Sandbox).GetEndpoint(ctx, "ep_missing")
		e := apiError(t, err, http.StatusNotFound)
		if e.Title != "Not Found" || !strings.Contains(e.Detail, "ep_missing") {
			t.Fatalf("404: %+v", e)
		}
		_, err = op.GetTenant(ctx, "nobody")
		apiError(t, err, http.StatusNotFound)
	})
}

func TestATenantKeyIsScopedLimitedAndRevocable(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		must(op.CreateTenant(ctx, &client.TenantCreate{ID: "acme", Name: "Acme", RateLimitPerMinute: 1, RateLimitBurst: 1}))(t)
		k := must(op.CreateTenantAPIKey(ctx, "acme", client.Sandbox))(t)
		if !strings.HasPrefix(k.Key, "hk_sandbox_") || k.TenantID != "acme" || !strings.HasPrefix(k.Key, k.Prefix) {
			t.Fatalf("key: %+v", k)
		}
		tenant := op.WithToken(k.Key)
		keys := must(tenant.ListAPIKeys(ctx))(t)
		if len(keys.Data) != 1 || keys.Data[0].ID != k.ID {
			t.Fatalf("keys: %+v", keys)
		}
		_, err := tenant.CreateTenant(ctx, &client.TenantCreate{Name: "Other"})
		apiError(t, err, http.StatusForbidden)
		_, err = tenant.GetEgressIPs(ctx)
		e := apiError(t, err, http.StatusTooManyRequests)
		if e.RetryAfter < time.Second || e.RetryAfter > time.Minute {
			t.Fatalf("Retry-After: %s", e.RetryAfter)
		}

		sc := op.WithScope("acme", client.Sandbox)
		rotated := must(sc.RotateAPIKey(ctx, k.ID, &client.Rotation{GracePeriod: "1h"}))(t)
		if rotated.Key == k.Key || rotated.ID == k.ID {
			t.Fatalf("rotated: %+v", rotated)
		}
		another := must(sc.CreateAPIKey(ctx))(t)
		if err := sc.RevokeAPIKey(ctx, another.ID); err != nil {
			t.Fatal(err)
		}
		_, err = op.WithToken(another.Key).ListAPIKeys(ctx)
		apiError(t, err, http.StatusUnauthorized)
	})
}

func TestEndpointActionsAndPartialUpdates(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		sc := acme(t, op, client.Sandbox)
		ep := must(sc.CreateEndpoint(ctx, &client.EndpointCreate{
			URL: receiver(t), EventTypes: []string{"verification.*"}, Headers: map[string]string{"X-Team": "kyc"},
		}))(t)

		// nil fields are left alone ...
		up := must(sc.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{Name: client.Ptr("renamed"), Status: client.Ptr(client.EndpointPaused)}))(t)
		if up.Name != "renamed" || up.Status != client.EndpointPaused || !slices.Equal(up.EventTypes, []string{"verification.*"}) || up.Headers["X-Team"] != "kyc" {
			t.Fatalf("updated: %+v", up)
		}
		// ... and empty ones are sent, to clear.
		up = must(sc.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{EventTypes: []string{}, Headers: map[string]string{}}))(t)
		if len(up.EventTypes) != 0 || len(up.Headers) != 0 || up.Name != "renamed" {
			t.Fatalf("cleared: %+v", up)
		}

		rs := must(sc.RotateEndpointSecret(ctx, ep.ID, nil))(t)
		if !strings.HasPrefix(rs.Secret, "whsec_") || rs.Secret == ep.Secret || time.Until(rs.PreviousSecretExpiresAt) < 23*time.Hour {
			t.Fatalf("rotated secret: %+v", rs)
		}
		if n := must(sc.RecoverEndpoint(ctx, ep.ID, &client.RecoverWindow{Since: time.Now().Add(-time.Hour)}))(t); n != 0 {
			t.Fatalf("recovered %d", n)
		}
		def := must(sc.SetDefaultCallback(ctx, ep.ID))(t)
		if !def.DefaultCallback {
			t.Fatalf("default callback: %+v", def)
		}
		if got := must(sc.GetDefaultCallback(ctx))(t); got.ID != ep.ID {
			t.Fatalf("default callback: %+v", got)
		}
		job := must(sc.PutJob(ctx, &client.JobRef{ID: "job_2", CallbackURL: receiver(t)}))(t)
		if job.CallbackURL == "" || job.Environment != client.Sandbox {
			t.Fatalf("job: %+v", job)
		}
		if eps := must(sc.ListEndpoints(ctx, &client.ListParams{Limit: 1}))(t); len(eps.Data) != 1 || eps.NextCursor != ep.ID {
			t.Fatalf("endpoints: %+v", eps)
		}
		if err := sc.DeleteEndpoint(ctx, ep.ID); err != nil {
			t.Fatal(err)
		}
		_, err := sc.GetEndpoint(ctx, ep.ID)
		apiError(t, err, http.StatusNotFound)
		if ips := must(sc.GetEgressIPs(ctx))(t); ips.IPs == nil || ips.Proxy {
			t.Fatalf("egress: %+v", ips)
		}
	})
}

func TestEventTypesAndIdempotentPublishes(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		et := must(op.PutEventType(ctx, "kyc.done", &client.EventTypePut{
			Description: "done", Schema: json.RawMessage(`{"type":"object","required":["ok"]}`), Example: json.RawMessage(`{"ok":true}`),
		}))(t)
		if et.Name != "kyc.done" || string(et.Example) != `{"ok":true}` {
			t.Fatalf("event type: %+v", et)
		}
		if got := must(op.GetEventType(ctx, "kyc.done"))(t); got.Description != "done" {
			t.Fatalf("event type: %+v", got)
		}
		if ts := must(op.ListEventTypes(ctx))(t); len(ts.Data) != 1 {
			t.Fatalf("event types: %+v", ts)
		}

		sc := acme(t, op, client.Sandbox)
		_, err := sc.Publish(ctx, &client.PublishEvent{Type: "kyc.done", Data: json.RawMessage(`{}`)})
		if e := apiError(t, err, http.StatusUnprocessableEntity); e.Errors[0].Field() != "data" {
			t.Fatalf("schema refusal: %+v", e)
		}
		ev := &client.PublishEvent{Type: "kyc.done", Data: json.RawMessage(`{"ok":true}`), IdempotencyKey: "k-1"}
		first := must(sc.Publish(ctx, ev))(t)
		again := must(sc.Publish(ctx, ev))(t)
		if first.Replayed || !again.Replayed || again.ID != first.ID {
			t.Fatalf("first %+v, again %+v", first, again)
		}
		batch := must(sc.PublishBatch(ctx, []client.PublishEvent{*ev, {Type: "kyc.done", Data: json.RawMessage(`{"ok":false}`)}}))(t)
		if len(batch) != 2 || !batch[0].Replayed || batch[0].ID != first.ID || batch[1].Replayed {
			t.Fatalf("batch: %+v", batch)
		}
	})
}

func TestAPortalLinkNamesTheHostTheClientCalled(t *testing.T) {
	h := newAPI(t)
	hc := &http.Client{Transport: client.HandlerTransport(h)}
	op := client.New("http://herald.example.com", operatorToken, client.WithHTTPClient(hc),
		client.WithHeader("X-Forwarded-Proto", "https"))
	acme(t, op, client.Production)
	ps := must(op.CreatePortalSession(t.Context(), "acme", &client.PortalSessionCreate{Environment: client.Production, ExpiresIn: "10m"}))(t)
	if !strings.HasPrefix(ps.URL, "https://herald.example.com/portal/start?token=hpt_") || ps.TenantID != "acme" ||
		ps.Environment != client.Production || time.Until(ps.ExpiresAt) > 10*time.Minute {
		t.Fatalf("portal session: %+v", ps)
	}
}
