package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestPausedEndpointReceivesNothingUntilResumed(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
		rc.Trust(ep.Secret)
		servertest.Must(sc.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{Status: client.Ptr(client.EndpointPaused)}))(t)
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{"n":1}`)})
		if p.Deliveries != 1 {
			t.Fatalf("a paused endpoint must still get (held) deliveries: %+v", p)
		}
		rc.Quiet(1500 * time.Millisecond)
		if ds := h.Deliveries("acme", "sandbox", nil); len(ds) != 1 || ds[0].Status != client.DeliveryPending || ds[0].AttemptCount != 0 {
			t.Fatalf("held delivery = %+v", ds)
		}
		servertest.Must(sc.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{Status: client.Ptr(client.EndpointActive)}))(t)
		got := rc.Next(5 * time.Second)
		if got.ID != p.ID || got.Valid != nil {
			t.Fatalf("after resume got %s (%v), want %s", got.ID, got.Valid, p.ID)
		}
	})
}

func TestIdempotentPublishCreatesOneEvent(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
		rc.Trust(ep.Secret)
		ev := &client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{"status":"approved"}`), IdempotencyKey: "req-42"}
		first := servertest.Must(sc.Publish(ctx, ev))(t)
		second := servertest.Must(sc.Publish(ctx, ev))(t) // Replayed: the answer's Idempotent-Replayed header
		if second.ID != first.ID || second.Deliveries != first.Deliveries || !second.Replayed || first.Replayed {
			t.Fatalf("replay = %+v, first = %+v", second, first)
		}
		// Another event under the same key: the conflict is a problem+json answer.
		conflict := h.Must(http.StatusConflict, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox",
			Body: `{"type":"check.rejected","data":{}}`, Headers: map[string]string{"Idempotency-Key": "req-42"}})
		if ct := conflict.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("conflict content-type = %q", ct)
		}
		events := servertest.Must(sc.ListEvents(ctx, nil))(t)
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
		ctx := t.Context()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		servertest.Must(h.Client.PutEventType(ctx, "check.approved", &client.EventTypePut{
			Description: "A verification passed.",
			Schema: json.RawMessage(`{"type": "object", "required": ["status", "document"], "properties": {
				"status": {"enum": ["approved"]},
				"document": {"type": "object", "properties": {"number": {"type": "string"}}}}}`),
			Example: json.RawMessage(`{"status": "approved", "document": {"number": "X1"}}`),
		}))(t)
		_, err := sc.Publish(ctx, &client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{"status": "approved", "document": {"number": 12}}`)})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); len(e.Errors) == 0 || e.Errors[0].Location != "body.data.document.number" {
			t.Fatalf("problem = %+v", e)
		}
		// A registered example that breaks its own schema is refused too.
		_, err = h.Client.PutEventType(ctx, "aml.hit", &client.EventTypePut{
			Schema: json.RawMessage(`{"type": "object", "required": ["list"]}`), Example: json.RawMessage(`{}`),
		})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); len(e.Errors) == 0 || !strings.HasPrefix(e.Errors[0].Location, "body.example") {
			t.Fatalf("example problem = %+v", e)
		}
		// Unregistered types are allowed; nothing was stored for the refused ones.
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "custom.thing", Data: json.RawMessage(`{"any": "thing"}`)})
		if l := servertest.Must(sc.ListEvents(ctx, nil))(t); len(l.Data) != 1 {
			t.Fatalf("events = %d, want only the valid one", len(l.Data))
		}
		_, err = h.Client.GetEventType(ctx, "aml.hit")
		servertest.Refused(t, err, http.StatusNotFound)
	})
}

// The schema validator reads numbers as exact fractions: a number of a
// million digits cost it seconds of CPU, and one with an exponent of ten
// million made it panic. Such numbers are refused before it reads them.
// (Numbers beyond float64's range are refused earlier, as huma refuses
// them; these are within it.)
func TestNumbersTooLargeForASchemaToJudgeAreRefusedNamingTheField(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		_, err := h.Client.PutEventType(ctx, "check.scored", &client.EventTypePut{
			Schema: json.RawMessage(`{"type": "object", "properties": {"score": {"multipleOf": 1e-9999999}}}`),
		})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); len(e.Errors) == 0 || e.Errors[0].Location != "body.schema.properties.score.multipleOf" {
			t.Fatalf("schema problem = %+v", e)
		}
		servertest.Must(h.Client.PutEventType(ctx, "check.scored", &client.EventTypePut{
			Schema: json.RawMessage(`{"type": "object", "properties": {"score": {"minimum": 0, "multipleOf": 0.5}}}`),
		}))(t)
		for _, score := range []string{"1e-99999999", "-2E-1001", "0." + strings.Repeat("7", 900<<10)} {
			start := time.Now()
			_, err := sc.Publish(ctx, &client.PublishEvent{Type: "check.scored", Data: json.RawMessage(`{"score": ` + score + `}`)})
			if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); len(e.Errors) == 0 || e.Errors[0].Location != "body.data.score" {
				t.Fatalf("problem for a score of %d characters = %+v", len(score), e)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("refusing a score of %d characters took %v", len(score), took)
			}
			_, err = sc.PublishBatch(ctx, []client.PublishEvent{{Type: "check.scored", Data: json.RawMessage(`{"score": 1}`)},
				{Type: "check.scored", Data: json.RawMessage(`{"score": ` + score + `}`)}})
			if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); len(e.Errors) == 0 || e.Errors[0].Location != "body.events[1].data.score" {
				t.Fatalf("batch problem for a score of %d characters = %+v", len(score), e)
			}
		}
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.scored", Data: json.RawMessage(`{"score": 1.5e2}`)})
		if l := servertest.Must(sc.ListEvents(ctx, nil))(t); len(l.Data) != 1 {
			t.Fatalf("events = %d, want only the valid one", len(l.Data))
		}
	})
}

func TestATenantNeverSeesAnotherTenantsData(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		h.Tenant("globex")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{}`)})
		servertest.Eventually(t, 5*time.Second, "the delivery", func() bool { return len(h.Deliveries("acme", "sandbox", nil)) == 1 })
		d := h.Deliveries("acme", "sandbox", nil)[0]
		for _, scope := range [][2]string{{"globex", "sandbox"}, {"acme", "production"}} {
			sc := h.As(scope[0], scope[1])
			_, err := sc.GetEndpoint(ctx, ep.ID)
			servertest.Refused(t, err, http.StatusNotFound)
			_, err = sc.GetEvent(ctx, p.ID)
			servertest.Refused(t, err, http.StatusNotFound)
			_, err = sc.GetDelivery(ctx, d.ID)
			servertest.Refused(t, err, http.StatusNotFound)
			_, err = sc.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{Status: client.Ptr(client.EndpointPaused)})
			servertest.Refused(t, err, http.StatusNotFound)
			servertest.Refused(t, sc.DeleteEndpoint(ctx, ep.ID), http.StatusNotFound)
			_, err = sc.RetryDelivery(ctx, d.ID)
			servertest.Refused(t, err, http.StatusNotFound)
			if l := servertest.Must(sc.ListEndpoints(ctx, nil))(t); len(l.Data) != 0 {
				t.Fatalf("endpoints as %v lists %d items of acme/sandbox", scope, len(l.Data))
			}
			if l := servertest.Must(sc.ListEvents(ctx, nil))(t); len(l.Data) != 0 {
				t.Fatalf("events as %v lists %d items of acme/sandbox", scope, len(l.Data))
			}
			if l := servertest.Must(sc.ListDeliveries(ctx, nil))(t); len(l.Data) != 0 {
				t.Fatalf("deliveries as %v lists %d items of acme/sandbox", scope, len(l.Data))
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
			var p client.Error
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
		ctx := t.Context()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		const u = "http://127.0.0.1:9/x"
		cases := []struct {
			name     string
			in       client.EndpointCreate
			location string
		}{
			{"no url", client.EndpointCreate{Name: "x"}, "body.url"},
			{"ftp url", client.EndpointCreate{URL: "ftp://example.com/x"}, "body.url"},
			{"reserved header", client.EndpointCreate{URL: u, Headers: map[string]string{"webhook-signature": "x"}}, "body.headers.webhook-signature"},
			{"bad filter", client.EndpointCreate{URL: u, EventTypes: []string{"check.**"}}, "body.event_types[0]"},
			{"bad delay", client.EndpointCreate{URL: u, RetryPolicy: &client.RetryPolicy{Delays: []string{"5s", "soon"}}}, "body.retry_policy.delays[1]"},
			{"bad preset", client.EndpointCreate{URL: u, RetryPolicy: &client.RetryPolicy{Preset: "forever"}}, "body.retry_policy.preset"},
			{"timeout too long", client.EndpointCreate{URL: u, TimeoutMS: client.Ptr(600000)}, "body.timeout_ms"},
			{"bad success", client.EndpointCreate{URL: u, Success: "3xx"}, "body.success"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := sc.CreateEndpoint(ctx, &c.in)
				if !names(servertest.Refused(t, err, http.StatusUnprocessableEntity), c.location) {
					t.Fatalf("problem %v does not name %s", err, c.location)
				}
			})
		}
		// A field the API does not know: only a raw body can carry one.
		t.Run("unknown field", func(t *testing.T) {
			r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/endpoints", Tenant: "acme", Env: "sandbox",
				Body: map[string]any{"url": u, "colour": "red"}})
			var p client.Error
			r.JSON(t, &p)
			if !names(&p, "body.colour") {
				t.Fatalf("problem %s does not name body.colour", r.Body)
			}
		})
		_, err := sc.Publish(ctx, &client.PublishEvent{Type: "a b", Data: json.RawMessage(`{}`)})
		servertest.Refused(t, err, http.StatusUnprocessableEntity)
		_, err = sc.Publish(ctx, &client.PublishEvent{Type: "a.b", Data: json.RawMessage(`[1]`)})
		servertest.Refused(t, err, http.StatusUnprocessableEntity)
		h.Must(http.StatusBadRequest, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: `{"type":`})
		_, err = h.Client.CreateTenant(ctx, &client.TenantCreate{ID: "Acme Bank", Name: "x"})
		servertest.Refused(t, err, http.StatusUnprocessableEntity)
		eps := servertest.Must(sc.ListEndpoints(ctx, nil))(t)
		evs := servertest.Must(sc.ListEvents(ctx, nil))(t)
		if len(eps.Data) != 0 || len(evs.Data) != 0 {
			t.Fatalf("refused requests left %d endpoints and %d events", len(eps.Data), len(evs.Data))
		}
	})
}

// names reports whether a refusal names the location among its errors.
func names(e *client.Error, location string) bool {
	for _, f := range e.Errors {
		if f.Location == location {
			return true
		}
	}
	return false
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
			_, err := h.As("acme", "sandbox").CreateEndpoint(t.Context(), &client.EndpointCreate{URL: u})
			if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); len(e.Errors) == 0 || e.Errors[0].Location != "body.url" {
				t.Fatalf("%s: problem %v", u, e)
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
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
		rc.Next(5 * time.Second)
		servertest.Eventually(t, 5*time.Second, "the endpoint to be disabled", func() bool {
			return servertest.Must(h.As("acme", "sandbox").GetEndpoint(t.Context(), ep.ID))(t).Status == client.EndpointDisabled
		})
		if ds := h.Deliveries("acme", "sandbox", nil); ds[0].Status != client.DeliveryFailed || ds[0].AttemptCount != 1 {
			t.Fatalf("delivery after 410 = %+v", ds[0])
		}
		if p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)}); p.Deliveries != 0 {
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
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Preset: "none"}, Success: "json-or-204"})
		rc.Trust(ep.Secret)
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
		rc.Next(5 * time.Second)
		var d client.Delivery
		servertest.Eventually(t, 5*time.Second, "the delivery to fail", func() bool {
			ds := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{Status: client.DeliveryFailed})
			if len(ds) == 1 {
				d = ds[0]
			}
			return len(ds) == 1
		})
		servertest.Must(h.As("acme", "sandbox").RetryDelivery(t.Context(), d.ID))(t)
		again := rc.Next(5 * time.Second)
		if again.ID != p.ID || again.Valid != nil {
			t.Fatalf("retry arrived as %s (%v), want %s", again.ID, again.Valid, p.ID)
		}
		servertest.Eventually(t, 5*time.Second, "the retry to succeed", func() bool {
			return h.Delivery("acme", "sandbox", d.ID).Status == client.DeliverySucceeded
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
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"1s"}}})
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
		rc.Next(5 * time.Second)
		var next time.Time
		servertest.Eventually(t, 5*time.Second, "the retry to be scheduled", func() bool {
			d := h.Delivery("acme", "sandbox", h.Deliveries("acme", "sandbox", nil)[0].ID)
			if d.NextAttemptAt != nil {
				next = *d.NextAttemptAt
			}
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
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
		rc.Trust(ep.Secret)
		_, err := sc.PublishBatch(ctx, []client.PublishEvent{
			{Type: "a.b", Data: json.RawMessage(`{}`)},
			{Type: "a.b", Data: json.RawMessage(`"not an object"`)},
		})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); len(e.Errors) == 0 || e.Errors[0].Location != "body.events[1].data" {
			t.Fatalf("problem = %v", e)
		}
		if none := servertest.Must(sc.ListEvents(ctx, nil))(t); len(none.Data) != 0 {
			t.Fatalf("a refused batch stored %d events", len(none.Data))
		}
		res := servertest.Must(sc.PublishBatch(ctx, []client.PublishEvent{
			{Type: "a.b", Data: json.RawMessage(`{"i":1}`), IdempotencyKey: "k1"},
			{Type: "a.b", Data: json.RawMessage(`{"i":2}`)},
			{Type: "a.b", Data: json.RawMessage(`{"i":3}`)},
		}))(t)
		if len(res) != 3 || res[0].Deliveries != 1 || res[0].Replayed {
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
		for _, d := range res {
			if !seen[d.ID] {
				t.Fatalf("event %s of the batch was not delivered", d.ID)
			}
		}
		res = servertest.Must(sc.PublishBatch(ctx, []client.PublishEvent{{Type: "a.b", Data: json.RawMessage(`{"i":1}`), IdempotencyKey: "k1"}}))(t)
		if !res[0].Replayed {
			t.Fatalf("replayed item = %+v", res[0])
		}
	})
}

// Each call that makes something answers with the status its operation
// documents: 201 for a new resource, 202 for an accepted event, 204 for a
// deletion. The typed client only sees success, so this reads the wire.
func TestSuccessStatusesAreTheDocumentedOnes(t *testing.T) {
	h := servertest.Start(t)
	h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/tenants", Body: map[string]string{"id": "acme", "name": "Acme"}})
	h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/tenants/acme/api-keys", Body: map[string]string{"environment": "sandbox"}})
	h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/tenants/acme/portal-sessions", Body: map[string]string{"environment": "sandbox"}})
	h.Must(http.StatusCreated, servertest.Call{Method: "PUT", Path: "/v1/event-types/a.b", Body: map[string]string{"description": "new"}})
	h.Must(http.StatusOK, servertest.Call{Method: "PUT", Path: "/v1/event-types/a.b", Body: map[string]string{"description": "replaced"}})
	var ep client.EndpointWithSecret
	h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/endpoints", Tenant: "acme", Env: "sandbox", Body: map[string]string{"url": "http://127.0.0.1:9/x"}}).JSON(t, &ep)
	h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: map[string]any{"type": "a.b", "data": map[string]any{}}})
	h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events/batch", Tenant: "acme", Env: "sandbox", Body: map[string]any{"events": []any{map[string]any{"type": "a.b", "data": map[string]any{}}}}})
	h.Must(http.StatusNoContent, servertest.Call{Method: "DELETE", Path: "/v1/endpoints/" + ep.ID, Tenant: "acme", Env: "sandbox"})
}
