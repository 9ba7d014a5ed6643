package postgres

import (
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// pausedHandoff is a dispatcher of the first process whose Reserve, called
// inside the publish transaction after the handoff lock and the read of
// the other dispatchers, waits until told to go on.
type pausedHandoff struct {
	reserving chan struct{}
	proceed   chan struct{}
	delivered chan []store.Claimed
}

func (h *pausedHandoff) Lease() (string, time.Time, time.Time) {
	now := time.Now()
	return "first", now, now.Add(time.Minute)
}

func (h *pausedHandoff) Reserve(string, int) bool {
	h.reserving <- struct{}{}
	<-h.proceed
	return true
}

func (h *pausedHandoff) Unreserve([]string)        {}
func (h *pausedHandoff) Deliver(c []store.Claimed) { h.delivered <- c }

// A process that starts while another hands a delivery over at publish,
// its transaction still open, claims only once that publish has committed,
// and then counts the handed-over lease: at max_concurrency 1 it takes
// nothing. Without the announce lock its claim would count no lease (the
// publish has not committed) and take the second due delivery.
func TestANewProcessCountsTheLeasesOfAPublishHandingOverAsItStarts(t *testing.T) {
	url := pgtest.URL(t)
	first := open(t, url)
	sc := tenantWithEndpoint(t, first, 1)
	publish := func() {
		_, err := first.Publish(ctx, sc, []store.Publication{{Event: domain.Event{
			ID: domain.NewID(domain.PrefixEvent), Type: "a.b", Data: []byte(`{}`), CreatedAt: time.Now(),
		}}})
		must(t, err)
	}
	// The first process's dispatcher has claimed (so it runs), and one
	// delivery waits, due, published before the handoff was on.
	if c, err := first.Claim(ctx, store.ClaimParams{Owner: "first", Limit: 10, Lease: time.Minute, Now: time.Now()}); err != nil || len(c) != 0 {
		t.Fatalf("first claim: %d, %v", len(c), err)
	}
	publish()
	h := &pausedHandoff{reserving: make(chan struct{}), proceed: make(chan struct{}), delivered: make(chan []store.Claimed, 1)}
	first.HandOffTo(h)
	var release sync.Once
	proceed := func() { release.Do(func() { close(h.proceed) }) }
	t.Cleanup(proceed) // a failing test lets the publish end before the stores close
	published := make(chan struct{})
	go func() {
		defer close(published)
		publish()
	}()
	<-h.reserving // the publish holds the handoff lock and has found itself alone

	second := open(t, url)
	claimed := make(chan int, 1)
	go func() {
		c, err := second.Claim(ctx, store.ClaimParams{Owner: "second", Limit: 10, Lease: time.Minute, Now: time.Now()})
		if err != nil {
			t.Error(err)
		}
		claimed <- len(c)
	}()
	select {
	case n := <-claimed:
		t.Fatalf("the new process claimed %d while a publish handing over had not committed", n)
	case <-time.After(500 * time.Millisecond):
	}
	proceed()
	<-published
	if c := <-h.delivered; len(c) != 1 {
		t.Fatalf("handed over %d, want 1", len(c))
	}
	select {
	case n := <-claimed:
		if n != 0 {
			t.Fatalf("the new process claimed %d of an endpoint of max_concurrency 1 whose one lease the first holds", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the new process's claim did not finish after the publish committed")
	}
}
