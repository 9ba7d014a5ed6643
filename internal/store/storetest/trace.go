package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// testTraceParent proves that the traceparent an event is published with
// comes back with the event, read alone and with every claim of its
// deliveries, in batches of more than one statement, with events published
// without one (tracing off) beside them. (An attempt's trace id is proved
// by testRecordLargeBatch.)
func testTraceParent(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	endpoint(t, s, scope)
	const n = 75 // more than SQLite's largest statement (64 rows), not a multiple of it
	pubs := make([]store.Publication, n)
	want := map[string]string{}
	for i := range pubs {
		pubs[i] = store.Publication{Event: event("a.b")}
		if i%3 != 0 {
			pubs[i].Event.TraceParent = fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
		}
		want[pubs[i].Event.ID] = pubs[i].Event.TraceParent
	}
	_, err := s.Publish(ctx, scope, pubs)
	must(t, err)
	for id, tp := range want {
		ev, err := s.GetEvent(ctx, scope, id)
		must(t, err)
		if ev.TraceParent != tp {
			t.Fatalf("event %s has traceparent %q, want %q", id, ev.TraceParent, tp)
		}
	}
	claimed := claimAll(t, s, "p", time.Now())
	if len(claimed) != 2*n {
		t.Fatalf("claimed %d deliveries, want %d", len(claimed), 2*n)
	}
	for _, c := range claimed {
		if c.Event.TraceParent != want[c.Event.ID] {
			t.Fatalf("claimed delivery %s carries traceparent %q, want %q", c.DeliveryID, c.Event.TraceParent, want[c.Event.ID])
		}
	}
	// A retry, claimed again after its lease ran out, still carries it.
	again := claimAll(t, s, "q", time.Now().Add(2*time.Minute))
	if len(again) != 2*n {
		t.Fatalf("claimed %d deliveries after their leases ended, want %d", len(again), 2*n)
	}
	for _, c := range again {
		if c.Event.TraceParent != want[c.Event.ID] {
			t.Fatalf("reclaimed delivery %s carries traceparent %q, want %q", c.DeliveryID, c.Event.TraceParent, want[c.Event.ID])
		}
	}
}
