package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

type deliveryView struct {
	ID           string `json:"id"`
	EventID      string `json:"event_id"`
	EndpointID   string `json:"endpoint_id"`
	Status       string `json:"status"`
	AttemptCount int    `json:"attempt_count"`
	Attempts     []struct {
		Number          int               `json:"number"`
		DurationMS      int64             `json:"duration_ms"`
		RequestHeaders  map[string]string `json:"request_headers"`
		ResponseStatus  int               `json:"response_status"`
		ResponseHeaders map[string]string `json:"response_headers"`
		ResponseBody    string            `json:"response_body"`
		ErrorClass      string            `json:"error_class"`
	} `json:"attempts"`
}

func (h *herald) deliveries(tenant, env, query string) []deliveryView {
	h.t.Helper()
	var l struct {
		Data       []deliveryView `json:"data"`
		NextCursor string         `json:"next_cursor"`
	}
	h.must(http.StatusOK, call{method: "GET", path: "/v1/deliveries" + query, tenant: tenant, env: env}).json(h.t, &l)
	return l.Data
}

func (h *herald) delivery(tenant, env, id string) deliveryView {
	h.t.Helper()
	var d deliveryView
	h.must(http.StatusOK, call{method: "GET", path: "/v1/deliveries/" + id, tenant: tenant, env: env}).json(h.t, &d)
	return d
}

func TestDeliveryArrivesSignedWithTheEnvelopeAndIsLogged(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		h.tenant("acme")
		ep := h.endpoint("acme", "production", map[string]any{
			"url": rc.URL + "/hook", "name": "main", "event_types": []string{"check.*"},
			"headers": map[string]string{"X-Api-Key": "k-1234567890abcdef", "X-Team": "kyc"},
		})
		if !strings.HasPrefix(ep.Secret, "whsec_") {
			t.Fatalf("secret %q lacks the whsec_ prefix", ep.Secret)
		}
		rc.trust(ep.Secret)
		p := h.publish("acme", "production", map[string]any{
			"type": "check.approved", "final": true,
			"data": map[string]any{"status": "approved", "score": 0.98},
			"job":  map[string]any{"id": "job_7f3a", "kind": "kyc", "partner_params": map[string]string{"user_id": "u-123"}},
		})
		if p.Deliveries != 1 || !strings.HasPrefix(p.ID, "evt_") {
			t.Fatalf("publish = %+v", p)
		}
		got := rc.next(5 * time.Second)
		if got.Valid != nil {
			t.Fatalf("signature did not verify: %v", got.Valid)
		}
		ev := got.Event
		if got.ID != p.ID || ev.ID != p.ID || ev.Type != "check.approved" || ev.Environment != "production" || ev.TenantID != "acme" || !ev.Final {
			t.Fatalf("envelope = %+v", ev)
		}
		if ev.Job == nil || ev.Job.ID != "job_7f3a" || ev.Job.Kind != "kyc" || string(ev.Job.PartnerParams) != `{"user_id":"u-123"}` {
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

		var d deliveryView
		eventually(t, 5*time.Second, "the delivery to be recorded", func() bool {
			ds := h.deliveries("acme", "production", "?event_id="+p.ID)
			if len(ds) == 1 && ds[0].Status == "succeeded" {
				d = h.delivery("acme", "production", ds[0].ID)
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
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		rc.respond(func(n int, _ *http.Request) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		h.tenant("acme")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"delays": []string{"200ms", "200ms", "1h"}}})
		rc.trust(ep.Secret)
		p := h.publish("acme", "sandbox", map[string]any{"type": "check.approved", "data": map[string]any{}})
		var ids []string
		for i := 0; i < 3; i++ {
			r := rc.next(10 * time.Second)
			if r.Valid != nil {
				t.Fatalf("attempt %d: %v", i+1, r.Valid)
			}
			ids = append(ids, r.ID)
		}
		if ids[0] != p.ID || ids[1] != p.ID || ids[2] != p.ID {
			t.Fatalf("webhook-ids = %v, want %s each time", ids, p.ID)
		}
		rc.quiet(300 * time.Millisecond)
		eventually(t, 5*time.Second, "success to be recorded", func() bool {
			ds := h.deliveries("acme", "sandbox", "?status=succeeded")
			return len(ds) == 1 && ds[0].AttemptCount == 3
		})
		d := h.deliveries("acme", "sandbox", "")[0]
		d = h.delivery("acme", "sandbox", d.ID)
		if len(d.Attempts) != 3 || d.Attempts[0].ResponseStatus != 500 || d.Attempts[0].ErrorClass != "http" || d.Attempts[2].ResponseStatus != 200 {
			t.Fatalf("attempt log = %+v", d.Attempts)
		}
	})
}
