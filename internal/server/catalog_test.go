package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"

	"github.com/heraldhq/herald/internal/catalog"
)

func TestTheKYCCatalogIsRegisteredAtStart(t *testing.T) {
	h := servertest.Start(t)
	l := servertest.Must(h.Client.ListEventTypes(t.Context()))(t)
	if len(l.Data) != len(catalog.Types()) || len(l.Data) < 25 {
		t.Fatalf("%d event types registered, want the %d built in", len(l.Data), len(catalog.Types()))
	}
	absent := func(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }
	for _, et := range l.Data {
		if absent(et.Example) || absent(et.Schema) {
			t.Errorf("%s has no schema or example", et.Name)
		}
		if strings.HasPrefix(et.Name, "message.") && (!et.Sensitive || et.TTLSeconds == 0) {
			t.Errorf("%s is not sensitive with a TTL", et.Name)
		}
	}
	// An operator's change survives a restart: seeding only adds.
	servertest.Must(h.Client.PutEventType(t.Context(), "webhook.test", &client.EventTypePut{Description: "ours"}))(t)
}

// An OTP event carries a one-time code to a tenant that sends the SMS
// itself. The code reaches the receiver and appears nowhere in the API or
// the delivery log afterwards.
func TestAnOTPCodeNeverAppearsInTheDeliveryLog(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
		rc.Trust(ep.Secret)
		const code = "493817"
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "message.otp.requested", Job: &client.JobRef{ID: "job_otp"},
			Data: servertest.JSON(map[string]any{"status": "requested", "channel": "sms", "to": "+995512345678", "code": code, "text": "Your code is " + code,
				"purpose": "phone_verification", "expires_at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)})})
		got := rc.Next(5 * time.Second)
		if got.Valid != nil || !strings.Contains(string(got.Event.Data), code) {
			t.Fatalf("the receiver did not get the code: %v %s", got.Valid, got.Event.Data)
		}
		servertest.Eventually(t, 5*time.Second, "the delivery to be recorded", func() bool {
			return len(h.Deliveries("acme", "sandbox", &client.DeliveryListParams{Status: client.DeliverySucceeded})) == 1
		})
		d := h.Deliveries("acme", "sandbox", nil)[0]
		// Raw: no field of any answer, known to the client or not, may hold the code.
		for _, path := range []string{"/v1/deliveries", "/v1/deliveries/" + d.ID, "/v1/events", "/v1/events/" + p.ID, "/v1/jobs/job_otp"} {
			body := h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: path, Tenant: "acme", Env: "sandbox"}).Body
			if strings.Contains(string(body), code) {
				t.Fatalf("GET %s shows the one-time code: %s", path, body)
			}
		}
		// Once erased, the code cannot be resent: a resend sends nothing,
		// least of all the placeholder, and says why.
		servertest.Must(h.As("acme", "sandbox").RetryDelivery(t.Context(), d.ID))(t)
		rc.Quiet(700 * time.Millisecond)
		servertest.Eventually(t, 5*time.Second, "the resend to be cancelled", func() bool {
			return h.Delivery("acme", "sandbox", d.ID).Status == client.DeliveryCancelled
		})
	})
}

func TestAnExpiredOTPIsNotRetried(t *testing.T) {
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	rc.Respond(func(int, *http.Request) int { return http.StatusServiceUnavailable })
	h.Tenant("acme")
	// A short TTL so the test need not wait five minutes.
	servertest.Must(h.Client.PutEventType(t.Context(), "message.otp.requested", &client.EventTypePut{
		Description: "short-lived for the test", Sensitive: true, TTLSeconds: 1,
	}))(t)
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"1500ms"}}})
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "message.otp.requested", Data: json.RawMessage(`{"code":"111222"}`)})
	rc.Next(5 * time.Second) // the first attempt, inside the TTL, fails
	// The retry would come after the TTL: it is not made, and the delivery
	// ends at once, cancelled, saying why.
	var d client.Delivery
	servertest.Eventually(t, 5*time.Second, "the delivery to be cancelled", func() bool {
		d = h.Deliveries("acme", "sandbox", nil)[0]
		return d.Status == client.DeliveryCancelled
	})
	rc.Quiet(2500 * time.Millisecond)
	full := h.Delivery("acme", "sandbox", d.ID)
	if len(full.Attempts) != 1 || full.Attempts[0].ResponseStatus != http.StatusServiceUnavailable ||
		!strings.Contains(full.Attempts[0].Error, "not retried: the event expires") {
		t.Fatalf("attempts = %+v; want the failed one alone, naming the expiry", full.Attempts)
	}
}
