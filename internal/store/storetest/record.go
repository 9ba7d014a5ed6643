package storetest

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// recordTests prove the batched Record: batches larger than a statement's
// chunk, every column's NULLs, idempotence and in-flight cancellation.
var recordTests = []conformanceTest{
	{"RecordBatchLargerThanAChunkWritesEveryAttemptAndState", testRecordLargeBatch},
	{"RecordRepeatedChangesNothing", testRecordRepeated},
	{"RecordKeepsDeliveriesCancelledInFlightCancelled", testRecordCancelledInFlight},
	{"TraceParentTravelsFromPublishToClaim", testTraceParent},
}

// recordBatch is more outcomes than one chunk of Record's statements
// (200), and not a multiple of it.
const recordBatch = 450

// publishMany publishes n events of type a.b in one batch.
func publishMany(t *testing.T, s store.Store, sc domain.Scope, n int) {
	t.Helper()
	pubs := make([]store.Publication, n)
	for i := range pubs {
		pubs[i] = store.Publication{Event: event("a.b")}
	}
	_, err := s.Publish(ctx, sc, pubs)
	must(t, err)
}

// mixedOutcome is the i-th outcome of a batch: statuses cycle through
// succeeded, pending (a retry at retryAt) and failed; every other attempt
// has no response headers or body and no request headers (a connect
// failure), so both the values and their NULLs are written.
func mixedOutcome(c store.Claimed, sc domain.Scope, i int, at, retryAt time.Time) store.Outcome {
	o := store.Outcome{
		DeliveryID: c.DeliveryID, EndpointID: c.EndpointID, Scope: sc, EventID: c.Event.ID,
		Attempt: domain.Attempt{
			ID: domain.NewID(domain.PrefixAttempt), DeliveryID: c.DeliveryID, Number: c.Attempts + 1,
			At: at.Add(time.Duration(i) * time.Microsecond), DurationMS: int64(i),
		},
	}
	code := 0
	switch i % 3 {
	case 0:
		o.Status, code = domain.DeliverySucceeded, 200
	case 1:
		o.Status, o.NextAttemptAt, code = domain.DeliveryPending, retryAt.Add(time.Duration(i)*time.Millisecond), 503
	case 2:
		o.Status, code = domain.DeliveryFailed, 400
	}
	if i%2 == 0 {
		o.Attempt.RequestHeaders = map[string]string{"webhook-id": c.Event.ID}
		o.Attempt.ResponseStatus = code
		o.Attempt.ResponseHeaders = map[string]string{"Content-Type": "text/plain", "X-N": fmt.Sprint(i)}
		o.Attempt.ResponseBody = fmt.Sprintf("answer %d", i)
		o.Attempt.TraceID = fmt.Sprintf("%032x", i+1)
	} else {
		o.Attempt.ErrorClass, o.Attempt.Error = "connect", fmt.Sprintf("dial tcp: refused %d", i)
	}
	return o
}

// checkRecorded asserts that a delivery shows exactly the one outcome o.
func checkRecorded(t *testing.T, s store.Store, o store.Outcome) {
	t.Helper()
	d, err := s.GetDelivery(ctx, o.Scope, o.DeliveryID)
	must(t, err)
	if d.Status != o.Status || d.Attempts != 1 || d.LastStatus != o.Attempt.ResponseStatus || d.LastError != lastErrorOf(o.Attempt) {
		t.Fatalf("delivery %s = %+v, want the state of %+v", o.DeliveryID, d, o)
	}
	switch {
	case o.Status == domain.DeliveryPending && (d.NextAttemptAt == nil || d.NextAttemptAt.Sub(o.NextAttemptAt).Abs() > time.Millisecond):
		t.Fatalf("retrying delivery %s is due at %v, want %v", o.DeliveryID, d.NextAttemptAt, o.NextAttemptAt)
	case o.Status != domain.DeliveryPending && d.NextAttemptAt != nil:
		t.Fatalf("finished delivery %s is due at %v", o.DeliveryID, d.NextAttemptAt)
	}
	if len(d.AttemptLog) != 1 {
		t.Fatalf("delivery %s has %d attempts, want 1", o.DeliveryID, len(d.AttemptLog))
	}
	got, want := d.AttemptLog[0], o.Attempt
	if got.ID != want.ID || got.DeliveryID != o.DeliveryID || got.Number != want.Number || !got.At.Equal(want.At.Truncate(time.Microsecond)) ||
		got.DurationMS != want.DurationMS || got.ResponseStatus != want.ResponseStatus || got.ResponseBody != want.ResponseBody ||
		got.ErrorClass != want.ErrorClass || got.Error != want.Error || got.TraceID != want.TraceID ||
		!maps.Equal(got.RequestHeaders, want.RequestHeaders) || (got.RequestHeaders == nil) != (want.RequestHeaders == nil) ||
		!maps.Equal(got.ResponseHeaders, want.ResponseHeaders) || (got.ResponseHeaders == nil) != (want.ResponseHeaders == nil) {
		t.Fatalf("attempt of %s = %+v, want %+v", o.DeliveryID, got, want)
	}
}

// lastErrorOf is what a delivery shows of its latest attempt's failure.
func lastErrorOf(a domain.Attempt) string {
	if a.Error == "" {
		return a.ErrorClass
	}
	return a.Error
}

func testRecordLargeBatch(t *testing.T, s store.Store) {
	setup(t, s)
	scopeOf := map[string]domain.Scope{endpoint(t, s, scope).ID: scope, endpoint(t, s, other).ID: other}
	// One batch of two tenants: each attempt keeps its own scope.
	publishMany(t, s, scope, recordBatch/2)
	publishMany(t, s, other, recordBatch-recordBatch/2)
	now := time.Now()
	c := claimAll(t, s, "p", now)
	if len(c) != recordBatch {
		t.Fatalf("claimed %d, want %d", len(c), recordBatch)
	}
	retryAt := now.Add(time.Hour)
	outs := make([]store.Outcome, len(c))
	for i := range c {
		outs[i] = mixedOutcome(c[i], scopeOf[c[i].EndpointID], i, now, retryAt)
	}
	must(t, s.Record(ctx, outs))
	for _, o := range outs {
		checkRecorded(t, s, o)
	}
	// The retries, and only they, are due at their time, each with its
	// one attempt counted.
	got := claimAll(t, s, "p", retryAt.Add(time.Hour))
	if len(got) != recordBatch/3 {
		t.Fatalf("claimed %d retries, want %d", len(got), recordBatch/3)
	}
	for _, g := range got {
		if g.Attempts != 1 {
			t.Fatalf("retry %s claimed with %d attempts, want 1", g.DeliveryID, g.Attempts)
		}
	}
}

func testRecordRepeated(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	publishMany(t, s, scope, recordBatch)
	now := time.Now()
	c := claimAll(t, s, "p", now)
	if len(c) != recordBatch {
		t.Fatalf("claimed %d, want %d", len(c), recordBatch)
	}
	outs := make([]store.Outcome, len(c))
	for i := range c {
		outs[i] = mixedOutcome(c[i], scope, i, now, now.Add(time.Hour))
	}
	must(t, s.Record(ctx, outs))
	// The dispatcher records again when it lost the first commit's answer:
	// no attempt is added and no delivery counted twice.
	must(t, s.Record(ctx, outs))
	for _, o := range outs {
		checkRecorded(t, s, o)
	}
}

func testRecordCancelledInFlight(t *testing.T, s store.Store) {
	setup(t, s)
	live := endpoint(t, s, scope)
	doomed := endpoint(t, s, scope)
	publishMany(t, s, scope, recordBatch/2)
	now := time.Now()
	c := claimAll(t, s, "p", now)
	if len(c) != recordBatch/2*2 {
		t.Fatalf("claimed %d, want %d", len(c), recordBatch/2*2)
	}
	// The endpoint is deleted while its deliveries are being sent.
	must(t, s.DeleteEndpoint(ctx, scope, doomed.ID))
	outs := make([]store.Outcome, len(c))
	for i := range c {
		outs[i] = mixedOutcome(c[i], scope, i, now, now.Add(time.Hour))
	}
	must(t, s.Record(ctx, outs))
	for _, o := range outs {
		if o.EndpointID == live.ID {
			checkRecorded(t, s, o)
			continue
		}
		d, err := s.GetDelivery(ctx, scope, o.DeliveryID)
		must(t, err)
		if d.Status != domain.DeliveryCancelled || d.Attempts != 0 || d.NextAttemptAt != nil {
			t.Fatalf("delivery cancelled in flight became %+v", d)
		}
	}
	for _, g := range claimAll(t, s, "p", now.Add(2*time.Hour)) {
		if g.EndpointID == doomed.ID {
			t.Fatalf("a delivery cancelled in flight was claimed again: %+v", g)
		}
	}
}
