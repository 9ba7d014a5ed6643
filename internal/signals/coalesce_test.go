package signals

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

func exhausted(endpoint, delivery string, at time.Time) domain.Signal {
	return domain.Signal{Type: domain.SignalDeliveryExhausted, TenantID: "acme", Environment: domain.Sandbox,
		EndpointID: endpoint, DeliveryID: delivery, EventID: "evt_1", EventType: "verification.approved",
		DeliveryStatus: domain.DeliveryFailed, Attempts: 1, Reason: "gave up", At: at}
}

// queued takes what the queue holds now.
func queued(s *Signals) []item {
	var out []item
	for {
		select {
		case it := <-s.queue:
			out = append(out, it)
		default:
			return out
		}
	}
}

// TestExhaustedDeliveriesAreCountedIntoOneEventAWindowPerEndpoint: the
// first exhausted delivery of an endpoint makes an event at once; the ones
// within its window are counted into one event at the window's end, naming
// the last of them; a quiet window lets the next one through at once; other
// endpoints have windows of their own.
func TestExhaustedDeliveriesAreCountedIntoOneEventAWindowPerEndpoint(t *testing.T) {
	s := New(Config{Window: time.Minute})
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

	if !s.admit(exhausted("ep_a", "dlv_1", t0), t0) {
		t.Fatal("the first exhausted delivery of an endpoint was held back")
	}
	for i := 2; i <= 10000; i++ {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		if s.admit(exhausted("ep_a", "dlv_"+itoa(i), at), at) {
			t.Fatalf("exhausted delivery %d within the window made an event of its own", i)
		}
	}
	if !s.admit(exhausted("ep_b", "dlv_b", t0.Add(time.Second)), t0.Add(time.Second)) {
		t.Fatal("another endpoint's first exhausted delivery was held back")
	}
	s.flush(t0.Add(30*time.Second), false)
	if got := queued(s); len(got) != 0 {
		t.Fatalf("a window that has not ended made %d events", len(got))
	}
	s.flush(t0.Add(61*time.Second), false)
	got := queued(s)
	if len(got) != 1 {
		t.Fatalf("the end of the window made %d events, want 1 (ep_b counted nothing)", len(got))
	}
	if it := got[0]; it.count != 9999 || it.sig.DeliveryID != "dlv_10000" || !it.first.Equal(t0.Add(2*time.Millisecond)) {
		t.Fatalf("the coalesced event counts %d from %s naming %s; want 9999 from the second, naming the last",
			it.count, it.first, it.sig.DeliveryID)
	}
	// ep_a's next window is open: one more is counted, not sent.
	at := t0.Add(62 * time.Second)
	if s.admit(exhausted("ep_a", "dlv_late", at), at) {
		t.Fatal("an exhausted delivery in the window after a flood made an event of its own")
	}
	// After a window with nothing counted the endpoint is forgotten, and
	// its next exhausted delivery goes at once.
	s.flush(t0.Add(2*time.Minute+2*time.Second), false)
	if got := queued(s); len(got) != 1 || got[0].count != 1 {
		t.Fatalf("the second window made %+v, want one event counting 1", got)
	}
	s.flush(t0.Add(4*time.Minute+3*time.Second), false)
	if _, ok := s.windows["ep_a"]; ok {
		t.Fatal("an endpoint quiet for a whole window is still remembered")
	}
	at = t0.Add(5 * time.Minute)
	if !s.admit(exhausted("ep_a", "dlv_again", at), at) {
		t.Fatal("the first exhausted delivery after a quiet window was held back")
	}
	// Shutdown counts what the open windows hold into events.
	at = at.Add(time.Second)
	s.admit(exhausted("ep_a", "dlv_last", at), at)
	s.flush(at, true)
	if got := queued(s); len(got) != 1 || got[0].sig.DeliveryID != "dlv_last" {
		t.Fatalf("shutdown made %+v, want the last held one", got)
	}
	if len(s.windows) != 0 {
		t.Fatalf("shutdown left %d windows", len(s.windows))
	}
}

// TestSignalNeverBlocks: with nothing storing the queue, signals beyond
// its room are dropped, and Signal still returns at once.
func TestSignalNeverBlocks(t *testing.T) {
	s := New(Config{Queue: 16})
	start := time.Now()
	for i := range 10000 {
		s.Signal(context.Background(), domain.Signal{Type: domain.SignalCircuitOpened, TenantID: "acme",
			Environment: domain.Sandbox, EndpointID: "ep_" + itoa(i), Reason: "503"})
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("10,000 signals took %s", took)
	}
	if n := len(queued(s)); n != 16 {
		t.Fatalf("the queue held %d, want its 16", n)
	}
	if d := s.dropped.Load(); d != 10000-16 {
		t.Fatalf("dropped %d, want %d", d, 10000-16)
	}
}

// TestSignalsAboutTheOperatorWebhookAreNotStored: the operator webhook's
// own circuit opening would otherwise be delivered to that webhook.
func TestSignalsAboutTheOperatorWebhookAreNotStored(t *testing.T) {
	s := New(Config{})
	s.Signal(context.Background(), domain.Signal{Type: domain.SignalCircuitOpened, TenantID: domain.OperatorTenantID,
		Environment: domain.Production, EndpointID: domain.OperatorEndpointID, Reason: "503"})
	s.Signal(context.Background(), domain.Signal{Type: "verification.approved", TenantID: "acme", Environment: domain.Sandbox})
	if got := queued(s); len(got) != 0 {
		t.Fatalf("queued %+v", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
