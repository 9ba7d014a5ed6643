package signals_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/signals"
)

// operatorSecret signs the operator webhook of these tests.
var operatorSecret = "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

// payload is the data of an operational event, as a receiver decodes it.
type payload struct {
	Status          string     `json:"status"`
	TenantID        string     `json:"tenant_id"`
	Environment     string     `json:"environment"`
	EndpointID      string     `json:"endpoint_id"`
	EndpointURL     string     `json:"endpoint_url"`
	EndpointName    string     `json:"endpoint_name"`
	Reason          string     `json:"reason"`
	OccurredAt      time.Time  `json:"occurred_at"`
	DeliveryID      string     `json:"delivery_id"`
	EventID         string     `json:"event_id"`
	EventType       string     `json:"event_type"`
	Attempts        int        `json:"attempts"`
	Count           int        `json:"count"`
	FirstOccurredAt *time.Time `json:"first_occurred_at"`
}

// verified waits for the next request of rc, checks that it verifies with
// the webhook package (the receiver trusts its endpoint's secret), is of
// type typ, and that its data satisfies the catalog's schema for typ.
func verified(t *testing.T, rc *servertest.Receiver, typ string) payload {
	t.Helper()
	r := rc.Next(10 * time.Second)
	if r.Valid != nil {
		t.Fatalf("%s: the signature does not verify: %v", typ, r.Valid)
	}
	if r.Event.Type != typ {
		t.Fatalf("got a %s, want a %s: %s", r.Event.Type, typ, r.Body)
	}
	if r.ID != r.Event.ID {
		t.Fatalf("webhook-id %s is not the event's id %s", r.ID, r.Event.ID)
	}
	checkSchema(t, typ, r.Event.Data)
	var p payload
	if err := json.Unmarshal(r.Event.Data, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkSchema validates data against the catalog's schema for typ.
func checkSchema(t *testing.T, typ string, data []byte) {
	t.Helper()
	et, ok := catalog.Lookup(typ)
	if !ok {
		t.Fatalf("%s is not in the catalog", typ)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(et.Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("herald:schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("herald:schema.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("%s data %s does not satisfy the catalog's schema: %v", typ, data, err)
	}
}

// withOperator starts Herald with an operator webhook whose receiver
// trusts operatorSecret, and the tenant acme.
func withOperator(t *testing.T, start servertest.Starter) (*servertest.Herald, *servertest.Receiver) {
	t.Helper()
	operator := servertest.NewReceiver(t)
	operator.Trust(operatorSecret)
	h := start(servertest.WithOperatorWebhook(operator.URL, operatorSecret))
	h.Tenant("acme")
	return h, operator
}

// TestEndpointEventsReachSubscribersAndTheOperatorSigned drives the
// process's Signals as the circuit breaker does: each of circuit_opened,
// disabled and recovered reaches the tenant's endpoint subscribed to
// endpoint.* and the operator webhook, each verifying with its own secret,
// while an endpoint subscribed to "*" and one without a filter receive none.
func TestEndpointEventsReachSubscribersAndTheOperatorSigned(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h, operator := withOperator(t, start)
		subject := servertest.NewReceiver(t)
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: subject.URL + "/hook?token=s3cret", Name: "KYC decisions"})
		watch := servertest.NewReceiver(t)
		w := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: watch.URL, EventTypes: []string{"endpoint.*"}})
		watch.Trust(w.Secret)
		star := servertest.NewReceiver(t)
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: star.URL, EventTypes: []string{"*"}})
		all := servertest.NewReceiver(t)
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: all.URL})

		status := map[string]string{
			domain.SignalCircuitOpened: "circuit_open", domain.SignalEndpointDisabled: "disabled", domain.SignalEndpointRecovered: "active",
		}
		for _, typ := range []string{domain.SignalCircuitOpened, domain.SignalEndpointDisabled, domain.SignalEndpointRecovered} {
			at := time.Now().UTC().Truncate(time.Second)
			h.Server.Signals().Signal(t.Context(), domain.Signal{Type: typ, TenantID: "acme", Environment: domain.Sandbox,
				EndpointID: ep.ID, Reason: "the receiver answered 503", At: at})
			for name, rc := range map[string]*servertest.Receiver{"tenant": watch, "operator": operator} {
				p := verified(t, rc, typ)
				if p.Status != status[typ] || p.TenantID != "acme" || p.Environment != "sandbox" || p.EndpointID != ep.ID ||
					p.EndpointName != "KYC decisions" || p.Reason != "the receiver answered 503" || !p.OccurredAt.Equal(at) {
					t.Errorf("%s's %s: %+v", name, typ, p)
				}
				if p.EndpointURL != subject.URL+"/hook" {
					t.Errorf("%s's %s names the endpoint at %q; want its URL without the query", name, typ, p.EndpointURL)
				}
			}
		}
		star.Quiet(300 * time.Millisecond)
		all.Quiet(10 * time.Millisecond)
		subject.Quiet(10 * time.Millisecond)

		// The operator reads the webhook's deliveries in its own scope.
		ds := h.Deliveries(domain.OperatorTenantID, "production", &client.DeliveryListParams{Status: "succeeded"})
		if len(ds) != 3 {
			t.Fatalf("the operator's scope lists %d succeeded deliveries, want 3", len(ds))
		}
	})
}

// TestExhaustedDeliveryReachesSubscribersAndTheOperatorSigned runs it
// end to end: an endpoint with no retries fails a delivery; the tenant's
// endpoint subscribed to delivery.exhausted and the operator webhook each
// receive a delivery.exhausted that verifies and names it, and no one
// receives one about those deliveries in turn.
func TestExhaustedDeliveryReachesSubscribersAndTheOperatorSigned(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h, operator := withOperator(t, start)
		failing := servertest.NewReceiver(t)
		failing.Respond(func(int, *http.Request) int { return http.StatusInternalServerError })
		bad := h.Endpoint("acme", "production", client.EndpointCreate{URL: failing.URL + "?key=s3cret",
			EventTypes: []string{"verification.*"}, RetryPolicy: &client.RetryPolicy{Preset: "none"}})
		watch := servertest.NewReceiver(t)
		w := h.Endpoint("acme", "production", client.EndpointCreate{URL: watch.URL, EventTypes: []string{"delivery.exhausted"}})
		watch.Trust(w.Secret)
		all := servertest.NewReceiver(t)
		h.Endpoint("acme", "production", client.EndpointCreate{URL: all.URL})

		et, _ := catalog.Lookup("verification.approved")
		pub := h.Publish("acme", "production", client.PublishEvent{Type: "verification.approved", Data: et.Example})
		failing.Next(10 * time.Second)
		if r := all.Next(10 * time.Second); r.ID != pub.ID {
			t.Fatalf("the endpoint without a filter got %s, want the published event", r.ID)
		}
		ds := h.Deliveries("acme", "production", &client.DeliveryListParams{EndpointID: bad.ID})
		if len(ds) != 1 {
			t.Fatalf("%d deliveries to the failing endpoint", len(ds))
		}
		for name, rc := range map[string]*servertest.Receiver{"tenant": watch, "operator": operator} {
			p := verified(t, rc, domain.SignalDeliveryExhausted)
			if p.Status != "failed" || p.TenantID != "acme" || p.Environment != "production" || p.EndpointID != bad.ID ||
				p.DeliveryID != ds[0].ID || p.EventID != pub.ID || p.EventType != "verification.approved" ||
				p.Attempts != 1 || p.Count != 1 || p.FirstOccurredAt != nil {
				t.Errorf("%s's delivery.exhausted: %+v", name, p)
			}
			if p.EndpointURL != failing.URL || !strings.Contains(p.Reason, "gave up after 1 attempt: the receiver answered 500") {
				t.Errorf("%s's delivery.exhausted names %q, says %q", name, p.EndpointURL, p.Reason)
			}
		}
		// Operational events reach only endpoints that name them.
		all.Quiet(500 * time.Millisecond)
		failing.Quiet(10 * time.Millisecond)
	})
}

// TestAFailingReceiverOfExhaustedEventsDoesNotFeedItself: the deliveries of
// delivery.exhausted to a receiver that fails them run out too, and make no
// delivery.exhausted of their own.
func TestAFailingReceiverOfExhaustedEventsDoesNotFeedItself(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	failing := servertest.NewReceiver(t)
	failing.Respond(func(int, *http.Request) int { return http.StatusBadGateway })
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: failing.URL,
		EventTypes: []string{"verification.*", "delivery.exhausted"}, RetryPolicy: &client.RetryPolicy{Preset: "none"}})
	et, _ := catalog.Lookup("verification.approved")
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved", Data: et.Example})
	if r := failing.Next(10 * time.Second); !strings.Contains(string(r.Body), `"verification.approved"`) {
		t.Fatalf("first request: %s", r.Body)
	}
	if r := failing.Next(10 * time.Second); !strings.Contains(string(r.Body), `"delivery.exhausted"`) {
		t.Fatalf("second request: %s", r.Body)
	}
	failing.Quiet(1500 * time.Millisecond)
	evs := servertest.Must(h.As("acme", "sandbox").ListEvents(t.Context(), &client.EventListParams{}))(t).Data
	if len(evs) != 2 {
		t.Fatalf("%d events, want the published one and one delivery.exhausted", len(evs))
	}
}

// TestAnExhaustedFloodMakesAFewEvents: 10,000 exhausted deliveries of one
// endpoint, told within a window, are stored as two events in the tenant's
// scope and two in the operator's (the first at once, the rest counted into
// one), and telling them takes no time.
func TestAnExhaustedFloodMakesAFewEvents(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h, _ := withOperator(t, start)
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "https://hooks.example.com/kyc"})
		s := signals.New(signals.Config{Store: h.Store, Operator: true, Window: time.Hour})
		ctx, stop := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() { s.Run(ctx); close(ran) }()

		began := time.Now()
		for i := range 10000 {
			s.Signal(ctx, domain.Signal{Type: domain.SignalDeliveryExhausted, TenantID: "acme", Environment: domain.Sandbox,
				EndpointID: ep.ID, DeliveryID: "dlv_" + strings.Repeat("x", i%7), EventID: "evt_1", EventType: "verification.approved",
				DeliveryStatus: domain.DeliveryFailed, Attempts: 8, Reason: "gave up after 8 attempts: the receiver answered 500"})
		}
		if took := time.Since(began); took > 2*time.Second {
			t.Fatalf("telling 10,000 exhausted deliveries took %s", took)
		}
		stop() // counts what the window holds into an event, and stores it
		<-ran

		for _, sc := range []struct{ tenant, env string }{{"acme", "sandbox"}, {domain.OperatorTenantID, "production"}} {
			evs := servertest.Must(h.As(sc.tenant, sc.env).ListEvents(t.Context(), &client.EventListParams{Limit: 500}))(t).Data
			total := 0
			var counts []int
			for _, ev := range evs {
				if ev.Type != domain.SignalDeliveryExhausted {
					continue
				}
				checkSchema(t, ev.Type, ev.Data)
				var p payload
				if err := json.Unmarshal(ev.Data, &p); err != nil {
					t.Fatal(err)
				}
				counts = append(counts, p.Count)
				total += p.Count
			}
			if len(counts) != 2 || counts[0] != 1 || counts[1] != 9999 || total != 10000 {
				t.Fatalf("%s: delivery.exhausted events counting %v, want [1 9999]", sc.tenant, counts)
			}
		}
	})
}

// TestOperationalEventsArePublishedByHeraldOnly: a tenant cannot publish
// one (receivers can trust an endpoint.disabled), but may send a test of
// one to its endpoint.
func TestOperationalEventsArePublishedByHeraldOnly(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, EventTypes: []string{"endpoint.disabled"}})
	rc.Trust(ep.Secret)
	et, _ := catalog.Lookup(domain.SignalEndpointDisabled)
	_, err := h.As("acme", "sandbox").Publish(t.Context(), &client.PublishEvent{Type: domain.SignalEndpointDisabled, Data: et.Example})
	e := servertest.Refused(t, err, http.StatusUnprocessableEntity)
	if !strings.Contains(e.Error(), "body.type") {
		t.Fatalf("the refusal does not name body.type: %v", e)
	}
	_, err = h.As("acme", "sandbox").PublishBatch(t.Context(), []client.PublishEvent{{Type: domain.SignalDeliveryExhausted, Data: et.Example}})
	if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "body.events[0].type") {
		t.Fatalf("the refusal does not name body.events[0].type: %v", e)
	}
	res := servertest.Must(h.As("acme", "sandbox").TestEndpoint(t.Context(), ep.ID, &client.TestSend{EventType: domain.SignalEndpointDisabled}))(t)
	if res.Status != "succeeded" {
		t.Fatalf("test send: %+v", res)
	}
	if r := rc.Next(5 * time.Second); r.Valid != nil || r.Event.Type != domain.SignalEndpointDisabled || !r.Event.Test {
		t.Fatalf("test send arrived as %+v", r)
	}
}
