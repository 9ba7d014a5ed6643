package limit_test

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Three processes' worth of Shared on one store, taking in batches, spend
// no more than the bucket's burst and rate between them.
func TestSharedBucketsHoldTheLimitForAllTakersTogether(t *testing.T) {
	st := openStore(t)
	b := store.TokenBucket{ID: "key_shared", Tokens: 600, PerSeconds: 60, Burst: 20} // 10 a second
	procs := []*limit.Shared{limit.NewShared(st), limit.NewShared(st), limit.NewShared(st)}
	var allowed atomic.Int64
	began := time.Now()
	var wg sync.WaitGroup
	for i := range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(began) < 1500*time.Millisecond {
				d, err := procs[i%3].Take(t.Context(), b, 4)
				if err != nil {
					t.Error(err)
					return
				}
				if d.OK {
					allowed.Add(1)
					continue
				}
				if d.Wait <= 0 {
					t.Errorf("refused with no wait: %+v", d)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	most := 20 + int(time.Since(began).Seconds()*10) + 1
	if n := int(allowed.Load()); n > most || n < 20 {
		t.Fatalf("%d allowed in %s; the burst of 20 and 10 a second allow %d", n, time.Since(began), most)
	}
}

func TestSharedBucketsDropWhatWasTakenUnderAnOldRate(t *testing.T) {
	st := openStore(t)
	sh := limit.NewShared(st)
	b := store.TokenBucket{ID: "key_changed", Tokens: 1, PerSeconds: 3600, Burst: 100}
	if d, err := sh.Take(t.Context(), b, 50); err != nil || !d.OK {
		t.Fatalf("first take: %+v, %v", d, err)
	}
	// The process holds 49 more, but the burst is now 1: the store has
	// one token left (100-50, capped to 1), then none.
	b.Burst = 1
	for i, want := range []bool{true, false} {
		d, err := sh.Take(t.Context(), b, 50)
		if err != nil || d.OK != want {
			t.Fatalf("take %d under the new burst: %+v, %v; want ok %v", i, d, err, want)
		}
	}
}

func TestWaitGivesUpWhenTheTokenWouldComeTooLate(t *testing.T) {
	st := openStore(t)
	sh := limit.NewShared(st)
	b := store.TokenBucket{ID: "ep_slow", Tokens: 2, PerSeconds: 1, Burst: 1}
	ctx := t.Context()
	if ok, err := sh.Wait(ctx, b, 1, time.Now().Add(time.Second)); err != nil || !ok {
		t.Fatalf("the bucket's one token: %v, %v", ok, err)
	}
	// The next comes in half a second: too late for a deadline of 100 ms,
	// in time for one of a second.
	began := time.Now()
	if ok, err := sh.Wait(ctx, b, 1, time.Now().Add(100*time.Millisecond)); err != nil || ok {
		t.Fatalf("a token half a second away before a deadline of 100 ms: %v, %v", ok, err)
	}
	if ok, err := sh.Wait(ctx, b, 1, time.Now().Add(time.Second)); err != nil || !ok {
		t.Fatalf("a token half a second away before a deadline of a second: %v, %v", ok, err)
	}
	if waited := time.Since(began); waited < 400*time.Millisecond {
		t.Fatalf("took the second token after %s, before the bucket had it", waited)
	}
}
