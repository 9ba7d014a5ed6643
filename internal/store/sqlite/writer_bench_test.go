package sqlite_test

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/storetest"
)

// The single writer's scheduling, measured on a real file as the load
// harness's burst meets it: what a claim waits for while publishers keep
// the writer busy, and whether many small publishes still share commits.
//
//	go test -run '^$' -bench 'Writer' -benchtime 3x ./internal/store/sqlite
func BenchmarkWriter(b *testing.B) {
	// The harness's burst: 4 publishers post batches of 1,000 events, each
	// to 10 endpoints; 40,000 events, a few seconds of the writer's time.
	b.Run("ClaimDuringBurst", func(b *testing.B) { benchClaimWhilePublishing(b, 4, 10, 1000) })
	// Many single-event publishes, which share commits.
	b.Run("ClaimDuringSmallPublishes", func(b *testing.B) { benchClaimWhilePublishing(b, 64, 50, 1) })
	b.Run("PublishOneConcurrent", benchPublishOneConcurrent)
}

const (
	benchEndpoints = 10
	claimBatch     = 256
)

var benchScope = domain.Scope{TenantID: "bench", Environment: domain.Sandbox}

// openBench opens a store in a new file with the bench tenant and its
// endpoints.
func openBench(b *testing.B, endpoints int) store.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "herald.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	storetest.BenchTenant(b, s, benchScope, endpoints)
	return s
}

var benchSeq atomic.Int64

// publications returns n events that are due at once.
func publications(n int) []store.Publication {
	pubs := make([]store.Publication, n)
	for i := range pubs {
		pubs[i] = store.Publication{Event: storetest.BenchEvent(benchScope, benchSeq.Add(1), time.Now())}
	}
	return pubs
}

// benchClaimWhilePublishing runs one burst per iteration: publishers each
// post batches of events while a dispatcher-like loop claims 256 deliveries
// at a time and hands them to a recorder that records them as sent. It
// reports how long each claim took and how many deliveries were claimed
// per second while publishing lasted, which is what decides whether
// delivery keeps pace with ingest.
func benchClaimWhilePublishing(b *testing.B, publishers, batches, batch int) {
	ctx := context.Background()
	var claimWaits []time.Duration
	var burst time.Duration
	var claimed, published int
	for range b.N {
		b.StopTimer()
		s := openBench(b, benchEndpoints)
		// 1,000 events already committed, so the first claims find work.
		if _, err := s.Publish(ctx, benchScope, publications(1000)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		publishing := make(chan struct{})
		var pubs sync.WaitGroup
		for range publishers {
			pubs.Go(func() {
				for range batches {
					if _, err := s.Publish(ctx, benchScope, publications(batch)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		go func() { pubs.Wait(); close(publishing) }()

		toRecord := make(chan []store.Outcome, 64)
		var rec sync.WaitGroup
		rec.Go(func() {
			for outs := range toRecord {
				if err := s.Record(ctx, outs); err != nil {
					b.Error(err)
				}
			}
		})
	claim:
		for {
			select {
			case <-publishing:
				break claim
			default:
			}
			t := time.Now()
			c, err := s.Claim(ctx, store.ClaimParams{Owner: "bench", Limit: claimBatch, Lease: time.Minute, Now: t})
			if err != nil {
				b.Fatal(err)
			}
			claimWaits = append(claimWaits, time.Since(t))
			claimed += len(c)
			if len(c) > 0 {
				toRecord <- sent(c)
			}
			if len(c) < claimBatch {
				// The dispatcher waits for a publish to wake it rather
				// than claim an empty queue again at once.
				select {
				case <-publishing:
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		burst += time.Since(start)
		published += publishers * batches * batch
		close(toRecord)
		rec.Wait()
		b.StopTimer()
		s.Close()
	}
	slices.Sort(claimWaits)
	pct := func(p float64) float64 {
		return float64(claimWaits[int(p*float64(len(claimWaits)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "claim-p50-ms")
	b.ReportMetric(pct(0.9), "claim-p90-ms")
	b.ReportMetric(pct(1), "claim-max-ms")
	b.ReportMetric(float64(claimed)/burst.Seconds(), "claimed/s")
	b.ReportMetric(float64(published)/burst.Seconds(), "published/s")
}

// sent is what the recorder writes for deliveries the receiver took.
func sent(claimed []store.Claimed) []store.Outcome {
	at := time.Now()
	out := make([]store.Outcome, len(claimed))
	for i, c := range claimed {
		out[i] = store.Outcome{
			DeliveryID: c.DeliveryID, EndpointID: c.EndpointID, Scope: benchScope, EventID: c.Event.ID,
			Status: domain.DeliverySucceeded,
			Attempt: domain.Attempt{
				ID: domain.NewIDAt(domain.PrefixAttempt, at), DeliveryID: c.DeliveryID, Number: c.Attempts + 1, At: at, DurationMS: 2,
				RequestHeaders: map[string]string{"Content-Type": "application/json", "webhook-id": c.Event.ID},
				ResponseStatus: 200,
			},
		}
	}
	return out
}

// benchPublishOneConcurrent publishes single events from 64 goroutines to
// one endpoint, as the steady scenario's publishers do: the publishes
// waiting at each commit share its fsync.
func benchPublishOneConcurrent(b *testing.B) {
	s := openBench(b, 1)
	ctx := context.Background()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Publish(ctx, benchScope, publications(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
