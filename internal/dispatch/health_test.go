package dispatch

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/store"
)

// heard is a Signals double that keeps what it was told of endpoints'
// health. delivery.exhausted (a 410 ends its delivery too) is left to the
// tests of internal/signals.
type heard struct {
	mu      sync.Mutex
	signals []domain.Signal
}

func (h *heard) Signal(_ context.Context, s domain.Signal) {
	if s.Type == domain.SignalDeliveryExhausted {
		return
	}
	h.mu.Lock()
	h.signals = append(h.signals, s)
	h.mu.Unlock()
}

func (h *heard) types() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, s := range h.signals {
		out = append(out, s.Type)
	}
	return out
}

// waitHeard waits until the signals told are want, in order.
func (h *heard) waitHeard(t *testing.T, want ...string) []domain.Signal {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(h.types(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("signalled %v, want %v", h.types(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.signals)
}

func TestTheDispatcherSignalsACircuitOpeningItsRecoveryAGoneEndpointAndItsReturn(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	rc := newSink(t, func(*http.Request, []byte) int { mu.Lock(); defer mu.Unlock(); return status })
	signals := &heard{}
	r := newRigWith(t, egress.Options{AllowPrivate: true}, nil, func(c *Config) {
		c.Signals = signals
		c.Breaker = domain.Breaker{Threshold: 2, Window: time.Minute, Cooldown: time.Second, DisableAfter: time.Hour}
	})
	ep := r.endpoint(rc.URL, func(e *domain.Endpoint) {
		e.MaxConcurrency = 1
		e.RetryPolicy = domain.RetryPolicy{Delays: []string{"50ms", "50ms", "50ms", "50ms", "50ms"}}
	})
	first, second := r.publish("a.b", `{}`), r.publish("a.b", `{}`)
	opened := signals.waitHeard(t, domain.SignalCircuitOpened)[0]
	if opened.EndpointID != ep.ID || opened.TenantID != r.scope.TenantID || opened.Environment != r.scope.Environment ||
		opened.Reason == "" || opened.At.IsZero() {
		t.Fatalf("circuit opened signal = %+v", opened)
	}
	// While it is open nothing is sent, though retries fall due (a retry
	// claimed before it opened may still be in flight: it is let finish).
	time.Sleep(100 * time.Millisecond)
	sent := rc.count()
	time.Sleep(300 * time.Millisecond)
	if rc.count() != sent {
		t.Fatalf("%d requests while the circuit was open", rc.count()-sent)
	}

	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	signals.waitHeard(t, domain.SignalCircuitOpened, domain.SignalEndpointRecovered)
	// Both delivered before the receiver goes: a retry still to come would
	// meet the 410 too, and its outcome, recorded after the endpoint is
	// enabled again below, would disable it a second time.
	for _, ev := range []string{first, second} {
		r.waitStatus(ev, ep.ID, domain.DeliverySucceeded)
	}

	mu.Lock()
	status = http.StatusGone
	mu.Unlock()
	r.publish("a.b", `{}`)
	all := signals.waitHeard(t, domain.SignalCircuitOpened, domain.SignalEndpointRecovered, domain.SignalEndpointDisabled)
	if all[2].Reason != "the receiver answered 410 Gone" || all[2].EndpointID != ep.ID {
		t.Fatalf("disabled signal = %+v", all[2])
	}

	// Enabled again, its first success is a recovery too.
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	ep.Status, ep.DisabledReason = domain.EndpointActive, ""
	r.update(ep)
	r.publish("a.b", `{}`)
	signals.waitHeard(t, domain.SignalCircuitOpened, domain.SignalEndpointRecovered, domain.SignalEndpointDisabled,
		domain.SignalEndpointRecovered)
}

// signalled is a Signals double that passes every signal on.
type signalled chan domain.Signal

func (s signalled) Signal(_ context.Context, sig domain.Signal) { s <- sig }

// A failed attempt whose retry would come after the event's TTL ends the
// delivery cancelled; it gave up all the same, so delivery.exhausted is
// signalled.
func TestAFailedAttemptCancelledForItsTTLSignalsExhausted(t *testing.T) {
	rc := newSink(t, func(*http.Request, []byte) int { return http.StatusServiceUnavailable })
	heard := make(signalled, 16)
	r := newRigWith(t, egress.Options{AllowPrivate: true}, nil, func(c *Config) { c.Signals = heard })
	r.endpoint(rc.URL, func(e *domain.Endpoint) { e.RetryPolicy = domain.RetryPolicy{Delays: []string{"1h"}} })
	now := time.Now()
	expires := now.Add(time.Minute)
	ev := domain.Event{
		ID: domain.NewIDAt(domain.PrefixEvent, now), TenantID: r.scope.TenantID, Environment: r.scope.Environment,
		Type: "a.b", Data: json.RawMessage(`{}`), CreatedAt: now, ExpiresAt: &expires,
	}
	if _, err := r.st.Publish(t.Context(), r.scope, []store.Publication{{Event: ev}}); err != nil {
		t.Fatal(err)
	}
	r.d.Wake()
	select {
	case s := <-heard:
		if s.Type != domain.SignalDeliveryExhausted || s.EventID != ev.ID || s.DeliveryStatus != domain.DeliveryCancelled ||
			s.Attempts != 1 || !strings.Contains(s.Reason, "gave up after 1 attempt") {
			t.Fatalf("signalled %+v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery.exhausted for a delivery that failed and was cancelled for its TTL")
	}
}
