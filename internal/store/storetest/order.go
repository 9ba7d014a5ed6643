package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// orderTests prove per-job order (an endpoint's ordering job) and the
// event types' own retry policies.
var orderTests = []conformanceTest{
	{"JobOrderClaimsOneDeliveryOfAJobAtATimeInPublishOrder", testJobOrderClaims},
	{"JobOrderHoldsTheRestBehindARetryAndNoOtherJob", testJobOrderRetryHolds},
	{"JobOrderGoesOnAfterAFailedHeadMarkingTheRest", testJobOrderFailedHead},
	{"JobOrderIsTheBatchOrderWhateverTheIDs", testJobOrderBatch},
	{"JobOrderGoesOnAtOnceAfterAnErasedHeadMarkingTheRest", testJobOrderErasedHead},
	{"EndpointOrderingAndEventTypeRetryPolicyRoundTrip", testOrderingRoundTrip},
}

// orderedEndpoint is an endpoint of sc, for every type, whose ordering is job.
func orderedEndpoint(t *testing.T, s store.Store, sc domain.Scope) *domain.Endpoint {
	t.Helper()
	e := endpoint(t, s, sc)
	e.Ordering = domain.OrderingJob
	must(t, s.UpdateEndpoint(ctx, e))
	return e
}

// publishJob publishes one event of the job (none for "") and returns its
// id.
func publishJob(t *testing.T, s store.Store, sc domain.Scope, job string) string {
	t.Helper()
	ev := event("a.b")
	if job != "" {
		ev.Job = &domain.Job{ID: job}
	}
	r, err := s.Publish(ctx, sc, []store.Publication{{Event: ev}})
	must(t, err)
	return r[0].EventID
}

// claimedOf is the ids of the events of c's deliveries to the endpoint.
func claimedOf(c []store.Claimed, endpointID string) map[string]store.Claimed {
	m := map[string]store.Claimed{}
	for _, cl := range c {
		if cl.EndpointID == endpointID {
			m[cl.Event.ID] = cl
		}
	}
	return m
}

// deliveryOf reads the delivery of an event to an endpoint.
func deliveryOf(t *testing.T, s store.Store, eventID, endpointID string) domain.Delivery {
	t.Helper()
	ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: eventID, EndpointID: endpointID})
	must(t, err)
	if len(ds) != 1 {
		t.Fatalf("%d deliveries of %s to %s", len(ds), eventID, endpointID)
	}
	return ds[0]
}

func testJobOrderClaims(t *testing.T, s store.Store) {
	setup(t, s)
	ordered := orderedEndpoint(t, s, scope)
	plain := endpoint(t, s, scope)
	a1, b1 := publishJob(t, s, scope, "job_a"), publishJob(t, s, scope, "job_b")
	a2, lone, a3 := publishJob(t, s, scope, "job_a"), publishJob(t, s, scope, ""), publishJob(t, s, scope, "job_a")

	// Even with every held delivery due (a claim an hour ahead), only the
	// first of each job goes to the ordered endpoint; the plain one takes
	// everything, and an event without a job is never held back.
	c := claimAll(t, s, "p", time.Now().Add(time.Hour))
	got := claimedOf(c, ordered.ID)
	if len(got) != 3 || got[a1].DeliveryID == "" || got[b1].DeliveryID == "" || got[lone].DeliveryID == "" {
		t.Fatalf("the ordered endpoint's claim took %v; want the first of each job (%s, %s) and the event without a job (%s)",
			keys(got), a1, b1, lone)
	}
	if got[a1].OrderedJob != "job_a" || got[lone].OrderedJob != "" {
		t.Fatalf("claimed ordered jobs %q and %q, want job_a and none", got[a1].OrderedJob, got[lone].OrderedJob)
	}
	if n := len(claimedOf(c, plain.ID)); n != 5 {
		t.Fatalf("the plain endpoint's claim took %d, want all 5", n)
	}
	// Published behind a pending one, a2 is held: not due now.
	if d := deliveryOf(t, s, a2, ordered.ID); d.NextAttemptAt == nil || !d.NextAttemptAt.After(time.Now()) || d.OrderedJob != "job_a" {
		t.Fatalf("a2 behind a1 = %+v; want held (due later) and ordered by job_a", d)
	}

	// Each success releases the next of its job at once, in publish order.
	head := got[a1]
	for _, next := range []string{a2, a3} {
		o := outcome(head, domain.DeliverySucceeded, time.Time{}, 200)
		must(t, s.Record(ctx, []store.Outcome{o}))
		c = claimAll(t, s, "p", time.Now())
		got = claimedOf(c, ordered.ID)
		if len(got) != 1 || got[next].DeliveryID == "" {
			t.Fatalf("after its predecessor succeeded claimed %v; want %s alone", keys(got), next)
		}
		head = got[next]
	}
}

func testJobOrderRetryHolds(t *testing.T, s store.Store) {
	setup(t, s)
	ordered := orderedEndpoint(t, s, scope)
	a1, b1 := publishJob(t, s, scope, "job_a"), publishJob(t, s, scope, "job_b")
	a2, b2 := publishJob(t, s, scope, "job_a"), publishJob(t, s, scope, "job_b")
	got := claimedOf(claimAll(t, s, "p", time.Now()), ordered.ID)
	if len(got) != 2 {
		t.Fatalf("claimed %v, want %s and %s", keys(got), a1, b1)
	}
	// a1 fails and waits an hour; b1 succeeds.
	retryAt := time.Now().Add(time.Hour)
	fail := outcome(got[a1], domain.DeliveryPending, retryAt, 500)
	ok := outcome(got[b1], domain.DeliverySucceeded, time.Time{}, 200)
	must(t, s.Record(ctx, []store.Outcome{fail, ok}))

	// Job b goes on; job a waits for its retry, and a2 is held until
	// after it.
	got = claimedOf(claimAll(t, s, "p", time.Now()), ordered.ID)
	if len(got) != 1 || got[b2].DeliveryID == "" {
		t.Fatalf("claimed %v; want only %s (job b is not held back by job a)", keys(got), b2)
	}
	if d := deliveryOf(t, s, a2, ordered.ID); d.NextAttemptAt == nil || d.NextAttemptAt.Before(retryAt) {
		t.Fatalf("a2 is due at %v, before a1's retry at %v", d.NextAttemptAt, retryAt)
	}
	done := outcome(got[b2], domain.DeliverySucceeded, time.Time{}, 200)
	must(t, s.Record(ctx, []store.Outcome{done}))
	// When the retry is due it goes first, alone.
	got = claimedOf(claimAll(t, s, "p", retryAt.Add(time.Second)), ordered.ID)
	if len(got) != 1 || got[a1].DeliveryID == "" {
		t.Fatalf("at the retry's time claimed %v; want %s alone", keys(got), a1)
	}
}

// jobOfThree publishes three events of one job to an ordered endpoint and
// claims the first: the endpoint, the events, and the head's claim.
func jobOfThree(t *testing.T, s store.Store) (*domain.Endpoint, [3]string, store.Claimed) {
	t.Helper()
	setup(t, s)
	ordered := orderedEndpoint(t, s, scope)
	var ev [3]string
	for i := range ev {
		ev[i] = publishJob(t, s, scope, "job_a")
	}
	got := claimedOf(claimAll(t, s, "p", time.Now()), ordered.ID)
	if len(got) != 1 || got[ev[0]].DeliveryID == "" {
		t.Fatalf("claimed %v, want %s alone", keys(got), ev[0])
	}
	return ordered, ev, got[ev[0]]
}

// restGoOnMarked checks that, the head of jobOfThree having ended for
// good, the second goes now, alone, and both others carry the head's id.
func restGoOnMarked(t *testing.T, s store.Store, ordered *domain.Endpoint, ev [3]string, head string) {
	t.Helper()
	got := claimedOf(claimAll(t, s, "p", time.Now()), ordered.ID)
	if len(got) != 1 || got[ev[1]].DeliveryID == "" {
		t.Fatalf("after the head ended claimed %v; want %s alone, now", keys(got), ev[1])
	}
	for _, id := range ev[1:] {
		if d := deliveryOf(t, s, id, ordered.ID); d.FollowsFailed != head {
			t.Fatalf("delivery of %s follows_failed %q, want the head %s", id, d.FollowsFailed, head)
		}
	}
}

func testJobOrderFailedHead(t *testing.T, s store.Store) {
	ordered, ev, head := jobOfThree(t, s)
	must(t, s.Record(ctx, []store.Outcome{outcome(head, domain.DeliveryFailed, time.Time{}, 500)}))
	// The rest go on, one at a time, each marked with the failed one.
	restGoOnMarked(t, s, ordered, ev, head.DeliveryID)
	// One published after the failure is not marked: nothing was skipped
	// while it waited.
	a4 := publishJob(t, s, scope, "job_a")
	if d := deliveryOf(t, s, a4, ordered.ID); d.FollowsFailed != "" {
		t.Fatalf("a later delivery follows_failed %q", d.FollowsFailed)
	}
	if d := deliveryOf(t, s, ev[0], ordered.ID); d.FollowsFailed != "" || d.Status != domain.DeliveryFailed {
		t.Fatalf("the failed head = %+v", d)
	}
}

// An erasure cancels the pending head of an ordered job: the rest go on at
// once, marked, as after a head that failed, not after its retry's hold.
func testJobOrderErasedHead(t *testing.T, s store.Store) {
	ordered, ev, head := jobOfThree(t, s)
	must(t, s.Record(ctx, []store.Outcome{outcome(head, domain.DeliveryPending, time.Now().Add(time.Hour), 500)}))
	r := &domain.Erasure{ID: domain.NewID(domain.PrefixErasure)}
	must(t, s.Erase(ctx, scope, domain.ErasureSelector{EventIDs: []string{ev[0]}}, r))
	if r.Erased.CancelledDeliveries != 1 {
		t.Fatalf("erased %+v, want the head cancelled", r.Erased)
	}
	restGoOnMarked(t, s, ordered, ev, head.DeliveryID)
}

func testJobOrderBatch(t *testing.T, s store.Store) {
	setup(t, s)
	ordered := orderedEndpoint(t, s, scope)
	// The second event's time is a millisecond before the first's, so the
	// ids made from the times sort the other way round (as ids made by
	// concurrent publishes can): the batch's order still rules.
	first, second := event("a.b"), event("a.b")
	second.CreatedAt = first.CreatedAt.Add(-time.Millisecond)
	second.ID = domain.NewIDAt(domain.PrefixEvent, second.CreatedAt)
	first.Job, second.Job = &domain.Job{ID: "job_a"}, &domain.Job{ID: "job_a"}
	_, err := s.Publish(ctx, scope, []store.Publication{{Event: first}, {Event: second}})
	must(t, err)
	got := claimedOf(claimAll(t, s, "p", time.Now().Add(time.Hour)), ordered.ID)
	if len(got) != 1 || got[first.ID].DeliveryID == "" {
		t.Fatalf("claimed %v; want the batch's first event %s alone", keys(got), first.ID)
	}
}

func testOrderingRoundTrip(t *testing.T, s store.Store) {
	setup(t, s)
	plain := endpoint(t, s, scope)
	for want, id := range map[string]string{domain.OrderingNone: plain.ID, domain.OrderingJob: orderedEndpoint(t, s, scope).ID} {
		e, err := s.GetEndpoint(ctx, scope, id)
		must(t, err)
		if e.Ordering != want {
			t.Fatalf("ordering %q, want %s", e.Ordering, want)
		}
	}
	fast := &domain.RetryPolicy{Preset: domain.PresetFast}
	must(t, fast.Normalize())
	_, err := s.PutEventType(ctx, &domain.EventType{Name: "message.otp.requested", RetryPolicy: fast, UpdatedAt: time.Now()})
	must(t, err)
	_, err = s.PutEventType(ctx, &domain.EventType{Name: "a.b", UpdatedAt: time.Now()})
	must(t, err)
	got, err := s.GetEventType(ctx, "message.otp.requested")
	must(t, err)
	if got.RetryPolicy == nil || got.RetryPolicy.Preset != domain.PresetFast || got.RetryPolicy.MaxAttempts() != fast.MaxAttempts() {
		t.Fatalf("retry policy = %+v", got.RetryPolicy)
	}
	untyped, err := s.GetEventType(ctx, "a.b")
	must(t, err)
	if untyped.RetryPolicy != nil {
		t.Fatalf("a type without a policy has %+v", untyped.RetryPolicy)
	}
}

func keys(m map[string]store.Claimed) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
