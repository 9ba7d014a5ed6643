package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestDeliveryArrivesSignedWithTheEnvelopeAndIsLogged(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		ep := h.Endpoint("acme", "production", client.EndpointCreate{
			URL: rc.URL + "/hook", Name: "main", EventTypes: []string{"check.*"}, AllowUnregisteredTypes: true,
			Headers: map[string]string{"X-Api-Key": "k-1234567890abcdef", "X-Team": "kyc"},
		})
		if !strings.HasPrefix(ep.Secret, "whsec_") {
			t.Fatalf("secret %q lacks the whsec_ prefix", ep.Secret)
		}
		rc.Trust(ep.Secret)
		p := h.Publish("acme", "production", client.PublishEvent{
			Type: "check.approved", Final: true,
			Data: json.RawMessage(`{"status": "approved", "score": 0.98}`),
			Job:  &client.JobRef{ID: "job_7f3a", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id": "u-123"}`)},
		})
		if p.Deliveries != 1 || !strings.HasPrefix(p.ID, "evt_") {
			t.Fatalf("publish = %+v", p)
		}
		got := rc.Next(5 * time.Second)
		if got.Valid != nil {
			t.Fatalf("signature did not verify: %v", got.Valid)
		}
		ev := got.Event
		if got.ID != p.ID || ev.ID != p.ID || ev.Type != "check.approved" || ev.Environment != "production" || ev.TenantID != "acme" || !ev.Final {
			t.Fatalf("envelope = %+v", ev)
		}
		if ev.Job == nil || ev.Job.ID != "job_7f3a" || ev.Job.Kind != "kyc" || string(ev.Job.PartnerParams) != `{"user_id": "u-123"}` {
			t.Fatalf("job = %+v", ev.Job)
		}
		var data map[string]any
		if err := json.Unmarshal(ev.Data, &data); err != nil || data["status"] != "approved" {
			t.Fatalf("data = %s", ev.Data)
		}
		if got.Header.Get("X-Api-Key") != "k-1234567890abcdef" || got.Header.Get("X-Team") != "kyc" {
			t.Fatalf("custom headers missing: %v", got.Header)
		}
		if ua := got.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Herald/") {
			t.Fatalf("user-agent = %q", ua)
		}
		if ct := got.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content-type = %q", ct)
		}

		var d *client.Delivery
		servertest.Eventually(t, 5*time.Second, "the delivery to be recorded", func() bool {
			ds := h.Deliveries("acme", "production", &client.DeliveryListParams{EventID: p.ID})
			if len(ds) == 1 && ds[0].Status == client.DeliverySucceeded {
				d = h.Delivery("acme", "production", ds[0].ID)
				return true
			}
			return false
		})
		if d.AttemptCount != 1 || len(d.Attempts) != 1 || d.EndpointID != ep.ID {
			t.Fatalf("delivery = %+v", d)
		}
		a := d.Attempts[0]
		if a.ResponseStatus != 200 || a.ResponseBody != `{"received":true}` || a.ResponseHeaders["Content-Type"] != "application/json" || a.ErrorClass != "" {
			t.Fatalf("attempt = %+v", a)
		}
		if a.RequestHeaders["webhook-id"] != p.ID || a.RequestHeaders["X-Team"] != "kyc" {
			t.Fatalf("request headers = %v", a.RequestHeaders)
		}
		if v := a.RequestHeaders["X-Api-Key"]; v == "k-1234567890abcdef" || !strings.HasSuffix(v, "cdef") {
			t.Fatalf("X-Api-Key not masked in the log: %q", v)
		}
	})
}

func TestFailingReceiverGetsTheEventOnTheThirdAttemptWithTheSameID(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(n int, _ *http.Request) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"200ms", "200ms", "1h"}}})
		rc.Trust(ep.Secret)
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{}`)})
		var ids []string
		for i := 0; i < 3; i++ {
			r := rc.Next(10 * time.Second)
			if r.Valid != nil {
				t.Fatalf("attempt %d: %v", i+1, r.Valid)
			}
			ids = append(ids, r.ID)
		}
		if ids[0] != p.ID || ids[1] != p.ID || ids[2] != p.ID {
			t.Fatalf("webhook-ids = %v, want %s each time", ids, p.ID)
		}
		rc.Quiet(300 * time.Millisecond)
		servertest.Eventually(t, 5*time.Second, "success to be recorded", func() bool {
			ds := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{Status: client.DeliverySucceeded})
			return len(ds) == 1 && ds[0].AttemptCount == 3
		})
		d := h.Delivery("acme", "sandbox", h.Deliveries("acme", "sandbox", nil)[0].ID)
		if len(d.Attempts) != 3 || d.Attempts[0].ResponseStatus != 500 || d.Attempts[0].ErrorClass != "http" || d.Attempts[2].ResponseStatus != 200 {
			t.Fatalf("attempt log = %+v", d.Attempts)
		}
	})
}

// The dispatcher keeps the endpoints it prepared between claims while the
// claim finds them unchanged: a change of URL, or of secret, must still be
// honoured by the very next delivery.
func TestEndpointChangesApplyToTheNextDelivery(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		first, second := servertest.NewReceiver(t), servertest.NewReceiver(t)
		h.Tenant("acme")
		ep := h.Endpoint("acme", "production", client.EndpointCreate{URL: first.URL + "/hook"})
		first.Trust(ep.Secret)
		data := json.RawMessage(`{"n":1}`)
		p := h.Publish("acme", "production", client.PublishEvent{Type: "check.approved", Data: data})
		if got := first.Next(5 * time.Second); got.ID != p.ID || got.Valid != nil {
			t.Fatalf("first delivery: id %s (want %s), signature %v", got.ID, p.ID, got.Valid)
		}

		sc := h.As("acme", "production")
		servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{URL: client.Ptr(second.URL + "/hook")}))(t)
		p = h.Publish("acme", "production", client.PublishEvent{Type: "check.approved", Data: data})
		got := second.Next(5 * time.Second)
		if got.ID != p.ID {
			t.Fatalf("after the URL changed the new receiver got %q, want %s", got.ID, p.ID)
		}

		rotated := servertest.Must(sc.RotateEndpointSecret(t.Context(), ep.ID, &client.SecretRotation{}))(t)
		second.Trust(rotated.Secret)
		p = h.Publish("acme", "production", client.PublishEvent{Type: "check.approved", Data: data})
		got = second.Next(5 * time.Second)
		if got.ID != p.ID || got.Valid != nil {
			t.Fatalf("after the rotation: id %s (want %s), signature by the new secret: %v", got.ID, p.ID, got.Valid)
		}
		if n := strings.Count(got.Header.Get("webhook-signature"), "v1,"); n != 2 {
			t.Fatalf("during the rotation's grace both secrets sign; got %d signatures: %q", n, got.Header.Get("webhook-signature"))
		}
		first.Quiet(200 * time.Millisecond)
	})
}
