package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// sharedTests prove that single publishes arriving together, which a store
// may store in one commit, keep each call's own outcome.
var sharedTests = []conformanceTest{
	{"ConcurrentSinglePublishesWithARepeatedKeyReplayOrConflictAlone", testConcurrentSinglesRepeatedKey},
	{"ConcurrentSinglePublishesSurviveOneRefusedPublication", testConcurrentSinglesOneBad},
}

// publishAtOnce publishes each publication in its own call, all at once
// (released together), and returns each call's result and error.
func publishAtOnce(s store.Store, sc domain.Scope, pubs []store.Publication) ([]store.PublishResult, []error) {
	results, errs := make([]store.PublishResult, len(pubs)), make([]error, len(pubs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range pubs {
		wg.Go(func() {
			<-start
			r, err := s.Publish(ctx, sc, pubs[i:i+1])
			if errs[i] = err; err == nil {
				if len(r) != 1 {
					errs[i] = fmt.Errorf("%d results for one publication", len(r))
					return
				}
				results[i] = r[0]
			}
		})
	}
	close(start)
	wg.Wait()
	return results, errs
}

// testConcurrentSinglesRepeatedKey publishes, at once and one per call,
// unkeyed events, events under a key already stored (same body: replays;
// another body: a conflict for that call alone) and events under a new key
// (one stores it, the others replay it).
func testConcurrentSinglesRepeatedKey(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	stored, err := s.Publish(ctx, scope, []store.Publication{keyed("a.b", "stored", "h")})
	must(t, err)
	const unkeyed, replays, fresh = 24, 3, 3
	var pubs []store.Publication
	for range unkeyed {
		pubs = append(pubs, store.Publication{Event: event("a.b")})
	}
	for range replays {
		pubs = append(pubs, keyed("a.b", "stored", "h"))
	}
	conflict := len(pubs)
	pubs = append(pubs, keyed("a.b", "stored", "another body"))
	for range fresh {
		pubs = append(pubs, keyed("a.b", "new", "h"))
	}
	results, errs := publishAtOnce(s, scope, pubs)
	ids := map[string]bool{}
	newStored := 0
	var newID string
	for i, r := range results {
		switch {
		case i == conflict:
			if !errors.Is(errs[i], domain.ErrConflict) {
				t.Fatalf("another body under a stored key: err = %v, want a conflict", errs[i])
			}
			continue
		case errs[i] != nil:
			t.Fatalf("publication %d failed beside the conflict: %v", i, errs[i])
		case i < unkeyed:
			if r.Replayed || r.Deliveries != 1 || ids[r.EventID] {
				t.Fatalf("unkeyed publication %d: %+v (a new event with one delivery wanted)", i, r)
			}
			ids[r.EventID] = true
		case i < unkeyed+replays:
			if !r.Replayed || r.EventID != stored[0].EventID || r.Deliveries != 1 {
				t.Fatalf("stored key again: %+v, want a replay of %s", r, stored[0].EventID)
			}
		default:
			if newID == "" {
				newID = r.EventID
			}
			if r.EventID != newID || r.Deliveries != 1 {
				t.Fatalf("new key: %+v, want event %s with one delivery", r, newID)
			}
			if !r.Replayed {
				newStored++
			}
		}
	}
	if newStored != 1 {
		t.Fatalf("%d calls stored the new key, want 1 (the others replay it)", newStored)
	}
	want := 1 + unkeyed + 1
	if n := len(allEvents(t, s, scope)); n != want {
		t.Fatalf("%d events stored, want %d", n, want)
	}
	if n := len(allDeliveries(t, s, scope)); n != want {
		t.Fatalf("%d deliveries stored, want %d", n, want)
	}
}

// testConcurrentSinglesOneBad publishes good events at once with one the
// database refuses (its id is a stored event's): that call fails, every
// other is stored with its deliveries.
func testConcurrentSinglesOneBad(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	first := publish(t, s, scope, "a.b")
	const good = 30
	pubs := make([]store.Publication, 0, good+1)
	for range good / 2 {
		pubs = append(pubs, store.Publication{Event: event("a.b")})
	}
	bad := len(pubs)
	repeated := event("a.b")
	repeated.ID = first.EventID
	pubs = append(pubs, store.Publication{Event: repeated})
	for range good - good/2 {
		pubs = append(pubs, store.Publication{Event: event("a.b")})
	}
	results, errs := publishAtOnce(s, scope, pubs)
	for i, r := range results {
		if i == bad {
			if errs[i] == nil {
				t.Fatal("a publication repeating a stored event's id was accepted")
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("good publication %d failed beside the bad one: %v", i, errs[i])
		}
		if r.EventID != pubs[i].Event.ID || r.Deliveries != 1 {
			t.Fatalf("good publication %d: %+v", i, r)
		}
	}
	if n := len(allEvents(t, s, scope)); n != 1+good {
		t.Fatalf("%d events stored, want %d", n, 1+good)
	}
	if n := len(allDeliveries(t, s, scope)); n != 1+good {
		t.Fatalf("%d deliveries stored, want %d", n, 1+good)
	}
}
