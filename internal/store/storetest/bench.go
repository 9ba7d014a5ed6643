package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// The queue's hot path on a real store: claim a batch of 256 due
// deliveries with their events, record 256 outcomes, publish a batch.
// Each database package runs these on its own store:
//
//	go test -run '^$' -bench . -benchmem ./internal/store/sqlite ./internal/store/postgres

const (
	benchBatch     = 256
	benchEndpoints = 4
)

// Opener returns a new, empty store for a benchmark.
type Opener func(b *testing.B) store.Store

// Bench runs the queue benchmarks.
func Bench(b *testing.B, open Opener) {
	b.Run("Claim256", func(b *testing.B) { benchClaim256(b, open) })
	b.Run("ClaimAllSaturated", func(b *testing.B) { benchClaimAllSaturated(b, open) })
	b.Run("Record256", func(b *testing.B) { benchRecord256(b, open) })
	b.Run("PublishBatch", func(b *testing.B) { benchPublishBatch(b, open) })
}

// benchQueue is a tenant with endpoints and a supply of due deliveries.
type benchQueue struct {
	s     store.Store
	scope domain.Scope
	eps   []string
	seq   int
	// createdAt of the next events: an hour ago, so they are due.
	createdAt time.Time
}

func newBenchQueue(b *testing.B, s store.Store) *benchQueue {
	b.Helper()
	sc := domain.Scope{TenantID: "bench", Environment: domain.Production}
	return &benchQueue{s: s, scope: sc, eps: BenchTenant(b, s, sc, benchEndpoints), createdAt: time.Now().Add(-time.Hour)}
}

// BenchTenant creates the tenant of sc with n endpoints that take every
// event type, each with the harness's concurrency of 64, and returns their
// ids. Benchmarks of a single store use it to build the same queue.
func BenchTenant(b *testing.B, s store.Store, sc domain.Scope, n int) []string {
	b.Helper()
	ctx := context.Background()
	if err := s.CreateTenant(ctx, &domain.Tenant{ID: sc.TenantID, Name: sc.TenantID, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		now := time.Now()
		e := &domain.Endpoint{
			ID: domain.NewID(domain.PrefixEndpoint), TenantID: sc.TenantID, Environment: sc.Environment,
			URL: fmt.Sprintf("https://receiver-%d.example.com/hook", i), Status: domain.EndpointActive,
			TimeoutMS: 15000, MaxConcurrency: 64, Success: domain.Success2xx, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			CreatedAt: now, UpdatedAt: now,
		}
		if err := e.RetryPolicy.Normalize(); err != nil {
			b.Fatal(err)
		}
		if err := s.CreateEndpoint(ctx, e); err != nil {
			b.Fatal(err)
		}
		ids[i] = e.ID
	}
	return ids
}

// BenchEvent is the harness's event: a verification.approved with about
// 400 bytes of data, numbered seq, created at.
func BenchEvent(sc domain.Scope, seq int64, at time.Time) domain.Event {
	return domain.Event{
		ID: domain.NewIDAt(domain.PrefixEvent, at), TenantID: sc.TenantID, Environment: sc.Environment,
		Type: "verification.approved", CreatedAt: at,
		Data: json.RawMessage(`{"status":"approved","user_id":"u-` + strconv.FormatInt(seq, 10) +
			`","country":"GB","document":{"type":"passport","number":"P1234567","expires":"2031-04-30"},"checks":{"document":"clear","face_match":"clear","liveness":"clear","watchlist":"clear"},"score":0.987}`),
	}
}

// publish adds events (each fanned out to every endpoint) in batches of
// 1,000, as POST /v1/events/batch does.
func (q *benchQueue) publish(b *testing.B, events int) {
	b.Helper()
	for events > 0 {
		n := min(events, 1000)
		pubs := make([]store.Publication, n)
		for i := range pubs {
			q.seq++
			q.createdAt = q.createdAt.Add(time.Microsecond)
			pubs[i] = store.Publication{Event: BenchEvent(q.scope, int64(q.seq), q.createdAt)}
		}
		if _, err := q.s.Publish(context.Background(), q.scope, pubs); err != nil {
			b.Fatal(err)
		}
		events -= n
	}
}

// outcomes is what the dispatcher records for a batch of successful sends.
func outcomes(claimed []store.Claimed, scope domain.Scope, at time.Time) []store.Outcome {
	out := make([]store.Outcome, len(claimed))
	for i, c := range claimed {
		out[i] = store.Outcome{
			DeliveryID: c.DeliveryID, EndpointID: c.EndpointID, Scope: scope, EventID: c.Event.ID,
			Status: domain.DeliverySucceeded,
			Attempt: domain.Attempt{
				ID: domain.NewIDAt(domain.PrefixAttempt, at), DeliveryID: c.DeliveryID, Number: c.Attempts + 1, At: at, DurationMS: 2,
				RequestHeaders: map[string]string{
					"Content-Type": "application/json", "User-Agent": "Herald/0.1.0", "webhook-id": c.Event.ID,
					"webhook-timestamp": strconv.FormatInt(at.Unix(), 10),
					"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
				},
				ResponseStatus:  200,
				ResponseHeaders: map[string]string{"Content-Length": "0", "Date": at.UTC().Format(time.RFC1123)},
			},
		}
	}
	return out
}

// benchClaim256 claims 256 due deliveries (and reads their events) from
// a queue of the given size. A 1 µs lease and a clock that moves on 1 ms a
// claim keep the queue full: what one claim took is due again at the next.
func benchClaim256(b *testing.B, open Opener) {
	for _, pending := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			q := newBenchQueue(b, open(b))
			q.publish(b, pending/benchEndpoints)
			ctx := context.Background()
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				now = now.Add(time.Millisecond)
				c, err := q.s.Claim(ctx, store.ClaimParams{Owner: "bench", Limit: benchBatch, Lease: time.Microsecond, Now: now})
				if err != nil {
					b.Fatal(err)
				}
				if len(c) != benchBatch {
					b.Fatalf("claimed %d, want %d", len(c), benchBatch)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/delivery")
		})
	}
}

// benchClaimAllSaturated is the claim the dispatcher makes when every
// endpoint with due work has a full lane (one endpoint with a backlog, say):
// all of them are skipped, so nothing can be claimed, and the cost is what
// it takes to find that out. It should not grow with the queue.
func benchClaimAllSaturated(b *testing.B, open Opener) {
	for _, pending := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			q := newBenchQueue(b, open(b))
			q.publish(b, pending/benchEndpoints)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, err := q.s.Claim(ctx, store.ClaimParams{Owner: "bench", Limit: benchBatch, Lease: time.Minute, Now: time.Now(), Skip: only(q.eps...)})
				if err != nil {
					b.Fatal(err)
				}
				if len(c) != 0 {
					b.Fatalf("claimed %d of skipped endpoints", len(c))
				}
			}
		})
	}
}

// benchRecord256 records 256 successful attempts of claimed
// deliveries: 256 attempt rows and 256 delivery updates in one commit.
func benchRecord256(b *testing.B, open Opener) {
	q := newBenchQueue(b, open(b))
	ctx := context.Background()
	q.publish(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c, err := q.s.Claim(ctx, store.ClaimParams{Owner: "bench", Limit: benchBatch, Lease: time.Minute, Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if len(c) < benchBatch {
			q.publish(b, 10_000)
			if c, err = q.s.Claim(ctx, store.ClaimParams{Owner: "bench", Limit: benchBatch, Lease: time.Minute, Now: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
		outs := outcomes(c, q.scope, time.Now())
		b.StartTimer()
		if err := q.s.Record(ctx, outs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/delivery")
}

// benchPublishBatch publishes 1,000 events, each to every endpoint, in
// one call: the store's share of POST /v1/events/batch.
func benchPublishBatch(b *testing.B, open Opener) {
	q := newBenchQueue(b, open(b))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		q.publish(b, 1000)
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
