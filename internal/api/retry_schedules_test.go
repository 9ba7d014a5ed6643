package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// TestEventTypeRetryPolicyReplacesTheEndpointsAndTheTTLEndsIt: a type's
// own retry policy is the schedule of its events whatever the endpoint's;
// a retry that would fall after the event's TTL is not made; the catalog's
// action-required types come with the fast schedule; a bad policy is a
// 422 naming its field.
func TestEventTypeRetryPolicyReplacesTheEndpointsAndTheTTLEndsIt(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		api := h.As("acme", "sandbox")
		ctx := t.Context()
		for _, name := range []string{"message.otp.requested", "message.link.requested"} {
			et := servertest.Must(h.Client.GetEventType(ctx, name))(t)
			if et.RetryPolicy == nil || et.RetryPolicy.Preset != "fast" {
				t.Fatalf("%s retry policy %+v, want the fast preset", name, et.RetryPolicy)
			}
		}
		_, err := h.Client.PutEventType(ctx, "urgent.ask", &client.EventTypePut{RetryPolicy: &client.RetryPolicy{Preset: "hourly"}})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "body.retry_policy.preset") {
			t.Fatalf("refusal %v does not name body.retry_policy.preset", e)
		}
		servertest.Must(h.Client.PutEventType(ctx, "urgent.ask", &client.EventTypePut{
			RetryPolicy: &client.RetryPolicy{Delays: []string{"50ms", "50ms"}}}))(t)
		servertest.Must(h.Client.PutEventType(ctx, "brief.ask", &client.EventTypePut{
			TTLSeconds: 1, RetryPolicy: &client.RetryPolicy{Delays: []string{"3s"}}}))(t)
		servertest.Must(h.Client.PutEventType(ctx, "plain.ask", &client.EventTypePut{}))(t)

		rc := servertest.NewReceiver(t)
		var mu sync.Mutex
		tries := map[string]int{}
		rc.Respond(func(_ int, r *http.Request) int {
			body, _ := io.ReadAll(r.Body)
			var env struct{ Type string }
			_ = json.Unmarshal(body, &env)
			mu.Lock()
			defer mu.Unlock()
			tries[env.Type]++
			if env.Type == "urgent.ask" && tries[env.Type] > 2 {
				return http.StatusOK
			}
			return http.StatusInternalServerError
		})
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Preset: "none"}})
		ids := map[string]string{}
		for _, typ := range []string{"urgent.ask", "brief.ask", "plain.ask"} {
			ids[typ] = servertest.Must(api.Publish(ctx, &client.PublishEvent{Type: typ, Data: json.RawMessage(`{}`)}))(t).ID
		}
		deliveryOf := func(typ string) client.Delivery {
			l := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{EventID: ids[typ], EndpointID: ep.ID})
			if len(l) != 1 {
				t.Fatalf("%d deliveries of %s", len(l), typ)
			}
			return l[0]
		}
		servertest.Eventually(t, 30*time.Second, "every delivery finished", func() bool {
			for typ := range ids {
				if deliveryOf(typ).Status == client.DeliveryPending {
					return false
				}
			}
			return true
		})
		// The type's schedule (two retries), not the endpoint's none.
		if d := deliveryOf("urgent.ask"); d.Status != client.DeliverySucceeded || d.AttemptCount != 3 {
			t.Fatalf("urgent.ask: %s after %d attempts, want succeeded at the third", d.Status, d.AttemptCount)
		}
		// The endpoint's none for a type without a schedule.
		if d := deliveryOf("plain.ask"); d.Status != client.DeliveryFailed || d.AttemptCount != 1 {
			t.Fatalf("plain.ask: %s after %d attempts, want failed at the first", d.Status, d.AttemptCount)
		}
		// A retry 3 s on would be past the 1 s TTL: not made.
		if d := deliveryOf("brief.ask"); d.Status != client.DeliveryFailed || d.AttemptCount != 1 ||
			!strings.Contains(d.LastError, "not retried: the event expires") {
			t.Fatalf("brief.ask: %s after %d attempts (%q), want failed at the first, its TTL named", d.Status, d.AttemptCount, d.LastError)
		}
	})
}
