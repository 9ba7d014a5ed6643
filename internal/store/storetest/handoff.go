package storetest

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

var handoffTests = []conformanceTest{
	{"PublishHandsNewDeliveriesToTheDispatcherLeasedWithTheirEvents", testHandoff},
	{"PublishHandsNothingOverThatAClaimWouldHoldBack", testHandoffRefusals},
	{"AHandoffRolledBackGivesItsRoomBack", testHandoffRollback},
}

// handoffs is a dispatcher as a publish sees it (store.Handoff): it has
// room for as many deliveries as room says, and keeps what it is given.
type handoffs struct {
	owner string
	mu    sync.Mutex
	room  int
	// reserved and unreserved count Reserve's grants and Unreserve's
	// returns; delivered is what Deliver was given.
	reserved, unreserved int
	delivered            []store.Claimed
}

func (h *handoffs) Lease() (string, time.Time, time.Time) {
	now := time.Now()
	return h.owner, now, now.Add(time.Minute)
}

func (h *handoffs) Reserve(string, int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.room <= 0 {
		return false
	}
	h.room--
	h.reserved++
	return true
}

func (h *handoffs) Unreserve(ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.room += len(ids)
	h.unreserved += len(ids)
}

func (h *handoffs) Deliver(c []store.Claimed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.delivered = append(h.delivered, c...)
}

// take returns what was delivered since the last take.
func (h *handoffs) take() []store.Claimed {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.delivered
	h.delivered = nil
	return c
}

func (h *handoffs) setRoom(n int) {
	h.mu.Lock()
	h.room = n
	h.mu.Unlock()
}

// handsNothing publishes an event to scope and fails the test if any of
// its deliveries is handed over.
func handsNothing(t *testing.T, s store.Store, h *handoffs, when string) {
	t.Helper()
	if r := publish(t, s, scope, "a.b"); r.HandedOff != 0 || len(h.take()) != 0 {
		t.Fatalf("handed over %d %s", r.HandedOff, when)
	}
}

// handOffTo makes s's publishes hand deliveries to a dispatcher "p" with
// room for 1,000.
func handOffTo(t *testing.T, s store.Store) *handoffs {
	t.Helper()
	hs, ok := s.(interface{ HandOffTo(store.Handoff) })
	if !ok {
		t.Fatalf("%T cannot hand deliveries over at publish", s)
	}
	h := &handoffs{owner: "p", room: 1000}
	hs.HandOffTo(h)
	return h
}

func testHandoff(t *testing.T, s store.Store) {
	setup(t, s)
	ep := endpoint(t, s, scope, "a.b")
	h := handOffTo(t, s)

	// Until the dispatcher's claims say it runs, publishes hand nothing
	// over: its leases must come within a lease of a beat on record.
	handsNothing(t, s, h, "before the dispatcher claimed")
	if c := claimAt(t, s, "p", time.Now()); len(c) != 1 {
		t.Fatalf("the dispatcher claimed %d, want the 1 published before", len(c))
	} else {
		must(t, s.Record(ctx, []store.Outcome{outcome(c[0], domain.DeliverySucceeded, time.Time{}, 200)}))
	}

	// Now each new delivery is handed over, leased, with its event as
	// the store reads it back (a job's included).
	ev := event("a.b")
	ev.Job = &domain.Job{ID: "job-1", Kind: "kyc", PartnerParams: json.RawMessage(`{"user": "u-1", "n": 2}`)}
	exp := ev.CreatedAt.Add(time.Hour)
	ev.ExpiresAt = &exp
	ev.Sensitive = true
	res, err := s.Publish(ctx, scope, []store.Publication{{Event: ev, IdempotencyKey: "k-1", RequestHash: []byte{1}}})
	must(t, err)
	if res[0].HandedOff != 1 || res[0].Deliveries != 1 {
		t.Fatalf("published %+v, want its 1 delivery handed over", res[0])
	}
	given := h.take()
	if len(given) != 1 {
		t.Fatalf("the dispatcher was given %d deliveries, want 1", len(given))
	}
	c := given[0]
	stored, err := s.GetEvent(ctx, scope, ev.ID)
	must(t, err)
	if !reflect.DeepEqual(c.Event, *stored) {
		t.Fatalf("handed over with the event\n%+v\nthe store reads back\n%+v", c.Event, *stored)
	}
	if c.EndpointID != ep.ID || c.Attempts != 0 || c.TakenOver || c.EndpointUpdatedAt.IsZero() {
		t.Fatalf("handed over %+v", c)
	}
	if left := time.Until(c.LeaseUntil); left < 50*time.Second || left > time.Minute {
		t.Fatalf("the lease ends in %s, want about a minute", left)
	}
	d, err := s.GetDelivery(ctx, scope, c.DeliveryID)
	must(t, err)
	if d.Status != domain.DeliveryPending || d.EventID != ev.ID {
		t.Fatalf("the handed-over delivery is %+v", d)
	}
	// A replayed publish hands nothing over again.
	res, err = s.Publish(ctx, scope, []store.Publication{{Event: event("a.b"), IdempotencyKey: "k-1", RequestHash: []byte{1}}})
	must(t, err)
	if !res[0].Replayed || res[0].HandedOff != 0 || len(h.take()) != 0 {
		t.Fatalf("a replay gave %+v", res[0])
	}

	// Leased: no claim takes it while the lease lasts, the dispatcher's
	// own included.
	if c := claimAt(t, s, "p", time.Now()); len(c) != 0 {
		t.Fatalf("a claim took %d handed-over deliveries", len(c))
	}
	// Its outcome is recorded as a claimed delivery's.
	must(t, s.Record(ctx, []store.Outcome{outcome(c, domain.DeliverySucceeded, time.Time{}, 200)}))
	d, err = s.GetDelivery(ctx, scope, c.DeliveryID)
	must(t, err)
	if d.Status != domain.DeliverySucceeded || d.Attempts != 1 {
		t.Fatalf("after its outcome the delivery is %s with %d attempts", d.Status, d.Attempts)
	}

	// Concurrent publishes (which share commits) hand each delivery over
	// once.
	const n = 16
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for range n {
		wg.Go(func() {
			r, err := s.Publish(ctx, scope, []store.Publication{{Event: event("a.b")}})
			if err != nil || r[0].HandedOff != 1 {
				t.Errorf("a concurrent publish: %+v, %v", r, err)
				return
			}
			ids <- r[0].EventID
		})
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	given = h.take()
	got := map[string]bool{}
	for _, c := range given {
		if got[c.Event.ID] || !want[c.Event.ID] || c.Event.CreatedAt.IsZero() {
			t.Fatalf("handed over %+v again or unasked", c)
		}
		got[c.Event.ID] = true
	}
	if len(got) != n {
		t.Fatalf("%d concurrent publishes handed over %d deliveries", n, len(got))
	}

	// A dispatcher that stops leaves them to the claims of others once
	// their leases run out, as after a crash.
	later := time.Now().Add(2 * time.Minute)
	var taken []store.Claimed
	for c := claimAt(t, s, "q", later); len(c) > 0; c = claimAt(t, s, "q", later) {
		taken = append(taken, c...)
	}
	if len(taken) != n {
		t.Fatalf("another dispatcher took over %d of the %d handed-over deliveries after their leases", len(taken), n)
	}
	for _, c := range taken {
		if !c.TakenOver {
			t.Fatalf("%s was taken over without being marked so", c.DeliveryID)
		}
	}
	// And while that dispatcher runs, nothing is handed over: its claims
	// do not count leases they cannot see coming.
	handsNothing(t, s, h, "while another dispatcher runs")
}

// testHandoffRefusals: what a claim would hold back (a paused endpoint, a
// rate limit, per-job order, an open circuit, a test send's delivery) or a
// dispatcher without room is left to the claims.
func testHandoffRefusals(t *testing.T, s store.Store) {
	setup(t, s)
	h := handOffTo(t, s)
	claimAt(t, s, "p", time.Now())

	paused := endpoint(t, s, prod, "a.b")
	paused.Status = domain.EndpointPaused
	must(t, s.UpdateEndpoint(ctx, paused))
	limited := endpoint(t, s, other, "a.b")
	limited.RateLimit = 5
	must(t, s.UpdateEndpoint(ctx, limited))
	orderedScope := domain.Scope{TenantID: "globex", Environment: domain.Production}
	orderedEndpoint(t, s, orderedScope)
	for _, sc := range []domain.Scope{prod, other, orderedScope} {
		ev := event("a.b")
		ev.Job = &domain.Job{ID: "job-1"}
		r, err := s.Publish(ctx, sc, []store.Publication{{Event: ev}})
		must(t, err)
		if r[0].Deliveries != 1 || r[0].HandedOff != 0 || len(h.take()) != 0 {
			t.Fatalf("%v: published %+v, want 1 delivery, none handed over", sc, r[0])
		}
	}

	ep := endpoint(t, s, scope, "a.b")
	// A test send's delivery waits for the request that sends it.
	r, err := s.Publish(ctx, scope, []store.Publication{{Event: event("a.b"), OnlyEndpoint: ep.ID}})
	must(t, err)
	if r[0].HandedOff != 0 || len(h.take()) != 0 {
		t.Fatalf("a test send's delivery was handed over")
	}
	// No room: the delivery waits, due, for a claim.
	h.setRoom(0)
	handsNothing(t, s, h, "without room")
	if c := claimedOf(claimAt(t, s, "p", time.Now()), ep.ID); len(c) != 1 {
		t.Fatalf("claimed %d of what had no room, want 1", len(c))
	} else {
		// Open the circuit: one failure of a threshold of one.
		p := &domain.Breaker{Threshold: 1, Window: time.Minute, Cooldown: time.Hour, DisableAfter: 120 * time.Hour}
		for _, d := range c {
			must(t, s.Record(ctx, []store.Outcome{failAt(d, p, time.Now(), time.Now())}))
		}
	}
	if health(t, s, ep.ID).Circuit == domain.CircuitClosed {
		t.Fatal("the circuit did not open")
	}
	h.setRoom(10)
	handsNothing(t, s, h, "to an open circuit")
}

// testHandoffRollback: room reserved in a publish that does not commit is
// given back, and nothing is delivered.
func testHandoffRollback(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope, "a.b")
	h := handOffTo(t, s)
	claimAt(t, s, "p", time.Now())
	first := publish(t, s, scope, "a.b")
	if first.HandedOff != 1 || len(h.take()) != 1 {
		t.Fatalf("published %+v, want it handed over", first)
	}
	// An event whose id is taken fails its insert, after the deliveries
	// were reserved.
	again := event("a.b")
	again.ID = first.EventID
	if _, err := s.Publish(ctx, scope, []store.Publication{{Event: event("a.b")}, {Event: again}}); err == nil {
		t.Fatal("a publish of an existing event id succeeded")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.delivered) != 0 || h.reserved-h.unreserved != 1 {
		t.Fatalf("after the failed publish: %d delivered, %d reserved, %d given back (want the first's 1 reserved only)",
			len(h.delivered), h.reserved, h.unreserved)
	}
}
