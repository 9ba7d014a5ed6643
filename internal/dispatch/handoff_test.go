package dispatch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/store"
)

// While deliveries come handed over at publish, room freed by a record
// wakes no claim after a claim that found nothing; the record that ends an
// ordered delivery must then wake the claim that sends the next of its
// job itself. With no poll to fall back on (an hour), the next step waited
// for it before wakeForRecorded.
func TestTheRecordThatEndsAnOrderedDeliveryWakesTheClaimOfTheNext(t *testing.T) {
	r, cq := countingRig(t, time.Hour)
	r.st.HandOffTo(r.d)
	release := make(chan struct{})
	arrived := make(chan string, 8)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		arrived <- req.Header.Get("webhook-id")
		<-release
	}))
	defer slow.Close()
	fast := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer fast.Close()
	ordered := r.endpoint(slow.URL, func(e *domain.Endpoint) { e.Ordering, e.EventTypes = domain.OrderingJob, []string{"step.*"} })
	plain := r.endpoint(fast.URL, func(e *domain.Endpoint) { e.EventTypes = []string{"other.*"} })

	first := r.publish("step.one", `{}`)
	if got := <-arrived; got != first {
		t.Fatalf("first arrival %s, want %s", got, first)
	}
	// The next step waits behind the first; the claim its publish wakes
	// finds nothing.
	claims, _, _ := cq.counts()
	second := r.publish("step.two", `{}`)
	for c, _, _ := cq.counts(); c == claims; c, _, _ = cq.counts() {
		time.Sleep(time.Millisecond)
	}
	// A delivery handed over at publish, sent and recorded meanwhile.
	res, err := r.st.Publish(context.Background(), r.scope, []store.Publication{{Event: domain.Event{
		ID: domain.NewID(domain.PrefixEvent), Type: "other.one", Data: []byte(`{}`), CreatedAt: time.Now(),
	}}})
	if err != nil || res[0].HandedOff != 1 {
		t.Fatalf("the plain endpoint's delivery was not handed over: %+v, %v", res, err)
	}
	r.succeeded(res[0].EventID, plain.ID)

	close(release)
	r.succeeded(first, ordered.ID)
	select {
	case got := <-arrived:
		if got != second {
			t.Fatalf("arrival %s, want the second step %s", got, second)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second step of the job was not sent within 10 s of the first's record")
	}
	r.succeeded(second, ordered.ID)
}

// A retry due at once (a delay of 0s) is sent again without waiting for
// the poll (an hour here) while other deliveries come handed over at
// publish, which wake no claim. Its own wake-up (wakeForRetry) comes as
// its outcome is made and may claim before the outcome is written, when
// the delivery is still leased; the record, which writes it, must wake
// the claim again (wakeForRecorded).
func TestARetryDueAtOnceIsSentAgainWhileOtherDeliveriesAreHandedOver(t *testing.T) {
	r, _ := countingRig(t, time.Hour)
	r.st.HandOffTo(r.d)
	var mu sync.Mutex
	seen := map[string]int{}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if seen[req.Header.Get("webhook-id")]++; seen[req.Header.Get("webhook-id")] == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer failing.Close()
	fast := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer fast.Close()
	ep := r.endpoint(failing.URL, func(e *domain.Endpoint) {
		e.EventTypes, e.RetryPolicy = []string{"check.*"}, domain.RetryPolicy{Delays: []string{"0s", "0s"}}
	})
	r.endpoint(fast.URL, func(e *domain.Endpoint) { e.EventTypes = []string{"other.*"} })

	// Deliveries handed over all along, published as the API publishes
	// them: with no wake-up of their own.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if _, err := r.st.Publish(context.Background(), r.scope, []store.Publication{{Event: domain.Event{
				ID: domain.NewID(domain.PrefixEvent), Type: "other.one", Data: []byte(`{}`), CreatedAt: time.Now(),
			}}}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	for range 20 {
		id := r.publish("check.approved", `{}`)
		r.waitStatus(id, ep.ID, domain.DeliverySucceeded)
		if d := r.settled(id, ep.ID); len(d.AttemptLog) != 2 {
			t.Fatalf("delivery %s: attempts %s, want a failure and its retry", d.ID, attemptsJSON(d))
		}
	}
}

// A delivery handed over at publish that waited in its lane until too late
// in its lease to start is released, due at once, and a claim must take it
// again: the release wakes one (it counts as work waiting) even while only
// handed-over deliveries came since a claim that found nothing, when room
// freed wakes none. The poll is an hour.
func TestAHandedOverDeliveryReleasedLateInItsLeaseIsClaimedAgainAtOnce(t *testing.T) {
	// A lease of 7 s makes an attempt's time 2 s at most (the lease less
	// 5 s), and one must start by the lease's end less that and 2 s: 3 s
	// after the handoff.
	r := newRigWith(t, egress.Options{AllowPrivate: true}, nil, func(c *Config) { c.Poll, c.Lease = time.Hour, 7*time.Second })
	r.st.HandOffTo(r.d)
	var mu sync.Mutex
	var slow []string // the first two events: answered after their attempts' 2 s
	first := make(chan struct{}, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		late := slices.Contains(slow, req.Header.Get("webhook-id"))
		mu.Unlock()
		if late {
			select {
			case first <- struct{}{}:
			default:
			}
			time.Sleep(2500 * time.Millisecond)
		}
	}))
	defer rc.Close()
	ep := r.endpoint(rc.URL, func(e *domain.Endpoint) { e.MaxConcurrency, e.TimeoutMS = 1, 2000 })
	var ids []string
	for i := range 3 {
		id := domain.NewID(domain.PrefixEvent)
		if i < 2 {
			mu.Lock()
			slow = append(slow, id)
			mu.Unlock()
		}
		res, err := r.st.Publish(context.Background(), r.scope, []store.Publication{{Event: domain.Event{
			ID: id, Type: "check.approved", Data: []byte(`{}`), CreatedAt: time.Now(),
		}}})
		if err != nil || res[0].HandedOff != 1 {
			t.Fatalf("event %d was not handed over: %+v, %v", i, res, err)
		}
		ids = append(ids, id)
		if i == 0 {
			<-first // in flight: the lane's room is for the next two
		}
	}
	// The first two time out one after the other; the third, still in the
	// lane 4 s after the handoff, is released and claimed again.
	r.waitStatus(ids[2], ep.ID, domain.DeliverySucceeded)
	if d := r.settled(ids[2], ep.ID); len(d.AttemptLog) != 1 {
		t.Fatalf("the released delivery: attempts %s, want the one that succeeded", attemptsJSON(d))
	}
}
