package dispatch

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
)

// releases is the real store, counting the deliveries given back.
type releases struct {
	Queue
	n atomic.Int64
}

func (q *releases) Release(ctx context.Context, owner string, ids []string) error {
	q.n.Add(int64(len(ids)))
	return q.Queue.Release(ctx, owner, ids)
}

func TestADeliveryThatCannotGetItsRateInTimeGoesBackUnattempted(t *testing.T) {
	var q *releases
	// A 9 s lease lets a delivery wait at most 3 s for its rate: the
	// attempt (its timeout cut to 4 s) and 2 s to spare must still fit.
	r := newRigWith(t, egress.Options{AllowPrivate: true}, func(st Queue) Queue {
		q = &releases{Queue: st}
		return q
	}, func(c *Config) { c.Lease = 9 * time.Second })
	s := newSink(t, nil)
	ep := r.endpoint(s.URL, func(e *domain.Endpoint) { e.RateLimit, e.MaxConcurrency = 1, 1 })
	// Another process, its clock 4 s ahead, spent the bucket's one token:
	// this one finds it empty for about 5 s, longer than a delivery may
	// wait, and gives the delivery back until a token comes.
	b, _ := rateBucket(ep)
	if _, _, err := r.st.TakeTokens(context.Background(), b, 1, time.Now().Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	d := r.succeeded(r.publish("a.b", `{"n":1}`), ep.ID)
	if d.Attempts != 1 || s.count() != 1 {
		t.Fatalf("%d attempts and %d requests, want 1 of each: waiting for the rate spent an attempt", d.Attempts, s.count())
	}
	if q.n.Load() == 0 {
		t.Fatal("the delivery was never given back while it waited for the rate")
	}
	if waited := time.Since(began); waited < 4*time.Second {
		t.Fatalf("delivered after %s, before the bucket had a token", waited)
	}
}
