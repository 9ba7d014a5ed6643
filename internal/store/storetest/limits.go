package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// limitTests prove the store's part of the limits that hold for every
// process on one database: token buckets, and claims that count other
// processes' leases against an endpoint's max_concurrency.
var limitTests = []conformanceTest{
	{"TokenBucketStartsFullRefillsAtItsRateAndNeverPassesItsBurst", testBucketRefill},
	{"TokenBucketTakersAtOnceTakeNoMoreThanTheBurst", testBucketRace},
	{"PurgeDropsTokenBucketsOnlyOnceFullAgain", testBucketPurge},
	{"ClaimCountsOtherProcessesLeasesAgainstMaxConcurrency", testClaimSharedConcurrency},
	{"ClaimStopsClaimingAheadWhileAnotherDispatcherRuns", testClaimOthersRunning},
	{"ClaimCountsTheLeasesOfADispatcherThatStoppedClaiming", testClaimQuietLeaseHolder},
	{"ClaimTakesASecondOfARateLimitedEndpointAtMost", testClaimRateLimited},
}

// take takes from b at instant at and checks what it took and left.
func take(t *testing.T, s store.Store, b store.TokenBucket, want int, at time.Time, took int, left float64) {
	t.Helper()
	gotTook, gotLeft, err := s.TakeTokens(ctx, b, want, at)
	must(t, err)
	if gotTook != took || gotLeft < left-1e-6 || gotLeft > left+1e-6 {
		t.Fatalf("take %d of %s: took %d leaving %.6f, want %d leaving %.6f", want, b.ID, gotTook, gotLeft, took, left)
	}
}

func testBucketRefill(t *testing.T, s store.Store) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	b := store.TokenBucket{ID: "ep_bucket", Tokens: 10, PerSeconds: 1, Burst: 5}
	take(t, s, b, 3, t0, 3, 2)
	take(t, s, b, 3, t0, 2, 0)
	take(t, s, b, 1, t0, 0, 0)
	// 150 ms at 10 a second is a token and a half: one whole is taken.
	take(t, s, b, 4, t0.Add(150*time.Millisecond), 1, 0.5)
	// A long pause fills the bucket to its burst and no further; a take
	// never takes more than the burst.
	take(t, s, b, 9, t0.Add(time.Hour), 5, 0)
	// A process whose clock is behind refills nothing.
	take(t, s, b, 1, t0.Add(time.Hour-time.Second), 0, 0)
	// A rate a minute: 60 a minute is one a second.
	k := store.TokenBucket{ID: "key_bucket", Tokens: 60, PerSeconds: 60, Burst: 2}
	take(t, s, k, 2, t0, 2, 0)
	take(t, s, k, 1, t0.Add(500*time.Millisecond), 0, 0.5)
	take(t, s, k, 1, t0.Add(time.Second), 1, 0)
	// A lower burst applies at once to a bucket that holds more.
	take(t, s, b, 1, t0.Add(2*time.Hour), 1, 4)
	take(t, s, store.TokenBucket{ID: b.ID, Tokens: 10, PerSeconds: 1, Burst: 2}, 1, t0.Add(2*time.Hour), 1, 1)
	for _, bad := range []store.TokenBucket{{ID: "x", Tokens: 0, PerSeconds: 1, Burst: 1}, {ID: "x", Tokens: 1, PerSeconds: 1, Burst: 0},
		{ID: "", Tokens: 1, PerSeconds: 1, Burst: 1}, {ID: "x", Tokens: 1, PerSeconds: 0, Burst: 1}} {
		if _, _, err := s.TakeTokens(ctx, bad, 1, t0); err == nil {
			t.Fatalf("bucket %+v was taken from", bad)
		}
	}
}

func testBucketRace(t *testing.T, s store.Store) {
	// Tokens come back once an hour: the 20 of the burst are all there is.
	b := store.TokenBucket{ID: "key_race", Tokens: 1, PerSeconds: 3600, Burst: 20}
	now := time.Now()
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 6 {
				took, _, err := s.TakeTokens(ctx, b, 2, now)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				total += took
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if total != 20 {
		t.Fatalf("takers at once took %d tokens of a burst of 20", total)
	}
}

func testBucketPurge(t *testing.T, s store.Store) {
	now := time.Now()
	// Emptied two hours ago at one a second: full again long before now.
	full := store.TokenBucket{ID: "ep_full", Tokens: 1, PerSeconds: 1, Burst: 5}
	take(t, s, full, 5, now.Add(-2*time.Hour), 5, 0)
	// Emptied two hours ago at one an hour: two of its five back.
	slow := store.TokenBucket{ID: "ep_slow", Tokens: 1, PerSeconds: 3600, Burst: 5}
	take(t, s, slow, 5, now.Add(-2*time.Hour), 5, 0)
	n, err := s.Purge(ctx, now.Add(-time.Minute), 100)
	must(t, err)
	if n != 1 {
		t.Fatalf("purge removed %d rows, want the one full bucket", n)
	}
	// The slow bucket kept its state: two tokens, not a fresh five.
	take(t, s, slow, 5, now, 2, 0)
}

// claimAndRecord are a dispatcher's claim (as owner, at an instant) and
// its record of every claimed delivery's success.
func claimAndRecord(t *testing.T, s store.Store) (claim func(owner string, at time.Time) []store.Claimed, record func([]store.Claimed)) {
	claim = func(owner string, at time.Time) []store.Claimed {
		t.Helper()
		c, err := s.Claim(ctx, store.ClaimParams{Owner: owner, Limit: 100, Lease: time.Minute, Now: at})
		must(t, err)
		return c
	}
	record = func(cs []store.Claimed) {
		t.Helper()
		var os []store.Outcome
		for _, c := range cs {
			os = append(os, outcome(c, domain.DeliverySucceeded, time.Time{}, 200))
		}
		must(t, s.Record(ctx, os))
	}
	return claim, record
}

// aloneThenAnother publishes events to an endpoint of max_concurrency 4:
// dispatcher a, alone, claims its rounds ahead (its lane holds it to 4),
// and b then finds the endpoint full.
func aloneThenAnother(t *testing.T, s store.Store, events int) (ep *domain.Endpoint, a []store.Claimed, now time.Time,
	claim func(owner string, at time.Time) []store.Claimed, record func([]store.Claimed)) {
	t.Helper()
	setup(t, s)
	ep = endpoint(t, s, scope, "a.b")
	publishSeq(t, s, scope, events)
	claim, record = claimAndRecord(t, s)
	now = time.Now()
	if a = claim("a", now); len(a) != store.ClaimRounds*4 {
		t.Fatalf("a, alone, claimed %d, want its %d rounds", len(a), store.ClaimRounds*4)
	}
	if b := claim("b", now); len(b) != 0 {
		t.Fatalf("b claimed %d while a held %d leases of an endpoint of max_concurrency 4", len(b), len(a))
	}
	return ep, a, now, claim, record
}

func testClaimSharedConcurrency(t *testing.T, s store.Store) {
	ep, a, now, claim, record := aloneThenAnother(t, s, 30)
	// Once a holds 2, 2 are left: b, with a running too, takes its share
	// of them (1), a the other, and then the endpoint is full.
	record(a[2:])
	for _, turn := range []struct {
		owner string
		want  int
	}{{"b", 1}, {"a", 1}, {"b", 0}, {"a", 0}} {
		if got := claim(turn.owner, now); len(got) != turn.want {
			t.Fatalf("%s claimed %d, want %d: a and b held 3 leases of 4 and then 4", turn.owner, len(got), turn.want)
		}
	}
	// A crashed process's leases stop counting when they run out: at a
	// minute and a second, c finds no live lease and claims its rounds.
	later := now.Add(time.Minute + time.Second)
	c := claim("c", later)
	if len(c) != store.ClaimRounds*4 {
		t.Fatalf("c claimed %d after the others' leases ran out, want %d", len(c), store.ClaimRounds*4)
	}
	for _, cl := range c {
		if cl.EndpointID != ep.ID {
			t.Fatalf("claimed a delivery of %s", cl.EndpointID)
		}
	}
}

func testClaimOthersRunning(t *testing.T, s store.Store) {
	// b's claim, which found the endpoint full, said that b runs.
	_, a, now, claim, record := aloneThenAnother(t, s, 40)
	// With b running, a no longer claims ahead, nor takes all the room:
	// its share of max_concurrency, so that b gets its turn.
	record(a)
	if again := claim("a", now.Add(time.Second)); len(again) != 2 {
		t.Fatalf("a claimed %d while b runs, want its half of max_concurrency's 4", len(again))
	}
	// b claimed nothing for more than aliveFor: a runs alone again.
	if more := claim("a", now.Add(12*time.Second)); len(more) != store.ClaimRounds*4 {
		t.Fatalf("a, alone again, claimed %d, want its %d rounds", len(more), store.ClaimRounds*4)
	}
}

func testClaimQuietLeaseHolder(t *testing.T, s store.Store) {
	// a, alone, claimed its rounds ahead; then its lane stayed full for
	// half a minute, so it neither claimed nor said that it runs. Its
	// leases are alive all the same: b, who finds nobody running, must
	// still count them, and takes nothing.
	_, a, now, claim, record := aloneThenAnother(t, s, 30)
	if b := claim("b", now.Add(30*time.Second)); len(b) != 0 {
		t.Fatalf("b claimed %d while a, quiet for 30 s, held %d live leases of an endpoint of max_concurrency 4", len(b), len(a))
	}
	// Once a's outcomes are recorded the room is b's.
	record(a)
	if b := claim("b", now.Add(31*time.Second)); len(b) == 0 {
		t.Fatal("b claimed nothing once a's leases were given back")
	}
}

func testClaimRateLimited(t *testing.T, s store.Store) {
	setup(t, s)
	ep := endpoint(t, s, scope, "a.b")
	ep.RateLimit = 1
	must(t, s.UpdateEndpoint(ctx, ep))
	got, err := s.GetEndpoint(ctx, scope, ep.ID)
	must(t, err)
	if got.RateLimit != 1 {
		t.Fatalf("rate limit read back as %d, want 1", got.RateLimit)
	}
	publishSeq(t, s, scope, 10)
	// One a second: a round is one delivery, not max_concurrency's 4.
	c, err := s.Claim(ctx, store.ClaimParams{Owner: "a", Limit: 100, Lease: time.Minute, Now: time.Now()})
	must(t, err)
	if len(c) != store.ClaimRounds {
		t.Fatalf("claimed %d of an endpoint limited to 1 a second, want %d", len(c), store.ClaimRounds)
	}
}
