package sqlstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Concurrent publishes share commits, and each commit's publishes are
// stored by one publish call. Each commit waits for a disk flush, and each
// publish alone paid for one: on PostgreSQL a transaction of about six
// round trips and a WAL flush per event (20,220 flushes for 20,000 events,
// and PostgreSQL spent more CPU than Herald); on SQLite, whose writer
// already shares commits, a savepoint, a read of the scope's subscribers
// and one-row inserts per event. The publish queue gathers the publishes
// that arrive while a commit is in flight and stores them in the next one
// (PublishShared: each scope's publications in one batch, each table's
// rows in a few statements). A publish that finds no shared commit in
// flight starts one at once, so a lone publish waits for nothing but its
// own commit; each caller is answered only once its
// commit is done.
const (
	// maxSharedPublications bounds the publications of one shared commit
	// (a full API batch is 1,000); a larger call goes alone.
	maxSharedPublications = 1000
	// sharedCommitTimeout bounds a shared commit, which no single caller's
	// deadline may cut short.
	sharedCommitTimeout = time.Minute
)

// PublishQueue gathers concurrent publishes into shared commits. A store
// makes its Publish the queue's.
type PublishQueue struct {
	// shared stores calls in one transaction; alone stores a call that
	// has a commit to itself, as every publish was stored before.
	shared func(context.Context, []*SharedPublish) error
	alone  func(context.Context, domain.Scope, []store.Publication) ([]store.PublishResult, error)

	mu      sync.Mutex
	waiting []*publishCall
	// running: a commit is being made. One at a time, so that each
	// gathers everything that arrived during the one before (see
	// NewPublishQueue).
	running bool
}

// publishCall is one caller's publish, waiting for its commit.
type publishCall struct {
	ctx  context.Context
	pub  SharedPublish
	err  error
	done chan struct{}
}

// NewPublishQueue gathers publishes for shared, which stores several
// callers' publications in one transaction (DB.PublishShared), and alone,
// which stores one call's in a transaction of its own (DB.Publish), one
// shared commit at a time. Against two at once (the next one building its
// rows while the one before waits for its flush), one measured 8-12 % less
// CPU per delivery on PostgreSQL (Herald and the server) at 32 publishers
// and at 500 events a second, with a lower p99, and 1-7 % less on SQLite
// (docs/performance.md).
func NewPublishQueue(shared func(context.Context, []*SharedPublish) error,
	alone func(context.Context, domain.Scope, []store.Publication) ([]store.PublishResult, error)) *PublishQueue {
	return &PublishQueue{shared: shared, alone: alone}
}

// Publish stores the publications once they share a commit with whatever
// other publishes arrived meanwhile. The outcome is the caller's own: a
// publication that fails (a reused idempotency key, a refused row) fails
// only its own call.
func (q *PublishQueue) Publish(ctx context.Context, scope domain.Scope, pubs []store.Publication) ([]store.PublishResult, error) {
	if len(pubs) >= maxSharedPublications {
		return q.alone(ctx, scope, pubs)
	}
	c := &publishCall{ctx: ctx, pub: SharedPublish{Scope: scope, Pubs: pubs}, done: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, c)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go q.run()
	}
	select {
	case <-c.done:
		return c.pub.Results, c.err
	case <-ctx.Done():
		// The commit may still take the publications, as it may when a
		// client goes away while its own transaction commits.
		return nil, ctx.Err()
	}
}

// run commits what waits, again and again, until nothing does.
func (q *PublishQueue) run() {
	for {
		calls := q.take()
		if len(calls) == 0 {
			return
		}
		q.commit(calls)
	}
}

// take removes the calls of the next commit from the queue, in their
// order, up to maxSharedPublications; calls whose callers left are
// answered and dropped. With nothing left to take, the runner stops.
func (q *PublishQueue) take() []*publishCall {
	q.mu.Lock()
	defer q.mu.Unlock()
	var calls []*publishCall
	n, i := 0, 0
	for ; i < len(q.waiting); i++ {
		c := q.waiting[i]
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		if len(calls) > 0 && n+len(c.pub.Pubs) > maxSharedPublications {
			break
		}
		calls = append(calls, c)
		n += len(c.pub.Pubs)
	}
	rest := copy(q.waiting, q.waiting[i:])
	clear(q.waiting[rest:])
	q.waiting = q.waiting[:rest]
	if len(calls) == 0 {
		q.running = false
	}
	return calls
}

// commit stores calls in one transaction and answers them.
func (q *PublishQueue) commit(calls []*publishCall) {
	defer func() {
		for _, c := range calls {
			close(c.done)
		}
	}()
	if len(calls) == 1 {
		c := calls[0]
		c.pub.Results, c.err = q.alone(c.ctx, c.pub.Scope, c.pub.Pubs)
		return
	}
	// No caller's cancellation may fail the others' commit; the values
	// (a trace, say) are the first caller's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(calls[0].ctx), sharedCommitTimeout)
	defer cancel()
	q.commitShared(ctx, calls)
}

// commitShared stores calls in one transaction. When it fails for want of
// the database every call shares the error. Otherwise a publication was
// refused (a reused idempotency key, a row the database would not take):
// each half of the calls is committed again on its own, down to the
// refused call alone, so that only its caller hears of it and one bad
// publication among n costs about 2·log2(n) more transactions, not n.
func (q *PublishQueue) commitShared(ctx context.Context, calls []*publishCall) {
	shared := make([]*SharedPublish, len(calls))
	for i, c := range calls {
		shared[i] = &c.pub
	}
	err := q.shared(ctx, shared)
	if err == nil {
		return
	}
	if len(calls) == 1 || errors.Is(err, store.ErrUnavailable) {
		for _, c := range calls {
			c.pub.Results, c.err = nil, err
		}
		return
	}
	// In order: the first half's publications come before the second's,
	// as they arrived.
	half := len(calls) / 2
	q.commitShared(ctx, calls[:half])
	q.commitShared(ctx, calls[half:])
}
