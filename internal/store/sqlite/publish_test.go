package sqlite

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// TestConcurrentSinglePublishesSharePublishCalls proves that single
// publishes arriving together are stored by far fewer publish calls (each
// one a write of the writer's with its savepoint, its read of the scope's
// subscribers and its inserts) than there are publishes, and that every one
// of them is stored with its delivery. The store's own queue is wrapped to
// count the calls it makes.
func TestConcurrentSinglePublishesSharePublishCalls(t *testing.T) {
	s, publish := openQueue(t)
	var calls atomic.Int64
	s.publishes = sqlstore.NewPublishQueue(
		func(ctx context.Context, shared []*sqlstore.SharedPublish) error {
			calls.Add(1)
			return s.DB.PublishShared(ctx, shared)
		},
		func(ctx context.Context, sc domain.Scope, pubs []store.Publication) ([]store.PublishResult, error) {
			calls.Add(1)
			return s.DB.Publish(ctx, sc, pubs)
		})
	const n = 64
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = publish()
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	var events, deliveries int
	if err := s.read.QueryRow(`SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries)`).Scan(&events, &deliveries); err != nil {
		t.Fatal(err)
	}
	// openQueue published one before.
	if events != n+1 || deliveries != n+1 {
		t.Fatalf("%d events and %d deliveries stored, want %d of each", events, deliveries, n+1)
	}
	if c := calls.Load(); c > n/4 {
		t.Fatalf("%d publishes took %d publish calls: they did not share them", n, c)
	}
	t.Logf("%d single publishes in %d publish calls", n, calls.Load())
}
