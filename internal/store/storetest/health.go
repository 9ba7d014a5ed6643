package storetest

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// healthTests prove the circuit breaker, auto-disable and the expiry of
// paused endpoints' deliveries (issue 17).
var healthTests = []conformanceTest{
	{"BreakerOpensDefersWithoutSpendingAttemptsProbesOnceAndCloses", testBreaker},
	{"EndpointFailingTooLongIsDisabledAndEnabledAgainWithItsDeliveries", testAutoDisable},
	{"PausedEndpointsDeliveriesExpireAndSensitiveDataIsErased", testPausedExpiry},
	{"DeletingAnEndpointErasesItsUndeliveredSensitiveData", testDeleteScrubs},
	{"FailedAttemptsCancelledForTheirTTLOpenTheCircuit", testBreakerCountsTTLCancels},
	{"AProbeIsClaimedBeforeOtherEndpointsBacklogs", testProbeFirst},
}

// A claim whose limit is smaller than the due work takes the probe first:
// a probe taken (the circuit half-open) but left unclaimed would hold the
// endpoint for a lease.
func testProbeFirst(t *testing.T, s store.Store) {
	setup(t, s)
	broken := endpoint(t, s, scope, "a.b")
	p := &domain.Breaker{Threshold: 1, Window: time.Minute, Cooldown: time.Second, DisableAfter: 120 * time.Hour}
	publishSeq(t, s, scope, 1)
	t0 := time.Now()
	c := claimAt(t, s, "p", t0)
	if len(c) != 1 {
		t.Fatalf("claimed %d, want 1", len(c))
	}
	must(t, s.Record(ctx, []store.Outcome{failAt(c[0], p, t0, t0)}))
	if h := health(t, s, broken.ID); h.Circuit != domain.CircuitOpen {
		t.Fatalf("circuit %s, want open", h.Circuit)
	}
	// Another endpoint, for the same type, with a backlog of its own.
	busy := endpoint(t, s, scope, "a.b")
	publishSeq(t, s, scope, 20)
	for range 5 {
		got, err := s.Claim(ctx, store.ClaimParams{Owner: "q", Limit: 1, Lease: time.Minute, Now: t0.Add(2 * time.Second)})
		must(t, err)
		if len(got) != 1 {
			t.Fatalf("claimed %d, want 1", len(got))
		}
		if got[0].EndpointID == broken.ID {
			return
		}
		if got[0].EndpointID != busy.ID {
			t.Fatalf("claimed a delivery of %s", got[0].EndpointID)
		}
		if h := health(t, s, broken.ID); h.Circuit == domain.CircuitHalfOpen {
			t.Fatalf("the probe was taken (half-open) but a claim of one took %s's delivery instead", busy.ID)
		}
	}
	t.Fatalf("five claims of one never took the probe")
}

// A failed attempt whose retry would come after its event's TTL ends the
// delivery cancelled (the dispatcher's choice), but its request went out
// and failed: a receiver that fails only such deliveries still opens its
// circuit. A cancellation that sent nothing (no error class) does not count.
func testBreakerCountsTTLCancels(t *testing.T, s store.Store) {
	ep, p, t0, c := breakerRig(t, s, 5)
	var outs []store.Outcome
	for i := range 2 {
		o := outcome(c[i], domain.DeliveryCancelled, time.Time{}, 0)
		o.Attempt.At, o.Attempt.Error, o.Breaker = t0.Add(time.Duration(i)*time.Millisecond), "the event expired", p
		outs = append(outs, o)
	}
	must(t, s.Record(ctx, outs))
	if h := health(t, s, ep.ID); h.ConsecutiveFailures != 0 {
		t.Fatalf("cancellations that sent nothing counted %d failures", h.ConsecutiveFailures)
	}
	outs = outs[:0]
	for i := 2; i < 5; i++ {
		o := failAt(c[i], p, t0.Add(time.Duration(i)*time.Millisecond), time.Time{})
		o.Status, o.NextAttemptAt = domain.DeliveryCancelled, time.Time{}
		o.Attempt.ErrorClass, o.Attempt.Error = "network", `Post "https://cb.example/s?session=SECRET-LINK": dial tcp: connection refused`
		outs = append(outs, o)
	}
	must(t, s.Record(ctx, outs))
	h := health(t, s, ep.ID)
	if h.Circuit != domain.CircuitOpen || h.ConsecutiveFailures != 3 {
		t.Fatalf("after three failed attempts cancelled for their TTL: %+v", h)
	}
	// The health record keeps the error without its URL: a job's callback
	// URL may be a session link, and this record outlives an erasure.
	if strings.Contains(h.LastError, "SECRET-LINK") || !strings.Contains(h.LastError, "connection refused") ||
		slices.ContainsFunc(h.History, func(c domain.HealthChange) bool { return strings.Contains(c.Reason, "SECRET-LINK") }) {
		t.Fatalf("health keeps the callback URL: %+v", h)
	}
}

// failAt is a failed attempt of c at at, due again at next, counted under p.
func failAt(c store.Claimed, p *domain.Breaker, at, next time.Time) store.Outcome {
	o := outcome(c, domain.DeliveryPending, next, 503)
	o.Attempt.At, o.Attempt.ErrorClass, o.Attempt.Error, o.Breaker = at, "http", "the receiver answered 503", p
	return o
}

// succeedAt is a successful attempt of c at at, counted under p.
func succeedAt(c store.Claimed, p *domain.Breaker, at time.Time) store.Outcome {
	o := outcome(c, domain.DeliverySucceeded, time.Time{}, 200)
	o.Attempt.At, o.Breaker = at, p
	return o
}

// breakerRig publishes n events to a new endpoint and claims them all at
// t0, for a breaker of threshold 3 in a minute.
func breakerRig(t *testing.T, s store.Store, n int) (ep *domain.Endpoint, p *domain.Breaker, t0 time.Time, c []store.Claimed) {
	t.Helper()
	setup(t, s)
	ep = endpoint(t, s, scope, "a.b")
	p = &domain.Breaker{Threshold: 3, Window: time.Minute, Cooldown: 30 * time.Second, DisableAfter: 120 * time.Hour}
	publishSeq(t, s, scope, n)
	t0 = time.Now()
	if c = claimAt(t, s, "p", t0); len(c) != n {
		t.Fatalf("claimed %d, want %d", len(c), n)
	}
	return ep, p, t0, c
}

func claimAt(t *testing.T, s store.Store, owner string, at time.Time) []store.Claimed {
	t.Helper()
	c, err := s.Claim(ctx, store.ClaimParams{Owner: owner, Limit: 100, Lease: time.Minute, Now: at})
	must(t, err)
	return c
}

func health(t *testing.T, s store.Store, id string) *domain.EndpointHealth {
	t.Helper()
	h, err := s.EndpointHealth(ctx, scope, id, 50)
	must(t, err)
	return h
}

// kinds are the kinds of a health history, newest first.
func kinds(h *domain.EndpointHealth) string {
	var k []string
	for _, c := range h.History {
		k = append(k, c.Kind)
	}
	return strings.Join(k, ",")
}

func changed(o store.Outcome, kind string) bool {
	return slices.ContainsFunc(o.Changes, func(c domain.HealthChange) bool { return c.Kind == kind })
}

// attemptsOf maps each of the endpoint's deliveries to its attempt count.
func attemptsOf(t *testing.T, s store.Store, endpointID string) map[string]int {
	t.Helper()
	ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EndpointID: endpointID, Page: store.Page{Limit: 100}})
	must(t, err)
	m := map[string]int{}
	for _, d := range ds {
		m[d.ID] = d.Attempts
	}
	return m
}

func testBreaker(t *testing.T, s store.Store) {
	ep, p, t0, c := breakerRig(t, s, 8)
	// Three failures in a row within the window open the circuit; the
	// rest of the claim goes back unattempted.
	outs := []store.Outcome{
		failAt(c[0], p, t0, t0.Add(time.Second)), failAt(c[1], p, t0.Add(time.Millisecond), t0.Add(time.Second)),
		failAt(c[2], p, t0.Add(2*time.Millisecond), t0.Add(time.Second)),
	}
	must(t, s.Record(ctx, outs))
	if changed(outs[1], domain.HealthOpened) || !changed(outs[2], domain.HealthOpened) {
		t.Fatalf("the third failure must open the circuit: changes %v, %v", outs[1].Changes, outs[2].Changes)
	}
	var rest []string
	for _, cl := range c[3:] {
		rest = append(rest, cl.DeliveryID)
	}
	must(t, s.Release(ctx, "p", rest))
	h := health(t, s, ep.ID)
	if h.Circuit != domain.CircuitOpen || h.ConsecutiveFailures != 3 || h.NextProbeAt == nil ||
		!h.NextProbeAt.Equal(t0.Add(2*time.Millisecond+30*time.Second).Truncate(time.Microsecond)) || h.LastError != "the receiver answered 503" {
		t.Fatalf("health after opening = %+v", h)
	}
	// The operator's health page lists it among the open circuits, with
	// its failures of the last 24 hours.
	sh, err := stats(t, s).Health(ctx, time.Now(), 60)
	must(t, err)
	if i := slices.IndexFunc(sh.Open, func(e store.EndpointHealth) bool { return e.ID == ep.ID }); i < 0 ||
		sh.Open[i].Circuit != domain.CircuitOpen || sh.Open[i].Failed != 3 {
		t.Fatalf("open circuits on the health page = %+v, want %s open with 3 failing deliveries", sh.Open, ep.ID)
	}
	before := attemptsOf(t, s, ep.ID)

	// Open: every delivery is due, none is claimed, no attempt is spent.
	if got := claimAt(t, s, "p", t0.Add(10*time.Second)); len(got) != 0 {
		t.Fatalf("claimed %d deliveries of an open circuit", len(got))
	}
	if after := attemptsOf(t, s, ep.ID); !maps.Equal(before, after) {
		t.Fatalf("deferral spent attempts: %v, then %v", before, after)
	}

	// The probe time: claimers at once get one probe between them.
	probeAt := t0.Add(31 * time.Second)
	var mu sync.Mutex
	var probes []store.Claimed
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			got, err := s.Claim(ctx, store.ClaimParams{Owner: "p" + string(rune('a'+i)), Limit: 100, Lease: time.Minute, Now: probeAt})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			probes = append(probes, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(probes) != 1 {
		t.Fatalf("%d probes went at once, want 1", len(probes))
	}
	if h := health(t, s, ep.ID); h.Circuit != domain.CircuitHalfOpen {
		t.Fatalf("circuit %s while the probe goes, want half_open", h.Circuit)
	}
	if probes[0].Attempts != before[probes[0].DeliveryID] {
		t.Fatalf("the probe's delivery has %d attempts, before the deferral %d", probes[0].Attempts, before[probes[0].DeliveryID])
	}

	// A failed probe opens the circuit again for a cool-down.
	// (An attempt starts after its claim: a millisecond later here, so
	// that the history's order, by time, is the order of events.)
	fail := []store.Outcome{failAt(probes[0], p, probeAt.Add(time.Millisecond), probeAt.Add(time.Second))}
	must(t, s.Record(ctx, fail))
	if !changed(fail[0], domain.HealthOpened) || !strings.Contains(fail[0].Changes[0].Reason, "probe failed") {
		t.Fatalf("a failed probe changed %v", fail[0].Changes)
	}
	if got := claimAt(t, s, "p", probeAt.Add(10*time.Second)); len(got) != 0 {
		t.Fatalf("claimed %d during the second cool-down", len(got))
	}

	// A successful probe closes it, and the deferred deliveries go with
	// the attempts they had.
	second := claimAt(t, s, "p", probeAt.Add(31*time.Second))
	if len(second) != 1 {
		t.Fatalf("second probe: claimed %d, want 1", len(second))
	}
	ok := []store.Outcome{succeedAt(second[0], p, probeAt.Add(31*time.Second+time.Millisecond))}
	must(t, s.Record(ctx, ok))
	if !changed(ok[0], domain.HealthClosed) {
		t.Fatalf("a successful probe changed %v", ok[0].Changes)
	}
	before = attemptsOf(t, s, ep.ID)
	after := claimAll(t, s, "p", probeAt.Add(32*time.Second))
	if len(after) != 7 {
		t.Fatalf("after closing claimed %d, want the other 7", len(after))
	}
	for _, cl := range after {
		if cl.Attempts != before[cl.DeliveryID] {
			t.Fatalf("delivery %s comes back with %d attempts, had %d", cl.DeliveryID, cl.Attempts, before[cl.DeliveryID])
		}
	}
	h = health(t, s, ep.ID)
	if h.Circuit != domain.CircuitClosed || h.ConsecutiveFailures != 0 || h.FailingSince != nil {
		t.Fatalf("health after closing = %+v", h)
	}
	if got := kinds(h); got != "closed,half_open,opened,half_open,opened" {
		t.Fatalf("history %s", got)
	}
	if _, err := s.EndpointHealth(ctx, other, ep.ID, 50); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another scope read the health: %v", err)
	}

	// The history is kept as long as the rest of the log.
	must(t, purge(s, t0.Add(-time.Hour)))
	if h := health(t, s, ep.ID); len(h.History) != 5 {
		t.Fatalf("recent changes were purged: %+v", h.History)
	}
	must(t, purge(s, t0.Add(time.Hour)))
	if h := health(t, s, ep.ID); len(h.History) != 0 {
		t.Fatalf("old changes were kept: %+v", h.History)
	}
}

func purge(s store.Store, cutoff time.Time) error {
	_, err := s.Purge(ctx, cutoff, 100)
	return err
}

func testAutoDisable(t *testing.T, s store.Store) {
	setup(t, s)
	ep := endpoint(t, s, scope, "a.b")
	p := &domain.Breaker{Threshold: 1000, Window: time.Minute, Cooldown: time.Minute, DisableAfter: 120 * time.Hour}
	publish(t, s, scope, "a.b")
	t0 := time.Now()
	day := 24 * time.Hour
	steps := []time.Time{t0, t0.Add(2 * day), t0.Add(5*day + time.Minute)}
	var last store.Outcome
	for i, at := range steps {
		c := claimAt(t, s, "p", at)
		if len(c) != 1 {
			t.Fatalf("step %d: claimed %d", i, len(c))
		}
		outs := []store.Outcome{failAt(c[0], p, at, at.Add(day))}
		must(t, s.Record(ctx, outs))
		last = outs[0]
		e, err := s.GetEndpoint(ctx, scope, ep.ID)
		must(t, err)
		if disabled := e.Status == domain.EndpointDisabled; disabled != (i == 2) {
			t.Fatalf("step %d (%s after the first failure): status %s", i, at.Sub(t0), e.Status)
		}
	}
	if !changed(last, domain.HealthDisabled) {
		t.Fatalf("the disabling failure changed %v", last.Changes)
	}
	h := health(t, s, ep.ID)
	if h.Status != domain.EndpointDisabled || !strings.HasPrefix(h.DisabledReason, "failing with no success since ") ||
		h.FailingSince == nil || !h.FailingSince.Equal(t0.Truncate(time.Microsecond)) {
		t.Fatalf("health = %+v", h)
	}
	if r := publish(t, s, scope, "a.b"); r.Deliveries != 0 {
		t.Fatalf("a disabled endpoint took %d new deliveries", r.Deliveries)
	}
	if got := claimAt(t, s, "p", t0.Add(10*day)); len(got) != 0 {
		t.Fatal("a disabled endpoint's delivery was claimed")
	}

	// Enabled again: its circuit and failures are forgotten, its pending
	// delivery is due at once, and its first success is a recovery.
	e, err := s.GetEndpoint(ctx, scope, ep.ID)
	must(t, err)
	enabledAt := t0.Add(5*day + 2*time.Minute).UTC().Truncate(time.Microsecond)
	e.Status, e.DisabledReason, e.UpdatedAt = domain.EndpointActive, "", enabledAt
	must(t, s.UpdateEndpoint(ctx, e))
	h = health(t, s, ep.ID)
	if h.Circuit != domain.CircuitClosed || h.ConsecutiveFailures != 0 || h.FailingSince != nil {
		t.Fatalf("health after enabling = %+v", h)
	}
	c := claimAt(t, s, "p", enabledAt)
	if len(c) != 1 || c[0].Attempts != 3 {
		t.Fatalf("after enabling claimed %+v, want the pending delivery with its 3 attempts", c)
	}
	ok := []store.Outcome{succeedAt(c[0], p, enabledAt.Add(time.Second))}
	must(t, s.Record(ctx, ok))
	if !changed(ok[0], domain.HealthRecovered) {
		t.Fatalf("the first success after enabling changed %v", ok[0].Changes)
	}
	if got := kinds(health(t, s, ep.ID)); got != "recovered,enabled,disabled" {
		t.Fatalf("history %s", got)
	}
}

func testPausedExpiry(t *testing.T, s store.Store) {
	setup(t, s)
	paused := endpoint(t, s, scope, "a.b")
	active := endpoint(t, s, other, "a.b")
	ev := event("a.b")
	ev.Sensitive, ev.Data = true, []byte(`{"code":"918273"}`)
	_, err := s.Publish(ctx, scope, []store.Publication{{Event: ev}})
	must(t, err)
	publish(t, s, scope, "a.b")
	publish(t, s, other, "a.b")
	paused.Status, paused.UpdatedAt = domain.EndpointPaused, time.Now()
	must(t, s.UpdateEndpoint(ctx, paused))

	// Not old enough: nothing expires.
	n, err := s.ExpirePaused(ctx, time.Now().Add(-time.Hour), time.Now(), 100)
	must(t, err)
	if n != 0 {
		t.Fatalf("expired %d deliveries younger than the cutoff", n)
	}
	n, err = s.ExpirePaused(ctx, time.Now().Add(time.Second), time.Now(), 1)
	must(t, err)
	m, err := s.ExpirePaused(ctx, time.Now().Add(time.Second), time.Now(), 100)
	must(t, err)
	if n != 1 || m != 1 {
		t.Fatalf("expired %d then %d, want 1 a batch", n, m)
	}
	ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EndpointID: paused.ID})
	must(t, err)
	for _, d := range ds {
		if d.Status != domain.DeliveryCancelled || d.LastError != "expired while its endpoint was paused" {
			t.Fatalf("delivery of the paused endpoint: %s %q", d.Status, d.LastError)
		}
	}
	got, err := s.GetEvent(ctx, scope, ev.ID)
	must(t, err)
	if string(got.Data) != string(domain.Redacted) {
		t.Fatalf("the expired sensitive event kept its data: %s", got.Data)
	}
	live, err := s.ListDeliveries(ctx, other, store.DeliveryFilter{EndpointID: active.ID})
	must(t, err)
	if len(live) != 1 || live[0].Status != domain.DeliveryPending {
		t.Fatalf("an active endpoint's delivery expired: %+v", live)
	}
}

func testDeleteScrubs(t *testing.T, s store.Store) {
	setup(t, s)
	ep := endpoint(t, s, scope, "a.b")
	ev := event("a.b")
	ev.Sensitive, ev.Data = true, []byte(`{"code":"918273"}`)
	_, err := s.Publish(ctx, scope, []store.Publication{{Event: ev}})
	must(t, err)
	must(t, s.DeleteEndpoint(ctx, scope, ep.ID))
	got, err := s.GetEvent(ctx, scope, ev.ID)
	must(t, err)
	if string(got.Data) != string(domain.Redacted) {
		t.Fatalf("the sensitive event of a deleted endpoint kept its data: %s", got.Data)
	}
}
