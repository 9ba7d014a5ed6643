package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestPausedEndpointReceivesNothingUntilResumed(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		rc.Trust(ep.Secret)
		h.Must(http.StatusOK, servertest.Call{Method: "PATCH", Path: "/v1/endpoints/" + ep.ID, Tenant: "acme", Env: "sandbox", Body: map[string]any{"status": "paused"}})
		p := h.Publish("acme", "sandbox", map[string]any{"type": "check.approved", "data": map[string]any{"n": 1}})
		if p.Deliveries != 1 {
			t.Fatalf("a paused endpoint must still get (held) deliveries: %+v", p)
		}
		rc.Quiet(1500 * time.Millisecond)
		if ds := h.Deliveries("acme", "sandbox", ""); len(ds) != 1 || ds[0].Status != "pending" || ds[0].AttemptCount != 0 {
			t.Fatalf("held delivery = %+v", ds)
		}
		h.Must(http.StatusOK, servertest.Call{Method: "PATCH", Path: "/v1/endpoints/" + ep.ID, Tenant: "acme", Env: "sandbox", Body: map[string]any{"status": "active"}})
		got := rc.Next(5 * time.Second)
		if got.ID != p.ID || got.Valid != nil {
			t.Fatalf("after resume got %s (%v), want %s", got.ID, got.Valid, p.ID)
		}
	})
}

func TestIdempotentPublishCreatesOneEvent(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		rc.Trust(ep.Secret)
		body := `{"type":"check.approved","data":{"status":"approved"}}`
		key := map[string]string{"Idempotency-Key": "req-42"}
		var first, second servertest.Published
		h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: body, Headers: key}).JSON(t, &first)
		r := h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: body, Headers: key})
		r.JSON(t, &second)
		if second != first || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay = %+v (replayed header %q), first = %+v", second, r.Header.Get("Idempotent-Replayed"), first)
		}
		conflict := h.Must(http.StatusConflict, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox",
			Body: `{"type":"check.rejected","data":{}}`, Headers: key})
		if ct := conflict.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("conflict content-type = %q", ct)
		}
		var events struct {
			Data []struct{ ID string } `json:"data"`
		}
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/events", Tenant: "acme", Env: "sandbox"}).JSON(t, &events)
		if len(events.Data) != 1 || events.Data[0].ID != first.ID {
			t.Fatalf("events = %+v", events.Data)
		}
		rc.Next(5 * time.Second)
		rc.Quiet(300 * time.Millisecond)
	})
}

func TestSchemaViolationIsA422NamingTheField(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		h.Must(http.StatusCreated, servertest.Call{Method: "PUT", Path: "/v1/event-types/check.approved", Body: map[string]any{
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
		r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox",
			Body: map[string]any{"type": "check.approved", "data": map[string]any{"status": "approved", "document": map[string]any{"number": 12}}}})
		var p servertest.Problem
		r.JSON(t, &p)
		if len(p.Errors) == 0 || p.Errors[0].Location != "body.data.document.number" {
			t.Fatalf("problem = %+v", p)
		}
		// A registered example that breaks its own schema is refused too.
		r = h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "PUT", Path: "/v1/event-types/aml.hit", Body: map[string]any{
			"schema": map[string]any{"type": "object", "required": []string{"list"}}, "example": map[string]any{},
		}})
		r.JSON(t, &p)
		if len(p.Errors) == 0 || !strings.HasPrefix(p.Errors[0].Location, "body.example") {
			t.Fatalf("example problem = %+v", p)
		}
		// Unregistered types are allowed; nothing was stored for the refused ones.
		h.Publish("acme", "sandbox", map[string]any{"type": "custom.thing", "data": map[string]any{"any": "thing"}})
		var l struct {
			Data []struct{ ID string } `json:"data"`
		}
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/events", Tenant: "acme", Env: "sandbox"}).JSON(t, &l)
		if len(l.Data) != 1 {
			t.Fatalf("events = %d, want only the valid one", len(l.Data))
		}
		h.Must(http.StatusNotFound, servertest.Call{Method: "GET", Path: "/v1/event-types/aml.hit"})
	})
}

func TestATenantNeverSeesAnotherTenantsData(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		h.Tenant("globex")
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		p := h.Publish("acme", "sandbox", map[string]any{"type": "check.approved", "data": map[string]any{}})
		servertest.Eventually(t, 5*time.Second, "the delivery", func() bool { return len(h.Deliveries("acme", "sandbox", "")) == 1 })
		d := h.Deliveries("acme", "sandbox", "")[0]
		for _, sc := range [][2]string{{"globex", "sandbox"}, {"acme", "production"}} {
			for _, path := range []string{"/v1/endpoints/" + ep.ID, "/v1/events/" + p.ID, "/v1/deliveries/" + d.ID} {
				h.Must(http.StatusNotFound, servertest.Call{Method: "GET", Path: path, Tenant: sc[0], Env: sc[1]})
			}
			h.Must(http.StatusNotFound, servertest.Call{Method: "PATCH", Path: "/v1/endpoints/" + ep.ID, Tenant: sc[0], Env: sc[1], Body: map[string]any{"status": "paused"}})
			h.Must(http.StatusNotFound, servertest.Call{Method: "DELETE", Path: "/v1/endpoints/" + ep.ID, Tenant: sc[0], Env: sc[1]})
			h.Must(http.StatusNotFound, servertest.Call{Method: "POST", Path: "/v1/deliveries/" + d.ID + "/retry", Tenant: sc[0], Env: sc[1]})
			for _, path := range []string{"/v1/endpoints", "/v1/events", "/v1/deliveries"} {
				var l struct{ Data []any }
				h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: path, Tenant: sc[0], Env: sc[1]}).JSON(t, &l)
				if len(l.Data) != 0 {
					t.Fatalf("%s as %v lists %d items of acme/sandbox", path, sc, len(l.Data))
				}
			}
		}
	})
}

func TestScopeHeadersAreRequiredAndChecked(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
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
			r := h.Must(c.status, servertest.Call{Method: "GET", Path: "/v1/endpoints", Tenant: c.tenant, Env: c.env})
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%+v: content-type %q", c, ct)
			}
			var p servertest.Problem
			r.JSON(t, &p)
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
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
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
				r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/endpoints", Tenant: "acme", Env: "sandbox", Body: c.body})
				var p servertest.Problem
				r.JSON(t, &p)
				found := false
				for _, e := range p.Errors {
					found = found || e.Location == c.location
				}
				if !found {
					t.Fatalf("problem %s does not name %s", r.Body, c.location)
				}
			})
		}
		h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: `{"type":"a b","data":{}}`})
		h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: `{"type":"a.b","data":[1]}`})
		h.Must(http.StatusBadRequest, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: `{"type":`})
		h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/tenants", Body: map[string]string{"id": "Acme Bank", "name": "x"}})
		var eps, evs struct{ Data []any }
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints", Tenant: "acme", Env: "sandbox"}).JSON(t, &eps)
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/events", Tenant: "acme", Env: "sandbox"}).JSON(t, &evs)
		if len(eps.Data) != 0 || len(evs.Data) != 0 {
			t.Fatalf("refused requests left %d endpoints and %d events", len(eps.Data), len(evs.Data))
		}
	})
}

func TestBodiesOverOneMebibyteAreA413(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		big := `{"type":"a.b","data":{"blob":"` + strings.Repeat("x", 1<<20) + `"}}`
		h.Must(http.StatusRequestEntityTooLarge, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: big})
	})
}

func TestTheOperatorTokenIsRequired(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		none, wrong := "", "not-the-token"
		for _, tok := range []*string{&none, &wrong} {
			r := h.Must(http.StatusUnauthorized, servertest.Call{Method: "GET", Path: "/v1/tenants", Token: tok})
			if r.Header.Get("WWW-Authenticate") == "" || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("401 headers = %v", r.Header)
			}
		}
		// The OpenAPI document is public.
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/openapi.json", Token: &none})
	})
}

func TestNonPublicDestinationsAreRefusedByDefault(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start(func(s *servertest.Settings) { s.Config.Egress.AllowPrivate = false })
		h.Tenant("acme")
		for _, u := range []string{"http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x"} {
			r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/endpoints", Tenant: "acme", Env: "sandbox", Body: map[string]any{"url": u}})
			var p servertest.Problem
			r.JSON(t, &p)
			if len(p.Errors) == 0 || p.Errors[0].Location != "body.url" {
				t.Fatalf("%s: problem %s", u, r.Body)
			}
		}
	})
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(int, *http.Request) int { return http.StatusGone })
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		h.Publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
		rc.Next(5 * time.Second)
		servertest.Eventually(t, 5*time.Second, "the endpoint to be disabled", func() bool {
			var e struct {
				Status string `json:"status"`
			}
			h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints/" + ep.ID, Tenant: "acme", Env: "sandbox"}).JSON(t, &e)
			return e.Status == "disabled"
		})
		if ds := h.Deliveries("acme", "sandbox", ""); ds[0].Status != "failed" || ds[0].AttemptCount != 1 {
			t.Fatalf("delivery after 410 = %+v", ds[0])
		}
		if p := h.Publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}}); p.Deliveries != 0 {
			t.Fatalf("a disabled endpoint got %d deliveries", p.Deliveries)
		}
	})
}

func TestManualRetrySendsAFailedDeliveryAgainWithTheSameID(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(n int, _ *http.Request) int {
			if n == 1 {
				return http.StatusBadRequest
			}
			return http.StatusNoContent
		})
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"preset": "none"}, "success": "json-or-204"})
		rc.Trust(ep.Secret)
		p := h.Publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
		rc.Next(5 * time.Second)
		var d servertest.DeliveryView
		servertest.Eventually(t, 5*time.Second, "the delivery to fail", func() bool {
			ds := h.Deliveries("acme", "sandbox", "?status=failed")
			if len(ds) == 1 {
				d = ds[0]
			}
			return len(ds) == 1
		})
		h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/deliveries/" + d.ID + "/retry", Tenant: "acme", Env: "sandbox"})
		again := rc.Next(5 * time.Second)
		if again.ID != p.ID || again.Valid != nil {
			t.Fatalf("retry arrived as %s (%v), want %s", again.ID, again.Valid, p.ID)
		}
		servertest.Eventually(t, 5*time.Second, "the retry to succeed", func() bool {
			return h.Delivery("acme", "sandbox", d.ID).Status == "succeeded"
		})
	})
}

func TestRetryAfterPostponesTheNextAttempt(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(n int, r *http.Request) int { return http.StatusTooManyRequests })
		rc.Config.Handler = withHeader(rc.Config.Handler, "Retry-After", "120")
		h.Tenant("acme")
		h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"delays": []string{"1s"}}})
		h.Publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
		rc.Next(5 * time.Second)
		var next time.Time
		servertest.Eventually(t, 5*time.Second, "the retry to be scheduled", func() bool {
			var d struct {
				AttemptCount  int       `json:"attempt_count"`
				NextAttemptAt time.Time `json:"next_attempt_at"`
			}
			l := h.Deliveries("acme", "sandbox", "")
			h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/deliveries/" + l[0].ID, Tenant: "acme", Env: "sandbox"}).JSON(t, &d)
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
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		rc.Trust(ep.Secret)
		bad := map[string]any{"events": []map[string]any{
			{"type": "a.b", "data": map[string]any{}},
			{"type": "a.b", "data": "not an object"},
		}}
		r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/events/batch", Tenant: "acme", Env: "sandbox", Body: bad})
		var p servertest.Problem
		r.JSON(t, &p)
		if len(p.Errors) == 0 || p.Errors[0].Location != "body.events[1].data" {
			t.Fatalf("problem = %s", r.Body)
		}
		var none struct{ Data []any }
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/events", Tenant: "acme", Env: "sandbox"}).JSON(t, &none)
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
		h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events/batch", Tenant: "acme", Env: "sandbox", Body: good}).JSON(t, &res)
		if len(res.Data) != 3 || res.Data[0].Deliveries != 1 || res.Data[0].Replayed {
			t.Fatalf("batch result = %+v", res)
		}
		seen := map[string]bool{}
		for i := 0; i < 3; i++ {
			got := rc.Next(5 * time.Second)
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
		h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events/batch", Tenant: "acme", Env: "sandbox", Body: replay}).JSON(t, &res)
		if !res.Data[0].Replayed {
			t.Fatalf("replayed item = %+v", res.Data[0])
		}
	})
}
