package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/server/servertest"

	"github.com/heraldhq/herald/internal/catalog"
)

func TestTheKYCCatalogIsRegisteredAtStart(t *testing.T) {
	h := servertest.Start(t)
	var l struct {
		Data []struct {
			Name       string `json:"name"`
			Sensitive  bool   `json:"sensitive"`
			TTLSeconds int    `json:"ttl_seconds"`
			Example    any    `json:"example"`
			Schema     any    `json:"schema"`
		} `json:"data"`
	}
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/event-types"}).JSON(t, &l)
	if len(l.Data) != len(catalog.Types()) || len(l.Data) < 25 {
		t.Fatalf("%d event types registered, want the %d built in", len(l.Data), len(catalog.Types()))
	}
	for _, et := range l.Data {
		if et.Example == nil || et.Schema == nil {
			t.Errorf("%s has no schema or example", et.Name)
		}
		if strings.HasPrefix(et.Name, "message.") && (!et.Sensitive || et.TTLSeconds == 0) {
			t.Errorf("%s is not sensitive with a TTL", et.Name)
		}
	}
	// An operator's change survives a restart: seeding only adds.
	h.Must(http.StatusOK, servertest.Call{Method: "PUT", Path: "/v1/event-types/webhook.test", Body: map[string]any{"description": "ours"}})
}

// An OTP event carries a one-time code to a tenant that sends the SMS
// itself. The code reaches the receiver and appears nowhere in the API or
// the delivery log afterwards.
func TestAnOTPCodeNeverAppearsInTheDeliveryLog(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		rc.Trust(ep.Secret)
		const code = "493817"
		p := h.Publish("acme", "sandbox", map[string]any{"type": "message.otp.requested", "job": map[string]string{"id": "job_otp"},
			"data": map[string]any{"status": "requested", "channel": "sms", "to": "+995512345678", "code": code, "text": "Your code is " + code,
				"purpose": "phone_verification", "expires_at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)}})
		got := rc.Next(5 * time.Second)
		if got.Valid != nil || !strings.Contains(string(got.Event.Data), code) {
			t.Fatalf("the receiver did not get the code: %v %s", got.Valid, got.Event.Data)
		}
		servertest.Eventually(t, 5*time.Second, "the delivery to be recorded", func() bool {
			return len(h.Deliveries("acme", "sandbox", "?status=succeeded")) == 1
		})
		d := h.Deliveries("acme", "sandbox", "")[0]
		for _, path := range []string{"/v1/deliveries", "/v1/deliveries/" + d.ID, "/v1/events", "/v1/events/" + p.ID, "/v1/jobs/job_otp"} {
			body := h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: path, Tenant: "acme", Env: "sandbox"}).Body
			if strings.Contains(string(body), code) {
				t.Fatalf("GET %s shows the one-time code: %s", path, body)
			}
		}
		// Once erased, the code cannot be resent: a resend sends nothing,
		// least of all the placeholder, and says why.
		h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/deliveries/" + d.ID + "/retry", Tenant: "acme", Env: "sandbox"})
		rc.Quiet(700 * time.Millisecond)
		servertest.Eventually(t, 5*time.Second, "the resend to be cancelled", func() bool {
			return h.Delivery("acme", "sandbox", d.ID).Status == "cancelled"
		})
	})
}

func TestAnExpiredOTPIsNotRetried(t *testing.T) {
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	rc.Respond(func(int, *http.Request) int { return http.StatusServiceUnavailable })
	h.Tenant("acme")
	// A short TTL so the test need not wait five minutes.
	h.Must(http.StatusOK, servertest.Call{Method: "PUT", Path: "/v1/event-types/message.otp.requested", Body: map[string]any{
		"description": "short-lived for the test", "sensitive": true, "ttl_seconds": 1,
	}})
	h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"delays": []string{"1500ms"}}})
	h.Publish("acme", "sandbox", map[string]any{"type": "message.otp.requested", "data": map[string]any{"code": "111222"}})
	rc.Next(5 * time.Second) // the first attempt, inside the TTL, fails
	rc.Quiet(2500 * time.Millisecond)
	var d servertest.DeliveryView
	servertest.Eventually(t, 5*time.Second, "the delivery to be cancelled", func() bool {
		ds := h.Deliveries("acme", "sandbox", "")
		d = ds[0]
		return d.Status == "cancelled"
	})
	full := h.Delivery("acme", "sandbox", d.ID)
	if len(full.Attempts) != 2 || full.Attempts[1].ResponseStatus != 0 {
		t.Fatalf("attempts = %+v; want the failed one and the expiry, with no request", full.Attempts)
	}
}
