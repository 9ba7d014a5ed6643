package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// both runs a test with an operator's client of a fresh Herald that serves
// but does not deliver (published deliveries stay pending), reached over a
// real socket and in process through HandlerTransport.
func both(t *testing.T, test func(t *testing.T, operator *client.Client)) {
	t.Run("over HTTP", func(t *testing.T) {
		srv := httptest.NewServer(servertest.Handler(t))
		t.Cleanup(srv.Close)
		test(t, client.New(srv.URL, servertest.Token))
	})
	t.Run("in process", func(t *testing.T) {
		hc := &http.Client{Transport: client.HandlerTransport(servertest.Handler(t))}
		test(t, client.New("http://herald.test", servertest.Token, client.WithHTTPClient(hc)))
	})
}

// acme creates the tenant acme and returns op acting for it in env.
func acme(t *testing.T, op *client.Client, env string) *client.Client {
	t.Helper()
	servertest.Must(op.CreateTenant(t.Context(), &client.TenantCreate{ID: "acme", Name: "Acme"}))(t)
	return op.WithScope("acme", env)
}

// receiver is a webhook receiver that takes everything with a 204.
func receiver(t *testing.T) string {
	rc := servertest.NewReceiver(t)
	rc.Respond(func(int, *http.Request) int { return http.StatusNoContent })
	return rc.URL
}

func TestAnOperatorSetsUpATenantPublishesAndReadsTheLog(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		tn := servertest.Must(op.CreateTenant(ctx, &client.TenantCreate{ID: "acme", Name: "Acme Bank"}))(t)
		if tn.ID != "acme" || tn.Name != "Acme Bank" || tn.CreatedAt.IsZero() {
			t.Fatalf("tenant: %+v", tn)
		}
		tn = servertest.Must(op.UpdateTenant(ctx, "acme", &client.TenantUpdate{RateLimitPerMinute: client.Ptr(500)}))(t)
		if tn.RateLimitPerMinute != 500 || tn.Name != "Acme Bank" {
			t.Fatalf("updated tenant: %+v", tn)
		}
		if got := servertest.Must(op.GetTenant(ctx, "acme"))(t); got.RateLimitPerMinute != 500 {
			t.Fatalf("got tenant: %+v", got)
		}
		if ts := servertest.Must(op.ListTenants(ctx, nil))(t); len(ts.Data) != 1 || ts.Data[0].ID != "acme" || ts.NextCursor != "" {
			t.Fatalf("tenants: %+v", ts)
		}

		sc := op.WithScope("acme", client.Sandbox)
		ep := servertest.Must(sc.CreateEndpoint(ctx, &client.EndpointCreate{
			URL: receiver(t), Name: "main", EventTypes: []string{"check.*"}, AllowUnregisteredTypes: true,
			RetryPolicy: &client.RetryPolicy{Preset: "once"},
		}))(t)
		if !strings.HasPrefix(ep.Secret, "whsec_") || ep.Status != client.EndpointActive || ep.TimeoutMS != 15000 ||
			ep.RetryPolicy.Preset != "once" || ep.TenantID != "acme" || ep.Environment != client.Sandbox {
			t.Fatalf("endpoint: %+v", ep)
		}

		pub := servertest.Must(sc.Publish(ctx, &client.PublishEvent{
			Type: "check.approved", Data: json.RawMessage(`{"status": "approved"}`),
			Job: &client.JobRef{ID: "job_1", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}, Final: true,
		}))(t)
		if !strings.HasPrefix(pub.ID, "evt_") || pub.Deliveries != 1 || pub.Replayed {
			t.Fatalf("publish: %+v", pub)
		}
		ev := servertest.Must(sc.GetEvent(ctx, pub.ID))(t)
		if ev.Type != "check.approved" || string(ev.Data) != `{"status":"approved"}` || !ev.Final ||
			ev.Job == nil || ev.Job.ID != "job_1" || string(ev.Job.PartnerParams) != `{"user_id":"u-1"}` {
			t.Fatalf("event: %+v", ev)
		}
		ds := servertest.Must(sc.ListDeliveries(ctx, &client.DeliveryListParams{EventID: pub.ID, Status: client.DeliveryPending}))(t)
		if len(ds.Data) != 1 || ds.Data[0].EndpointID != ep.ID || ds.Data[0].EventType != "check.approved" {
			t.Fatalf("deliveries: %+v", ds)
		}
		d := servertest.Must(sc.RetryDelivery(ctx, ds.Data[0].ID))(t)
		if d.ID != ds.Data[0].ID || d.Status != client.DeliveryPending {
			t.Fatalf("retried: %+v", d)
		}

		sent := servertest.Must(sc.TestEndpoint(ctx, ep.ID, &client.TestSend{EventType: "check.approved", Data: json.RawMessage(`{"x":1}`)}))(t)
		if sent.Status != client.DeliverySucceeded || sent.ResponseStatus != http.StatusNoContent || sent.DeliveryID == "" {
			t.Fatalf("test send: %+v", sent)
		}
		d = servertest.Must(sc.GetDelivery(ctx, sent.DeliveryID))(t)
		if !d.Test || d.AttemptCount != 1 || len(d.Attempts) != 1 || d.Attempts[0].ResponseStatus != http.StatusNoContent ||
			d.Attempts[0].RequestHeaders["webhook-id"] != sent.EventID {
			t.Fatalf("test delivery: %+v", d)
		}
		j := servertest.Must(sc.GetJob(ctx, "job_1"))(t)
		if !j.Final || string(j.PartnerParams) != `{"user_id":"u-1"}` || len(j.Events) != 1 || len(j.Events[0].Deliveries) != 1 {
			t.Fatalf("job: %+v", j)
		}
		if js := servertest.Must(sc.ListJobs(ctx, &client.JobListParams{Final: client.Ptr(false)}))(t); len(js.Data) != 0 {
			t.Fatalf("unfinished jobs: %+v", js)
		}
		if js := servertest.Must(sc.ListJobs(ctx, &client.JobListParams{Final: client.Ptr(true), UpdatedSince: time.Now().Add(-time.Hour)}))(t); len(js.Data) != 1 {
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
		pubs := servertest.Must(sc.PublishBatch(ctx, evs))(t)
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
			servertest.Refused(t, err, http.StatusBadRequest)
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
		e := servertest.Refused(t, err, http.StatusUnprocessableEntity)
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
		e = servertest.Refused(t, err, http.StatusUnprocessableEntity)
		if e.Fields()["events"] == "" {
			t.Fatalf("fields of a refused batch: %v (%+v)", e.Fields(), e.Errors)
		}

		// Not the body: the scope headers are missing.
		_, err = op.ListEndpoints(ctx, nil)
		e = servertest.Refused(t, err, http.StatusBadRequest)
		if len(e.Errors) != 1 || e.Errors[0].Location != "header.Herald-Tenant" || e.Fields()[""] != "required" {
			t.Fatalf("missing scope: %+v, fields %v", e, e.Fields())
		}
	})
}

func TestAMissingResourceIsA404Error(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		_, err := acme(t, op, client.Sandbox).GetEndpoint(ctx, "ep_missing")
		e := servertest.Refused(t, err, http.StatusNotFound)
		if e.Title != "Not Found" || !strings.Contains(e.Detail, "ep_missing") {
			t.Fatalf("404: %+v", e)
		}
		_, err = op.GetTenant(ctx, "nobody")
		servertest.Refused(t, err, http.StatusNotFound)
	})
}

func TestATenantKeyIsScopedLimitedAndRevocable(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		servertest.Must(op.CreateTenant(ctx, &client.TenantCreate{ID: "acme", Name: "Acme", RateLimitPerMinute: 1, RateLimitBurst: 1}))(t)
		k := servertest.Must(op.CreateTenantAPIKey(ctx, "acme", client.Sandbox))(t)
		if !strings.HasPrefix(k.Key, "hk_sandbox_") || k.TenantID != "acme" || !strings.HasPrefix(k.Key, k.Prefix) {
			t.Fatalf("key: %+v", k)
		}
		tenant := op.WithToken(k.Key)
		keys := servertest.Must(tenant.ListAPIKeys(ctx))(t)
		if len(keys.Data) != 1 || keys.Data[0].ID != k.ID {
			t.Fatalf("keys: %+v", keys)
		}
		_, err := tenant.CreateTenant(ctx, &client.TenantCreate{Name: "Other"})
		servertest.Refused(t, err, http.StatusForbidden)
		_, err = tenant.GetEgressIPs(ctx)
		e := servertest.Refused(t, err, http.StatusTooManyRequests)
		if e.RetryAfter < time.Second || e.RetryAfter > time.Minute {
			t.Fatalf("Retry-After: %s", e.RetryAfter)
		}

		sc := op.WithScope("acme", client.Sandbox)
		rotated := servertest.Must(sc.RotateAPIKey(ctx, k.ID, &client.Rotation{GracePeriod: "1h"}))(t)
		if rotated.Key == k.Key || rotated.ID == k.ID {
			t.Fatalf("rotated: %+v", rotated)
		}
		another := servertest.Must(sc.CreateAPIKey(ctx))(t)
		if err := sc.RevokeAPIKey(ctx, another.ID); err != nil {
			t.Fatal(err)
		}
		_, err = op.WithToken(another.Key).ListAPIKeys(ctx)
		servertest.Refused(t, err, http.StatusUnauthorized)
	})
}

func TestEndpointActionsAndPartialUpdates(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		sc := acme(t, op, client.Sandbox)
		ep := servertest.Must(sc.CreateEndpoint(ctx, &client.EndpointCreate{
			URL: receiver(t), EventTypes: []string{"verification.*"}, Headers: map[string]string{"X-Team": "kyc"},
		}))(t)

		// nil fields are left alone ...
		up := servertest.Must(sc.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{Name: client.Ptr("renamed"), Status: client.Ptr(client.EndpointPaused)}))(t)
		if up.Name != "renamed" || up.Status != client.EndpointPaused || !slices.Equal(up.EventTypes, []string{"verification.*"}) || up.Headers["X-Team"] != "kyc" {
			t.Fatalf("updated: %+v", up)
		}
		// ... and empty ones are sent, to clear.
		up = servertest.Must(sc.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{EventTypes: []string{}, Headers: map[string]string{}}))(t)
		if len(up.EventTypes) != 0 || len(up.Headers) != 0 || up.Name != "renamed" {
			t.Fatalf("cleared: %+v", up)
		}

		rs := servertest.Must(sc.RotateEndpointSecret(ctx, ep.ID, nil))(t)
		if !strings.HasPrefix(rs.Secret, "whsec_") || rs.Secret == ep.Secret || time.Until(rs.PreviousSecretExpiresAt) < 23*time.Hour {
			t.Fatalf("rotated secret: %+v", rs)
		}
		if n := servertest.Must(sc.RecoverEndpoint(ctx, ep.ID, &client.RecoverWindow{Since: time.Now().Add(-time.Hour)}))(t); n != 0 {
			t.Fatalf("recovered %d", n)
		}
		def := servertest.Must(sc.SetDefaultCallback(ctx, ep.ID))(t)
		if !def.DefaultCallback {
			t.Fatalf("default callback: %+v", def)
		}
		if got := servertest.Must(sc.GetDefaultCallback(ctx))(t); got.ID != ep.ID {
			t.Fatalf("default callback: %+v", got)
		}
		job := servertest.Must(sc.PutJob(ctx, &client.JobRef{ID: "job_2", CallbackURL: receiver(t)}))(t)
		if job.CallbackURL == "" || job.Environment != client.Sandbox {
			t.Fatalf("job: %+v", job)
		}
		if eps := servertest.Must(sc.ListEndpoints(ctx, &client.ListParams{Limit: 1}))(t); len(eps.Data) != 1 || eps.NextCursor != ep.ID {
			t.Fatalf("endpoints: %+v", eps)
		}
		if err := sc.DeleteEndpoint(ctx, ep.ID); err != nil {
			t.Fatal(err)
		}
		_, err := sc.GetEndpoint(ctx, ep.ID)
		servertest.Refused(t, err, http.StatusNotFound)
		if ips := servertest.Must(sc.GetEgressIPs(ctx))(t); ips.IPs == nil || ips.Proxy {
			t.Fatalf("egress: %+v", ips)
		}
	})
}

func TestEventTypesAndIdempotentPublishes(t *testing.T) {
	both(t, func(t *testing.T, op *client.Client) {
		ctx := t.Context()
		// Herald registers its catalog at start: the put adds one type.
		before := servertest.Must(op.ListEventTypes(ctx))(t)
		et := servertest.Must(op.PutEventType(ctx, "kyc.done", &client.EventTypePut{
			Description: "done", Schema: json.RawMessage(`{"type":"object","required":["ok"]}`), Example: json.RawMessage(`{"ok":true}`),
		}))(t)
		if et.Name != "kyc.done" || string(et.Example) != `{"ok":true}` {
			t.Fatalf("event type: %+v", et)
		}
		if got := servertest.Must(op.GetEventType(ctx, "kyc.done"))(t); got.Description != "done" {
			t.Fatalf("event type: %+v", got)
		}
		ts := servertest.Must(op.ListEventTypes(ctx))(t)
		if len(ts.Data) != len(before.Data)+1 || !slices.ContainsFunc(ts.Data, func(et client.EventType) bool { return et.Name == "kyc.done" }) {
			t.Fatalf("event types: %d before the put, %d after: %+v", len(before.Data), len(ts.Data), ts.Data)
		}

		sc := acme(t, op, client.Sandbox)
		_, err := sc.Publish(ctx, &client.PublishEvent{Type: "kyc.done", Data: json.RawMessage(`{}`)})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); e.Errors[0].Field() != "data" {
			t.Fatalf("schema refusal: %+v", e)
		}
		ev := &client.PublishEvent{Type: "kyc.done", Data: json.RawMessage(`{"ok":true}`), IdempotencyKey: "k-1"}
		first := servertest.Must(sc.Publish(ctx, ev))(t)
		again := servertest.Must(sc.Publish(ctx, ev))(t)
		if first.Replayed || !again.Replayed || again.ID != first.ID {
			t.Fatalf("first %+v, again %+v", first, again)
		}
		batch := servertest.Must(sc.PublishBatch(ctx, []client.PublishEvent{*ev, {Type: "kyc.done", Data: json.RawMessage(`{"ok":false}`)}}))(t)
		if len(batch) != 2 || !batch[0].Replayed || batch[0].ID != first.ID || batch[1].Replayed {
			t.Fatalf("batch: %+v", batch)
		}
	})
}

func TestAPortalLinkNamesTheHostTheClientCalled(t *testing.T) {
	hc := &http.Client{Transport: client.HandlerTransport(servertest.Handler(t))}
	op := client.New("http://herald.example.com", servertest.Token, client.WithHTTPClient(hc),
		client.WithHeader("X-Forwarded-Proto", "https"))
	acme(t, op, client.Production)
	ps := servertest.Must(op.CreatePortalSession(t.Context(), "acme", &client.PortalSessionCreate{Environment: client.Production, ExpiresIn: "10m"}))(t)
	if !strings.HasPrefix(ps.URL, "https://herald.example.com/portal/start?token=hpt_") || ps.TenantID != "acme" ||
		ps.Environment != client.Production || time.Until(ps.ExpiresAt) > 10*time.Minute {
		t.Fatalf("portal session: %+v", ps)
	}
}

// The client sends raw JSON as the caller wrote it: partner params with <,
// > and &, unicode and odd whitespace arrive at receivers byte for byte, in
// the standard envelope and in a profile that echoes them. Event data keeps
// its <, > and &; Herald compacts its whitespace when it stores it.
func TestPartnerParamsAndDataArriveByteForByteThroughTheClient(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		const params = "{ \"ref\" : \"a<b>&c\",\n\t\"name\": \"Zoë ☕ \\u00e9\",  \"n\": 1.50 }"
		const data = "{\"status\": \"approved\",\n \"decision\": {\"result\": \"approved\", \"result_code\": \"R100\", \"result_text\": \"<b>&</b>\"},\n \"reviewed_by\": \"auto\" }"
		standard, smile := servertest.NewReceiver(t), servertest.NewReceiver(t)
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: standard.URL})
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: smile.URL, Profile: "smile-id",
			ProfileOptions: map[string]json.RawMessage{"partner_id": json.RawMessage(`"007"`), "api_key": json.RawMessage(`"k"`)}})
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(data),
			Job: &client.JobRef{ID: "job_1", PartnerParams: json.RawMessage(params)}})
		var stored bytes.Buffer
		if err := json.Compact(&stored, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got := standard.Next(10 * time.Second); !bytes.Contains(got.Body, []byte(`"partner_params":`+params+`}`)) ||
			!bytes.Contains(got.Body, []byte(`"data":`+stored.String())) {
			t.Errorf("standard body %s", got.Body)
		}
		if got := smile.Next(10 * time.Second); !bytes.Contains(got.Body, []byte(`"PartnerParams":`+params+`,`)) {
			t.Errorf("smile-id body %s", got.Body)
		}
	})
}
