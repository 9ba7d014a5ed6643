package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// clock is the dispatcher's clock in a test: the real time moved forward
// by what the test advanced it.
type clock struct{ ahead atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *clock) Advance(d time.Duration) { c.ahead.Add(int64(d)) }
func (c *clock) option() servertest.Option {
	return func(s *servertest.Settings) { s.Config.Now = c.Now }
}

func withBreaker(b domain.Breaker) servertest.Option {
	return func(s *servertest.Settings) { s.Config.Breaker = b }
}

// failing is a receiver's answer that fails until recovered.
type failing struct {
	mu        sync.Mutex
	recovered bool
}

func (f *failing) answer(int, *http.Request) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recovered {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

func (f *failing) recover() { f.mu.Lock(); f.recovered = true; f.mu.Unlock() }

func healthOf(t *testing.T, c *client.Client, id string) *client.EndpointHealth {
	t.Helper()
	return servertest.Must(c.EndpointHealth(t.Context(), id))(t)
}

func historyKinds(h *client.EndpointHealth) string {
	var k []string
	for _, c := range h.History {
		k = append(k, c.Kind)
	}
	return strings.Join(k, ",")
}

func TestTheBreakerOpensProbesAndClosesWithoutSpendingAttempts(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		clk := &clock{}
		h := start(clk.option(), withBreaker(domain.Breaker{Threshold: 3, Window: time.Minute, Cooldown: time.Minute, DisableAfter: 120 * time.Hour}))
		h.Tenant("acme")
		acme := h.As("acme", "sandbox")
		rc := servertest.NewReceiver(t)
		f := &failing{}
		rc.Respond(f.answer)
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"1s", "1s", "1s"}}})
		for range 4 {
			h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
		}
		servertest.Eventually(t, 10*time.Second, "the circuit to open", func() bool {
			return healthOf(t, acme, ep.ID).Circuit == client.CircuitOpen
		})
		// Attempts in flight when it opened finish and are recorded.
		time.Sleep(500 * time.Millisecond)
		for len(rc.Arrived()) > 0 {
			<-rc.Arrived()
		}
		opened := healthOf(t, acme, ep.ID)
		if opened.NextProbeAt == nil || opened.ConsecutiveFailures < 3 || !strings.Contains(opened.LastError, "503") {
			t.Fatalf("open circuit's health = %+v", opened)
		}
		before := map[string]int{}
		for _, d := range h.Deliveries("acme", "sandbox", nil) {
			before[d.ID] = d.AttemptCount
		}

		// Their retries are due, the circuit is open: nothing goes, no
		// attempt is spent.
		clk.Advance(10 * time.Second)
		rc.Quiet(2 * time.Second)
		for _, d := range h.Deliveries("acme", "sandbox", nil) {
			if d.AttemptCount != before[d.ID] || d.Status != client.DeliveryPending {
				t.Fatalf("delivery %s deferred with %d attempts (had %d), %s", d.ID, d.AttemptCount, before[d.ID], d.Status)
			}
		}

		// The probe time: one delivery probes; it succeeds, the circuit
		// closes and the others follow, each with one more attempt only.
		f.recover()
		clk.Advance(time.Minute)
		servertest.Eventually(t, 10*time.Second, "every delivery to succeed", func() bool {
			for _, d := range h.Deliveries("acme", "sandbox", nil) {
				if d.Status != client.DeliverySucceeded {
					return false
				}
			}
			return true
		})
		for _, d := range h.Deliveries("acme", "sandbox", nil) {
			if d.AttemptCount != before[d.ID]+1 {
				t.Fatalf("delivery %s took %d attempts, had %d before the deferral", d.ID, d.AttemptCount, before[d.ID])
			}
		}
		closed := healthOf(t, acme, ep.ID)
		if closed.Circuit != client.CircuitClosed || closed.ConsecutiveFailures != 0 || historyKinds(closed) != "closed,half_open,opened" {
			t.Fatalf("health after recovery = %+v (history %s)", closed, historyKinds(closed))
		}
	})
}

func TestAnEndpointFailingForDaysIsDisabledAndItsTenantEnablesIt(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		clk := &clock{}
		// A threshold no test reaches: this is about disabling alone.
		h := start(clk.option(), withBreaker(domain.Breaker{Threshold: 1000}))
		h.Tenant("acme")
		acme := h.As("acme", "sandbox")
		rc := servertest.NewReceiver(t)
		f := &failing{}
		rc.Respond(f.answer)
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"24h", "24h", "24h", "24h", "24h", "24h", "24h"}}})
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
		rc.Next(10 * time.Second)
		// Retries a day apart, give or take the 20% jitter: each 29 hours
		// of the clock takes one. The fifth fails 116 hours after the
		// first, the sixth 145, past the default five days (120).
		for attempt := 2; attempt <= 6; attempt++ {
			clk.Advance(29 * time.Hour)
			rc.Next(10 * time.Second)
			want := client.EndpointActive
			if attempt == 6 {
				want = client.EndpointDisabled
			}
			servertest.Eventually(t, 10*time.Second, "attempt "+string(rune('0'+attempt))+" to be recorded", func() bool {
				ds := h.Deliveries("acme", "sandbox", nil)
				return len(ds) == 1 && ds[0].AttemptCount == attempt
			})
			if got := servertest.Must(acme.GetEndpoint(t.Context(), ep.ID))(t); got.Status != want {
				t.Fatalf("after attempt %d the endpoint is %s, want %s", attempt, got.Status, want)
			}
		}
		disabled := healthOf(t, acme, ep.ID)
		if !strings.HasPrefix(disabled.DisabledReason, "failing with no success since ") || historyKinds(disabled) != "disabled" {
			t.Fatalf("disabled endpoint's health = %+v", disabled)
		}
		if r := h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)}); r.Deliveries != 0 {
			t.Fatalf("a disabled endpoint took %d new deliveries", r.Deliveries)
		}

		// Enabled again, the pending delivery goes at once, not in two days.
		f.recover()
		active := client.EndpointActive
		servertest.Must(acme.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Status: &active}))(t)
		rc.Next(10 * time.Second)
		servertest.Eventually(t, 10*time.Second, "the held delivery to succeed", func() bool {
			ds := h.Deliveries("acme", "sandbox", nil)
			return len(ds) == 1 && ds[0].Status == client.DeliverySucceeded
		})
		// (The history is in time order; enabling was at the real time,
		// the rest at the moved clock's, so only the recovery's place is
		// certain.)
		servertest.Eventually(t, 5*time.Second, "the recovery in the history", func() bool {
			k := historyKinds(healthOf(t, acme, ep.ID))
			return strings.HasPrefix(k, "recovered,") && strings.Contains(k, "enabled") && strings.Contains(k, "disabled")
		})
		log := servertest.Must(h.Client.ListAuditLog(t.Context(), &client.AuditLogParams{ResourceID: ep.ID, Action: "endpoint.enabled"}))(t)
		if len(log.Data) != 1 {
			t.Fatalf("%d audit entries of the endpoint's enabling", len(log.Data))
		}
	})
}

func TestTheTenantDisablesAnEndpointAndItsHealthSaysSo(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	acme := h.As("acme", "sandbox")
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "https://example.com/hook"})
	disabled := client.EndpointDisabled
	got := servertest.Must(acme.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Status: &disabled}))(t)
	if got.Status != client.EndpointDisabled || got.DisabledReason != "disabled by its tenant" {
		t.Fatalf("endpoint = %+v", got)
	}
	hl := healthOf(t, acme, ep.ID)
	if hl.Status != client.EndpointDisabled || historyKinds(hl) != "disabled" || hl.History[0].Reason != "disabled by its tenant" {
		t.Fatalf("health = %+v", hl)
	}
	log := servertest.Must(h.Client.ListAuditLog(t.Context(), &client.AuditLogParams{ResourceID: ep.ID, Action: "endpoint.disabled"}))(t)
	if len(log.Data) != 1 {
		t.Fatalf("%d audit entries of the endpoint's disabling", len(log.Data))
	}
	h.Tenant("globex")
	servertest.Refused(t, func() error { _, err := h.As("globex", "sandbox").EndpointHealth(t.Context(), ep.ID); return err }(), http.StatusNotFound)
}
