package dispatch

import (
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// A lane asks for more work until it holds store.ClaimRounds rounds of its
// concurrency waiting, so that a fast endpoint still has work while the next
// claim waits for the store; another endpoint's lane is never full because
// of it.
func TestLaneTakesWorkUntilClaimRoundsOfItWait(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	ls := newLanes(func(*job) {
		started.Done()
		<-release
	})
	ep := &endpoint{Endpoint: domain.Endpoint{ID: "ep_fast", MaxConcurrency: 3}}
	push := func() {
		t.Helper()
		if !ls.push(&job{ep: ep}) {
			t.Fatal("the lanes refused a job")
		}
	}
	started.Add(ep.MaxConcurrency)
	for range ep.MaxConcurrency {
		push()
	}
	started.Wait() // every worker busy, nothing waiting
	for waiting := range store.ClaimRounds * ep.MaxConcurrency {
		if ls.saturated(ep.ID) {
			t.Fatalf("full with %d jobs waiting, want room for %d", waiting, store.ClaimRounds*ep.MaxConcurrency)
		}
		push()
	}
	if !ls.saturated(ep.ID) {
		t.Fatalf("not full with %d jobs waiting", store.ClaimRounds*ep.MaxConcurrency)
	}
	if ls.saturated("ep_other") {
		t.Fatal("an endpoint without a lane is full")
	}
	unstarted := ls.close()
	close(release)
	if len(unstarted) != store.ClaimRounds*ep.MaxConcurrency {
		t.Fatalf("%d jobs never started, want the %d waiting", len(unstarted), store.ClaimRounds*ep.MaxConcurrency)
	}
}
