package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// claimTests prove how claims share the queue between endpoints.
var claimTests = []conformanceTest{
	{"ClaimTakesOneRoundOfEachEndpointOldestFirst", testClaimRound},
	{"ClaimLeavesPausedAndSkippedBacklogsAlone", testClaimSkipsBacklogs},
	{"ClaimLimitIsSharedAndEveryDeliveryClaimedOnce", testClaimShared},
}

// publishSeq publishes n events one by one to sc, a microsecond apart, and
// returns their ids in order.
func publishSeq(t *testing.T, s store.Store, sc domain.Scope, n int) []string {
	t.Helper()
	at := time.Now().Add(-time.Minute)
	ids := make([]string, n)
	for i := range ids {
		ev := event("a.b")
		at = at.Add(time.Microsecond)
		ev.ID, ev.CreatedAt = domain.NewIDAt(domain.PrefixEvent, at), at
		r, err := s.Publish(ctx, sc, []store.Publication{{Event: ev}})
		must(t, err)
		ids[i] = r[0].EventID
	}
	return ids
}

// only is a claim's Skip that skips the given endpoints.
func only(ids ...string) func(string) bool {
	return func(id string) bool { return slices.Contains(ids, id) }
}

func claimed(c []store.Claimed) map[string][]string {
	m := map[string][]string{}
	for _, cl := range c {
		m[cl.EndpointID] = append(m[cl.EndpointID], cl.Event.ID)
	}
	return m
}

func testClaimRound(t *testing.T, s store.Store) {
	setup(t, s)
	busy := endpoint(t, s, scope, "a.b") // max_concurrency 4
	quiet := endpoint(t, s, other, "a.b")
	round := store.ClaimRounds * 4
	events := publishSeq(t, s, scope, round+6)
	publishSeq(t, s, other, 2)

	c, err := s.Claim(ctx, store.ClaimParams{Owner: "p", Limit: 100, Lease: time.Minute, Now: time.Now()})
	must(t, err)
	got := claimed(c)
	if len(c) != round+2 || len(got[busy.ID]) != round || len(got[quiet.ID]) != 2 {
		t.Fatalf("claimed %d: %d of the busy endpoint (want its %d rounds of 4), %d of the quiet one (want 2)",
			len(c), len(got[busy.ID]), store.ClaimRounds, len(got[quiet.ID]))
	}
	want := map[string]bool{}
	for _, id := range events[:round] {
		want[id] = true
	}
	for _, id := range got[busy.ID] {
		if !want[id] {
			t.Fatalf("claimed %s of the busy endpoint; want its %d oldest due %v", id, round, events[:round])
		}
	}

	// A retry scheduled for later waits; the rest of the backlog comes first.
	o := outcome(c[0], domain.DeliveryPending, time.Now().Add(time.Hour), 500)
	must(t, s.Record(ctx, []store.Outcome{o}))
	rest := claimAll(t, s, "p", time.Now())
	if len(rest) != 6 {
		t.Fatalf("then claimed %d, want the busy endpoint's other 6", len(rest))
	}
	for _, cl := range rest {
		if cl.DeliveryID == o.DeliveryID {
			t.Fatal("a retry was claimed before it was due")
		}
	}
}

func testClaimSkipsBacklogs(t *testing.T, s store.Store) {
	setup(t, s)
	paused := endpoint(t, s, scope, "a.b")
	paused.Status = domain.EndpointPaused
	must(t, s.UpdateEndpoint(ctx, paused))
	full := endpoint(t, s, scope, "a.b")
	publishSeq(t, s, scope, 20)
	live := endpoint(t, s, other, "a.b")
	publishSeq(t, s, other, 1)

	for range 3 {
		c, err := s.Claim(ctx, store.ClaimParams{Owner: "p", Limit: 100, Lease: time.Minute, Now: time.Now(), Skip: only(full.ID)})
		must(t, err)
		for _, cl := range c {
			if cl.EndpointID != live.ID {
				t.Fatalf("claimed a delivery of %s; only %s is active and not skipped", cl.EndpointID, live.ID)
			}
		}
	}
	// The backlogs are intact: the paused endpoint's 20 wait for its
	// resume, the skipped one's 20 for its lane. (The same dispatcher
	// claims them: another, claiming while p runs, would take no more
	// than each endpoint's max_concurrency.)
	if got := len(claimAll(t, s, "p", time.Now())); got != 20 {
		t.Fatalf("the skipped endpoint had %d due, want 20", got)
	}
	paused.Status = domain.EndpointActive
	must(t, s.UpdateEndpoint(ctx, paused))
	if got := len(claimAll(t, s, "p", time.Now())); got != 20 {
		t.Fatalf("the resumed endpoint had %d due, want 20", got)
	}
}

func testClaimShared(t *testing.T, s store.Store) {
	setup(t, s)
	const endpoints, each = 8, 6
	for range endpoints {
		endpoint(t, s, scope, "a.b")
	}
	publishSeq(t, s, scope, each)
	seen := map[string]bool{}
	claims := 0
	for {
		c, err := s.Claim(ctx, store.ClaimParams{Owner: "p", Limit: 5, Lease: time.Minute, Now: time.Now()})
		must(t, err)
		if len(c) == 0 {
			break
		}
		if len(c) > 5 {
			t.Fatalf("a claim of limit 5 took %d", len(c))
		}
		for _, cl := range c {
			if seen[cl.DeliveryID] {
				t.Fatalf("delivery %s claimed twice", cl.DeliveryID)
			}
			seen[cl.DeliveryID] = true
		}
		claims++
	}
	if len(seen) != endpoints*each {
		t.Fatalf("claimed %d deliveries in %d claims, want %d", len(seen), claims, endpoints*each)
	}
}
