package dispatch

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/store"
)

// countingQueue is the real store, counting the dispatcher's calls.
type countingQueue struct {
	Queue
	mu                             sync.Mutex
	claims, records, endpointReads int
}

func (q *countingQueue) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error) {
	q.mu.Lock()
	q.claims++
	q.mu.Unlock()
	return q.Queue.Claim(ctx, p)
}

func (q *countingQueue) Record(ctx context.Context, outcomes []store.Outcome) error {
	q.mu.Lock()
	q.records++
	q.mu.Unlock()
	return q.Queue.Record(ctx, outcomes)
}

func (q *countingQueue) EndpointsByID(ctx context.Context, ids []string) ([]domain.Endpoint, error) {
	q.mu.Lock()
	q.endpointReads++
	q.mu.Unlock()
	return q.Queue.EndpointsByID(ctx, ids)
}

func (q *countingQueue) counts() (claims, records, endpointReads int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.claims, q.records, q.endpointReads
}

func countingRig(t *testing.T, poll time.Duration) (*rig, *countingQueue) {
	var cq *countingQueue
	r := newRigWith(t, egress.Options{AllowPrivate: true}, func(q Queue) Queue {
		cq = &countingQueue{Queue: q}
		return cq
	}, func(c *Config) { c.Poll = poll })
	return r, cq
}

// After a quiet spell a publish's wake-up claims at once: the delivery does
// not wait for the poll (an hour here) nor for a gathering window.
func TestWakeAfterQuietClaimsAtOnce(t *testing.T) {
	r, _ := countingRig(t, time.Hour)
	rc := newSink(t, nil)
	ep := r.endpoint(rc.URL)
	time.Sleep(50 * time.Millisecond) // the dispatcher is idle, waiting
	for i := range 3 {
		start := time.Now()
		id := r.publish("check.approved", `{"n":1}`)
		r.succeeded(id, ep.ID)
		// Far under the poll; generous for a busy machine.
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("publish %d: delivered after %v", i, took)
		}
		time.Sleep(20 * time.Millisecond) // quiet again: longer than claimGather
	}
}

// At a steady rate the wake-ups of publishes close together join one claim,
// the outcomes of attempts that end close together share one write, and an
// unchanged endpoint is read once, not once a claim.
func TestSteadyPublishesShareClaimsRecordsAndEndpointReads(t *testing.T) {
	r, cq := countingRig(t, time.Hour)
	rc := newSink(t, nil)
	ep := r.endpoint(rc.URL)
	const n = 60
	ids := make([]string, n)
	// A steady 1,000 a second: each publish on its own, as API calls are,
	// without waiting for the one before to commit.
	var wg sync.WaitGroup
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	for i := range ids {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = publishOne(r)
		}()
	}
	tick.Stop()
	wg.Wait()
	for _, id := range ids {
		if id == "" {
			t.Fatal("a publish failed")
		}
		r.succeeded(id, ep.ID)
	}
	took := time.Since(start)
	claims, records, reads := cq.counts()
	t.Logf("%d deliveries in %v: %d claims, %d record writes, %d endpoint reads", n, took, claims, records, reads)
	// Claims a wake-up asks for begin claimGather apart at the least, and
	// record writes recordGather apart (the first of each at once).
	if most := int(took/claimGather) + 2; claims > most {
		t.Errorf("%d publishes in %v made %d claims, more than %d: wake-ups should gather", n, took, claims, most)
	}
	if most := int(took/recordGather) + 2; records > most {
		t.Errorf("%d attempts in %v made %d record writes, more than %d: outcomes should gather", n, took, records, most)
	}
	if reads != 1 {
		t.Errorf("an unchanged endpoint was read %d times, want once", reads)
	}
}

// publishOne is rig.publish for other goroutines than the test's: it
// returns "" when the publish fails.
func publishOne(r *rig) string {
	now := time.Now()
	ev := domain.Event{
		ID: domain.NewIDAt(domain.PrefixEvent, now), TenantID: r.scope.TenantID, Environment: r.scope.Environment,
		Type: "check.approved", Data: []byte(`{"n":1}`), CreatedAt: now,
	}
	if _, err := r.st.Publish(context.Background(), r.scope, []store.Publication{{Event: ev}}); err != nil {
		return ""
	}
	r.d.Wake()
	return ev.ID
}
