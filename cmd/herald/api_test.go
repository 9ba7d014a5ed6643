package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPausedEndpointReceivesNothingUntilResumed(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		h.tenant("acme")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		rc.trust(ep.Secret)
		h.must(http.StatusOK, call{method: "PATCH", path: "/v1/endpoints/" + ep.ID, tenant: "acme", env: "sandbox", body: map[string]any{"status": "paused"}})
		p := h.publish("acme", "sandbox", map[string]any{"type": "check.approved", "data": map[string]any{"n": 1}})
		if p.Deliveries != 1 {
			t.Fatalf("a paused endpoint must still get (held) deliveries: %+v", p)
		}
		rc.quiet(1500 * time.Millisecond)
		if ds := h.deliveries("acme", "sandbox", ""); len(ds) != 1 || ds[0].Status != "pending" || ds[0].AttemptCount != 0 {
			t.Fatalf("held delivery = %+v", ds)
		}
		h.must(http.StatusOK, call{method: "PATCH", path: "/v1/endpoints/" + ep.ID, tenant: "acme", env: "sandbox", body: map[string]any{"status": "active"}})
		got := rc.next(5 * time.Second)
		if got.ID != p.ID || got.Valid != nil {
			t.Fatalf("after resume got %s (%v), want %s", got.ID, got.Valid, p.ID)
		}
	})
}

func TestIdempotentPublishCreatesOneEvent(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		h.tenant("acme")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		rc.trust(ep.Secret)
		body := `{"type":"check.approved","data":{"status":"approved"}}`
		key := map[string]string{"Idempotency-Key": "req-42"}
		var first, second published
		h.must(http.StatusAccepted, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox", body: body, headers: key}).json(t, &first)
		r := h.must(http.StatusAccepted, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox", body: body, headers: key})
		r.json(t, &second)
		if second != first || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay = %+v (replayed header %q), first = %+v", second, r.header.Get("Idempotent-Replayed"), first)
		}
		conflict := h.must(http.StatusConflict, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox",
			body: `{"type":"check.rejected","data":{}}`, headers: key})
		if ct := conflict.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("conflict content-type = %q", ct)
		}
		var events struct {
			Data []struct{ ID string } `json:"data"`
		}
		h.must(http.StatusOK, call{method: "GET", path: "/v1/events", tenant: "acme", env: "sandbox"}).json(t, &events)
		if len(events.Data) != 1 || events.Data[0].ID != first.ID {
			t.Fatalf("events = %+v", events.Data)
		}
		rc.next(5 * time.Second)
		rc.quiet(300 * time.Millisecond)
	})
}

func TestSchemaViolationIsA422NamingTheField(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		h.tenant("acme")
		h.must(http.StatusCreated, call{method: "PUT", path: "/v1/event-types/check.approved", body: map[string]any{
			"description": "A verification passed.",
			"schema": map[string]any{
				"type": "object", "required": []string{"status", "document"},
				"properties": map[string]any{
					"status":   map[string]any{"enum": []string{"approved"}},
					"document": map[string]any{"type": "object", "properties": map[string]any{"number": map[string]any{"type": "string"}}},
				},
			},
			"example": map[string]any{"status": "approved", "document": map[string]any{"number": "X1"}},
		}})
		r := h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox",
			body: map[string]any{"type": "check.approved", "data": map[string]any{"status": "approved", "document": map[string]any{"number": 12}}}})
		var p problem
		r.json(t, &p)
		if len(p.Errors) == 0 || p.Errors[0].Location != "body.data.document.number" {
			t.Fatalf("problem = %+v", p)
		}
		// A registered example that breaks its own schema is refused too.
		r = h.must(http.StatusUnprocessableEntity, call{method: "PUT", path: "/v1/event-types/aml.hit", body: map[string]any{
			"schema": map[string]any{"type": "object", "required": []string{"list"}}, "example": map[string]any{},
		}})
		r.json(t, &p)
		if len(p.Errors) == 0 || !strings.HasPrefix(p.Errors[0].Location, "body.example") {
			t.Fatalf("example problem = %+v", p)
		}
		// Unregistered types are allowed; nothing was stored for the refused ones.
		h.publish("acme", "sandbox", map[string]any{"type": "custom.thing", "data": map[string]any{"any": "thing"}})
		var l struct {
			Data []struct{ ID string } `json:"data"`
		}
		h.must(http.StatusOK, call{method: "GET", path: "/v1/events", tenant: "acme", env: "sandbox"}).json(t, &l)
		if len(l.Data) != 1 {
			t.Fatalf("events = %d, want only the valid one", len(l.Data))
		}
		h.must(http.StatusNotFound, call{method: "GET", path: "/v1/event-types/aml.hit"})
	})
}

func TestATenantNeverSeesAnotherTenantsData(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		h.tenant("acme")
		h.tenant("globex")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		p := h.publish("acme", "sandbox", map[string]any{"type": "check.approved", "data": map[string]any{}})
		eventually(t, 5*time.Second, "the delivery", func() bool { return len(h.deliveries("acme", "sandbox", "")) == 1 })
		d := h.deliveries("acme", "sandbox", "")[0]
		for _, sc := range [][2]string{{"globex", "sandbox"}, {"acme", "production"}} {
			for _, path := range []string{"/v1/endpoints/" + ep.ID, "/v1/events/" + p.ID, "/v1/deliveries/" + d.ID} {
				h.must(http.StatusNotFound, call{method: "GET", path: path, tenant: sc[0], env: sc[1]})
			}
			h.must(http.StatusNotFound, call{method: "PATCH", path: "/v1/endpoints/" + ep.ID, tenant: sc[0], env: sc[1], body: map[string]any{"status": "paused"}})
			h.must(http.StatusNotFound, call{method: "DELETE", path: "/v1/endpoints/" + ep.ID, tenant: sc[0], env: sc[1]})
			h.must(http.StatusNotFound, call{method: "POST", path: "/v1/deliveries/" + d.ID + "/retry", tenant: sc[0], env: sc[1]})
			for _, path := range []string{"/v1/endpoints", "/v1/events", "/v1/deliveries"} {
				var l struct{ Data []any }
				h.must(http.StatusOK, call{method: "GET", path: path, tenant: sc[0], env: sc[1]}).json(t, &l)
				if len(l.Data) != 0 {
					t.Fatalf("%s as %v lists %d items of acme/sandbox", path, sc, len(l.Data))
				}
			}
		}
	})
}

func TestScopeHeadersAreRequiredAndChecked(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		h.tenant("acme")
		cases := []struct {
			tenant, env string
			status      int
			location    string
		}{
			{"", "sandbox", http.StatusBadRequest, "header.Herald-Tenant"},
			{"acme", "", http.StatusBadRequest, "header.Herald-Environment"},
			{"acme", "staging", http.StatusBadRequest, "header.Herald-Environment"},
			{"nobody", "sandbox", http.StatusNotFound, ""},
		}
		for _, c := range cases {
			r := h.must(c.status, call{method: "GET", path: "/v1/endpoints", tenant: c.tenant, env: c.env})
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%+v: content-type %q", c, ct)
			}
			var p problem
			r.json(t, &p)
			if c.location != "" && (len(p.Errors) == 0 || p.Errors[0].Location != c.location) {
				t.Fatalf("%+v: problem %+v does not name %s", c, p, c.location)
			}
			if c.status == http.StatusNotFound && !strings.Contains(p.Detail, "nobody") {
				t.Fatalf("unknown tenant problem does not name it: %+v", p)
			}
		}
	})
}

func TestBadInputIsRefusedWithTheFieldAndChangesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		h.tenant("acme")
		cases := []struct {
			name     string
			body     any
			location string
		}{
			{"no url", map[string]any{"name": "x"}, "body.url"},
			{"ftp url", map[string]any{"url": "ftp://example.com/x"}, "body.url"},
			{"reserved header", map[string]any{"url": "http://127.0.0.1:9/x", "headers": map[string]string{"webhook-signature": "x"}}, "body.headers.webhook-signature"},
			{"bad filter", map[string]any{"url": "http://127.0.0.1:9/x", "event_types": []string{"check.**"}}, "body.event_types[0]"},
			{"bad delay", map[string]any{"url": "http://127.0.0.1:9/x", "retry_policy": map[string]any{"delays": []string{"5s", "soon"}}}, "body.retry_policy.delays[1]"},
			{"bad preset", map[string]any{"url": "http://127.0.0.1:9/x", "retry_policy": map[string]any{"preset": "forever"}}, "body.retry_policy.preset"},
			{"timeout too long", map[string]any{"url": "http://127.0.0.1:9/x", "timeout_ms": 600000}, "body.timeout_ms"},
			{"unknown field", map[string]any{"url": "http://127.0.0.1:9/x", "colour": "red"}, "body.colour"},
			{"bad success", map[string]any{"url": "http://127.0.0.1:9/x", "success": "3xx"}, "body.success"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/endpoints", tenant: "acme", env: "sandbox", body: c.body})
				var p problem
				r.json(t, &p)
				found := false
				for _, e := range p.Errors {
					found = found || e.Location == c.location
				}
				if !found {
					t.Fatalf("problem %s does not name %s", r.body, c.location)
				}
			})
		}
		h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox", body: `{"type":"a b","data":{}}`})
		h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox", body: `{"type":"a.b","data":[1]}`})
		h.must(http.StatusBadRequest, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox", body: `{"type":`})
		h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/tenants", body: map[string]string{"id": "Acme Bank", "name": "x"}})
		var eps, evs struct{ Data []any }
		h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints", tenant: "acme", env: "sandbox"}).json(t, &eps)
		h.must(http.StatusOK, call{method: "GET", path: "/v1/events", tenant: "acme", env: "sandbox"}).json(t, &evs)
		if len(eps.Data) != 0 || len(evs.Data) != 0 {
			t.Fatalf("refused requests left %d endpoints and %d events", len(eps.Data), len(evs.Data))
		}
	})
}

func TestBodiesOverOneMebibyteAreA413(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		h.tenant("acme")
		big := `{"type":"a.b","data":{"blob":"` + strings.Repeat("x", 1<<20) + `"}}`
		h.must(http.StatusRequestEntityTooLarge, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox", body: big})
	})
}

func TestTheOperatorTokenIsRequired(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		none, wrong := "", "not-the-token"
		for _, tok := range []*string{&none, &wrong} {
			r := h.must(http.StatusUnauthorized, call{method: "GET", path: "/v1/tenants", token: tok})
			if r.header.Get("WWW-Authenticate") == "" || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("401 headers = %v", r.header)
			}
		}
		// The OpenAPI document is public.
		h.must(http.StatusOK, call{method: "GET", path: "/openapi.json", token: &none})
	})
}

func TestNonPublicDestinationsAreRefusedByDefault(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start(func(c *serveCmd) { c.AllowPrivateDestinations = false })
		h.tenant("acme")
		for _, u := range []string{"http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x"} {
			r := h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/endpoints", tenant: "acme", env: "sandbox", body: map[string]any{"url": u}})
			var p problem
			r.json(t, &p)
			if len(p.Errors) == 0 || p.Errors[0].Location != "body.url" {
				t.Fatalf("%s: problem %s", u, r.body)
			}
		}
	})
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		rc.respond(func(int, *http.Request) int { return http.StatusGone })
		h.tenant("acme")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
		rc.next(5 * time.Second)
		eventually(t, 5*time.Second, "the endpoint to be disabled", func() bool {
			var e struct {
				Status string `json:"status"`
			}
			h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints/" + ep.ID, tenant: "acme", env: "sandbox"}).json(t, &e)
			return e.Status == "disabled"
		})
		if ds := h.deliveries("acme", "sandbox", ""); ds[0].Status != "failed" || ds[0].AttemptCount != 1 {
			t.Fatalf("delivery after 410 = %+v", ds[0])
		}
		if p := h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}}); p.Deliveries != 0 {
			t.Fatalf("a disabled endpoint got %d deliveries", p.Deliveries)
		}
	})
}

func TestManualRetrySendsAFailedDeliveryAgainWithTheSameID(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		rc.respond(func(n int, _ *http.Request) int {
			if n == 1 {
				return http.StatusBadRequest
			}
			return http.StatusNoContent
		})
		h.tenant("acme")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"preset": "none"}, "success": "json-or-204"})
		rc.trust(ep.Secret)
		p := h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
		rc.next(5 * time.Second)
		var d deliveryView
		eventually(t, 5*time.Second, "the delivery to fail", func() bool {
			ds := h.deliveries("acme", "sandbox", "?status=failed")
			if len(ds) == 1 {
				d = ds[0]
			}
			return len(ds) == 1
		})
		h.must(http.StatusAccepted, call{method: "POST", path: "/v1/deliveries/" + d.ID + "/retry", tenant: "acme", env: "sandbox"})
		again := rc.next(5 * time.Second)
		if again.ID != p.ID || again.Valid != nil {
			t.Fatalf("retry arrived as %s (%v), want %s", again.ID, again.Valid, p.ID)
		}
		eventually(t, 5*time.Second, "the retry to succeed", func() bool {
			return h.delivery("acme", "sandbox", d.ID).Status == "succeeded"
		})
	})
}

func TestRetryAfterPostponesTheNextAttempt(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		rc.respond(func(n int, r *http.Request) int { return http.StatusTooManyRequests })
		rc.Config.Handler = withHeader(rc.Config.Handler, "Retry-After", "120")
		h.tenant("acme")
		h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"delays": []string{"1s"}}})
		h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
		rc.next(5 * time.Second)
		var next time.Time
		eventually(t, 5*time.Second, "the retry to be scheduled", func() bool {
			var d struct {
				AttemptCount  int       `json:"attempt_count"`
				NextAttemptAt time.Time `json:"next_attempt_at"`
			}
			l := h.deliveries("acme", "sandbox", "")
			h.must(http.StatusOK, call{method: "GET", path: "/v1/deliveries/" + l[0].ID, tenant: "acme", env: "sandbox"}).json(t, &d)
			next = d.NextAttemptAt
			return d.AttemptCount == 1
		})
		if wait := time.Until(next); wait < 100*time.Second {
			t.Fatalf("next attempt in %s; Retry-After asked for 120 s", wait)
		}
	})
}

func withHeader(next http.Handler, k, v string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(k, v)
		next.ServeHTTP(w, r)
	})
}

func TestBatchPublishIsAllOrNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		h.tenant("acme")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		rc.trust(ep.Secret)
		bad := map[string]any{"events": []map[string]any{
			{"type": "a.b", "data": map[string]any{}},
			{"type": "a.b", "data": "not an object"},
		}}
		r := h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/events/batch", tenant: "acme", env: "sandbox", body: bad})
		var p problem
		r.json(t, &p)
		if len(p.Errors) == 0 || p.Errors[0].Location != "body.events[1].data" {
			t.Fatalf("problem = %s", r.body)
		}
		var none struct{ Data []any }
		h.must(http.StatusOK, call{method: "GET", path: "/v1/events", tenant: "acme", env: "sandbox"}).json(t, &none)
		if len(none.Data) != 0 {
			t.Fatalf("a refused batch stored %d events", len(none.Data))
		}
		good := map[string]any{"events": []map[string]any{
			{"type": "a.b", "data": map[string]any{"i": 1}, "idempotency_key": "k1"},
			{"type": "a.b", "data": map[string]any{"i": 2}},
			{"type": "a.b", "data": map[string]any{"i": 3}},
		}}
		var res struct {
			Data []struct {
				ID         string `json:"id"`
				Deliveries int    `json:"deliveries"`
				Replayed   bool   `json:"replayed"`
			} `json:"data"`
		}
		h.must(http.StatusAccepted, call{method: "POST", path: "/v1/events/batch", tenant: "acme", env: "sandbox", body: good}).json(t, &res)
		if len(res.Data) != 3 || res.Data[0].Deliveries != 1 || res.Data[0].Replayed {
			t.Fatalf("batch result = %+v", res)
		}
		seen := map[string]bool{}
		for i := 0; i < 3; i++ {
			got := rc.next(5 * time.Second)
			if got.Valid != nil {
				t.Fatal(got.Valid)
			}
			seen[got.ID] = true
		}
		for _, d := range res.Data {
			if !seen[d.ID] {
				t.Fatalf("event %s of the batch was not delivered", d.ID)
			}
		}
		replay := map[string]any{"events": []map[string]any{{"type": "a.b", "data": map[string]any{"i": 1}, "idempotency_key": "k1"}}}
		h.must(http.StatusAccepted, call{method: "POST", path: "/v1/events/batch", tenant: "acme", env: "sandbox", body: replay}).json(t, &res)
		if !res.Data[0].Replayed {
			t.Fatalf("replayed item = %+v", res.Data[0])
		}
	})
}
