package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// One event per call to a receiver, alone: each delivery is handed to the
// dispatcher at publish (no claim takes it), arrives once, signed, and one
// whose attempt failed is retried by a claim like any other.
func TestSinglePublishesAreHandedToTheDispatcherSentOnceAndRetriedByAClaim(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start(servertest.WithMetrics(t))
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"1s"}}})
		rc.Trust(ep.Secret)
		// The dispatcher takes deliveries at publish once its claims
		// have said it runs: a first event makes sure one has.
		warm := h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": -1})})
		if r := rc.Next(10 * time.Second); r.ID != warm.ID {
			t.Fatalf("got %s, want the first event %s", r.ID, warm.ID)
		}
		before, _ := value(scrape(t, h.MetricsURL), "herald_deliveries_handed_over_total", nil)

		const events = 20
		// The first of them fails its first attempt (the warm-up was the
		// receiver's first request).
		rc.Respond(func(n int, _ *http.Request) int {
			if n == 2 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		ids := make([]string, events)
		for i := range ids {
			ids[i] = h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": i})}).ID
		}
		failed := ids[0]
		// Each arrives once, the failed one again a second later,
		// through a claim.
		arrivals := map[string]int{}
		for range events + 1 {
			r := rc.Next(10 * time.Second)
			if r.Valid != nil {
				t.Fatalf("%s: %v", r.ID, r.Valid)
			}
			arrivals[r.ID]++
		}
		rc.Quiet(300 * time.Millisecond)
		for _, id := range ids {
			if want := map[bool]int{true: 2, false: 1}[id == failed]; arrivals[id] != want {
				t.Errorf("%s arrived %d times, want %d", id, arrivals[id], want)
			}
		}
		servertest.Eventually(t, 10*time.Second, "every delivery logged as succeeded", func() bool {
			ds := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{Status: client.DeliverySucceeded, ListParams: client.ListParams{Limit: 100}})
			return len(ds) == events+1
		})
		m := scrape(t, h.MetricsURL)
		if after, _ := value(m, "herald_deliveries_handed_over_total", nil); after-before != events {
			t.Errorf("%v of %d deliveries were handed over at publish", after-before, events)
		}
		if v, _ := value(m, "herald_lease_takeovers_total", nil); v != 0 {
			t.Errorf("%v takeovers", v)
		}
	})
}
