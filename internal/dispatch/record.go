package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// recorder writes outcomes in batches: while one batch is being committed
// the next one gathers, so the batch size follows the load by itself. At a
// steady rate each attempt would otherwise end alone, with a transaction
// and a commit of its own: a write follows the one before it by at least
// recordGather, so outcomes that end meanwhile share it. Recording late by
// that much delays no delivery; it only holds in-flight room a little
// longer.
type recorder struct {
	q        Queue
	log      *slog.Logger
	finished func(int)
	// recorded hears of every batch written, with the health changes
	// Record filled in.
	recorded func([]store.Outcome)

	mu      sync.Mutex
	pending []store.Outcome
	// ordered is set while an outcome of an ordered delivery waits.
	ordered bool
	ready   chan struct{}
	closed  bool
}

// maxRecordBatch bounds one Record call.
const maxRecordBatch = 1024

// recordGather is the least time between two writes of outcomes, and
// orderedGather while an outcome of an ordered delivery waits: its record
// releases the next delivery of its job. At 500 events a second to two
// endpoints on PostgreSQL, 25 ms rather than 10 cost Herald and the
// server 7 % less CPU per delivery (docs/performance.md).
const (
	recordGather  = 25 * time.Millisecond
	orderedGather = 10 * time.Millisecond
)

func newRecorder(q Queue, log *slog.Logger, finished func(int), recorded func([]store.Outcome)) *recorder {
	return &recorder{q: q, log: log, finished: finished, recorded: recorded, ready: make(chan struct{}, 1)}
}

func (r *recorder) add(o store.Outcome) {
	r.mu.Lock()
	r.pending = append(r.pending, o)
	r.ordered = r.ordered || o.OrderedJob != ""
	r.mu.Unlock()
	select {
	case r.ready <- struct{}{}:
	default:
	}
}

// close makes run return once everything added has been written.
func (r *recorder) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	select {
	case r.ready <- struct{}{}:
	default:
	}
}

func (r *recorder) run() {
	var batch []store.Outcome
	var last time.Time
	for range r.ready {
		for {
			r.gather(last)
			r.mu.Lock()
			n := min(len(r.pending), maxRecordBatch)
			batch = append(batch[:0], r.pending[:n]...)
			r.pending = append(r.pending[:0], r.pending[n:]...)
			r.ordered = r.ordered && len(r.pending) > 0
			closed := r.closed
			r.mu.Unlock()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			last = time.Now()
			r.write(batch)
		}
	}
}

// gather waits until recordGather (orderedGather) after the last write
// began, unless a full batch waits already or the recorder is closing.
func (r *recorder) gather(last time.Time) {
	r.mu.Lock()
	hurry := r.closed || len(r.pending) >= maxRecordBatch
	gap := recordGather
	if r.ordered {
		gap = orderedGather
	}
	r.mu.Unlock()
	wait := gap - time.Since(last)
	if wait <= 0 {
		return
	}
	if !hurry {
		time.Sleep(wait)
	}
}

// write retries while the database is unavailable: an outcome dropped
// here makes its delivery be sent again when its lease runs out. Any other
// failure is tried a few times and then given up, logged: a batch that can
// never be written must not wedge every outcome queued behind it, and its
// deliveries are sent again after their leases, which is at least once,
// never lost.
func (r *recorder) write(batch []store.Outcome) {
	failures := 0
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.q.Record(ctx, batch)
		cancel()
		if err == nil {
			r.recorded(batch)
			r.finished(len(batch))
			return
		}
		if failures++; !errors.Is(err, store.ErrUnavailable) && failures >= maxRecordFailures {
			r.log.Error("giving up recording outcomes; their deliveries will be sent again when their leases end",
				"outcomes", len(batch), "err", err)
			r.finished(len(batch))
			return
		}
		r.log.Error("recording outcomes failed; retrying", "outcomes", len(batch), "err", err, "in", wait)
		time.Sleep(wait)
	}
}

// maxRecordFailures bounds the tries of a batch that fails for a reason
// other than an unavailable database.
const maxRecordFailures = 5
