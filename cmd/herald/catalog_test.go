package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/catalog"
)

func TestTheKYCCatalogIsRegisteredAtStart(t *testing.T) {
	h := startHerald(t)
	var l struct {
		Data []struct {
			Name       string `json:"name"`
			Sensitive  bool   `json:"sensitive"`
			TTLSeconds int    `json:"ttl_seconds"`
			Example    any    `json:"example"`
			Schema     any    `json:"schema"`
		} `json:"data"`
	}
	h.must(http.StatusOK, call{method: "GET", path: "/v1/event-types"}).json(t, &l)
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
	h.must(http.StatusOK, call{method: "PUT", path: "/v1/event-types/webhook.test", body: map[string]any{"description": "ours"}})
}

// An OTP event carries a one-time code to a tenant that sends the SMS
// itself. The code reaches the receiver and appears nowhere in the API or
// the delivery log afterwards.
func TestAnOTPCodeNeverAppearsInTheDeliveryLog(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		h.tenant("acme")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		rc.trust(ep.Secret)
		const code = "493817"
		p := h.publish("acme", "sandbox", map[string]any{"type": "message.otp.requested", "job": map[string]string{"id": "job_otp"},
			"data": map[string]any{"status": "requested", "channel": "sms", "to": "+995512345678", "code": code, "text": "Your code is " + code,
				"purpose": "phone_verification", "expires_at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)}})
		got := rc.next(5 * time.Second)
		if got.Valid != nil || !strings.Contains(string(got.Event.Data), code) {
			t.Fatalf("the receiver did not get the code: %v %s", got.Valid, got.Event.Data)
		}
		eventually(t, 5*time.Second, "the delivery to be recorded", func() bool {
			return len(h.deliveries("acme", "sandbox", "?status=succeeded")) == 1
		})
		d := h.deliveries("acme", "sandbox", "")[0]
		for _, path := range []string{"/v1/deliveries", "/v1/deliveries/" + d.ID, "/v1/events", "/v1/events/" + p.ID, "/v1/jobs/job_otp"} {
			body := h.must(http.StatusOK, call{method: "GET", path: path, tenant: "acme", env: "sandbox"}).body
			if strings.Contains(string(body), code) {
				t.Fatalf("GET %s shows the one-time code: %s", path, body)
			}
		}
		// Once erased, the code cannot be resent: a resend sends nothing,
		// least of all the placeholder, and says why.
		h.must(http.StatusAccepted, call{method: "POST", path: "/v1/deliveries/" + d.ID + "/retry", tenant: "acme", env: "sandbox"})
		rc.quiet(700 * time.Millisecond)
		eventually(t, 5*time.Second, "the resend to be cancelled", func() bool {
			return h.delivery("acme", "sandbox", d.ID).Status == "cancelled"
		})
	})
}

func TestAnExpiredOTPIsNotRetried(t *testing.T) {
	h := startHerald(t)
	rc := newReceiver(t)
	rc.respond(func(int, *http.Request) int { return http.StatusServiceUnavailable })
	h.tenant("acme")
	// A short TTL so the test need not wait five minutes.
	h.must(http.StatusOK, call{method: "PUT", path: "/v1/event-types/message.otp.requested", body: map[string]any{
		"description": "short-lived for the test", "sensitive": true, "ttl_seconds": 1,
	}})
	h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"delays": []string{"1500ms"}}})
	h.publish("acme", "sandbox", map[string]any{"type": "message.otp.requested", "data": map[string]any{"code": "111222"}})
	rc.next(5 * time.Second) // the first attempt, inside the TTL, fails
	rc.quiet(2500 * time.Millisecond)
	var d deliveryView
	eventually(t, 5*time.Second, "the delivery to be cancelled", func() bool {
		ds := h.deliveries("acme", "sandbox", "")
		d = ds[0]
		return d.Status == "cancelled"
	})
	full := h.delivery("acme", "sandbox", d.ID)
	if len(full.Attempts) != 2 || full.Attempts[1].ResponseStatus != 0 {
		t.Fatalf("attempts = %+v; want the failed one and the expiry, with no request", full.Attempts)
	}
}
