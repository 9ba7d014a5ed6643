package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// observeTests prove what the metrics and the readiness check read.
var observeTests = []conformanceTest{
	{"BacklogCountsPendingDeliveriesByScopeAndEndpoint", testBacklog},
	{"SchemaReportsEveryMigrationApplied", testSchema},
	{"ClaimMarksTakeoversOfExpiredLeases", testTakeover},
}

func testTakeover(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	publish(t, s, scope, "a.b")
	publish(t, s, scope, "a.b")
	now := time.Now()
	first := claimAll(t, s, "dead", now)
	if len(first) != 2 || first[0].TakenOver || first[1].TakenOver {
		t.Fatalf("first claims %+v: nothing was leased before", first)
	}
	if d := first[0].LeaseUntil.Sub(now.Add(time.Minute)).Abs(); d > time.Millisecond {
		t.Fatalf("lease until %s, want %s", first[0].LeaseUntil, now.Add(time.Minute))
	}
	// One is released (given back, not taken over), the other's lease
	// runs out.
	must(t, s.Release(ctx, "dead", []string{first[0].DeliveryID}))
	again := claimAll(t, s, "alive", now.Add(61*time.Second))
	if len(again) != 2 {
		t.Fatalf("after the lease ran out claimed %d, want 2", len(again))
	}
	for _, c := range again {
		if want := c.DeliveryID == first[1].DeliveryID; c.TakenOver != want {
			t.Errorf("delivery %s taken over %v, want %v (released: %v)", c.DeliveryID, c.TakenOver, want, !want)
		}
	}
}

func testBacklog(t *testing.T, s store.Store) {
	setup(t, s)
	if groups, err := s.Backlog(ctx, false); err != nil || len(groups) != 0 {
		t.Fatalf("an empty store's backlog: %v, %v", groups, err)
	}
	a1 := endpoint(t, s, scope, "a.b")
	a2 := endpoint(t, s, scope, "a.b")
	endpoint(t, s, other, "a.b")
	first := publishSeq(t, s, scope, 3) // 3 events × 2 endpoints
	publishSeq(t, s, other, 2)
	oldest, err := s.GetEvent(ctx, scope, first[0])
	must(t, err)

	// One of a1's deliveries succeeds: it leaves the backlog. Another is
	// retried later: still pending, still counted.
	claims := claimAll(t, s, "p", time.Now())
	var done, retry bool
	for _, c := range claims {
		if c.EndpointID != a1.ID {
			continue
		}
		switch {
		case !done && c.Event.ID == first[0]:
			must(t, s.Record(ctx, []store.Outcome{outcome(c, domain.DeliverySucceeded, time.Time{}, 200)}))
			done = true
		case !retry:
			must(t, s.Record(ctx, []store.Outcome{outcome(c, domain.DeliveryPending, time.Now().Add(time.Hour), 500)}))
			retry = true
		}
	}
	if !done || !retry {
		t.Fatalf("claimed %d deliveries, none of a1's first event's", len(claims))
	}

	groups, err := s.Backlog(ctx, false)
	must(t, err)
	want := map[string]int{"acme": 5, "globex": 2}
	if len(groups) != 2 {
		t.Fatalf("backlog groups %+v, want acme/sandbox and globex/sandbox", groups)
	}
	for _, g := range groups {
		if g.Environment != domain.Sandbox || g.EndpointID != "" || g.Pending != want[g.TenantID] {
			t.Errorf("group %+v, want %d pending in %s/sandbox and no endpoint", g, want[g.TenantID], g.TenantID)
		}
		if g.TenantID == "acme" {
			// The oldest pending delivery of acme is a2's of the first
			// event (a1's succeeded): created with the event.
			if d := g.OldestCreatedAt.Sub(oldest.CreatedAt).Abs(); d > time.Second {
				t.Errorf("acme's oldest pending delivery created at %s, want about %s (its first event)", g.OldestCreatedAt, oldest.CreatedAt)
			}
		}
	}

	byEndpoint, err := s.Backlog(ctx, true)
	must(t, err)
	got := map[string]int{}
	for _, g := range byEndpoint {
		got[g.EndpointID] = g.Pending
	}
	if len(byEndpoint) != 3 || got[a1.ID] != 2 || got[a2.ID] != 3 {
		t.Fatalf("backlog by endpoint %+v: want a1 2 (one succeeded), a2 3 and globex's endpoint 2", byEndpoint)
	}
}

func testSchema(t *testing.T, s store.Store) {
	v, err := s.Schema(ctx)
	must(t, err)
	if v.Latest < 1 || v.Current != v.Latest || !v.Applied() {
		t.Fatalf("schema %+v: a store just opened has every migration applied", v)
	}
	if (store.SchemaVersion{Current: v.Latest - 1, Latest: v.Latest}).Applied() {
		t.Fatal("a schema one migration behind reports itself applied")
	}
}
