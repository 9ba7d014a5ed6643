package dispatch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// recorder writes outcomes in batches: while one batch is being committed
// the next one gathers, so the batch size follows the load by itself.
type recorder struct {
	q        Queue
	log      *slog.Logger
	finished func(int)

	mu      sync.Mutex
	pending []store.Outcome
	ready   chan struct{}
	closed  bool
}

// maxRecordBatch bounds one Record call.
const maxRecordBatch = 1024

func newRecorder(q Queue, log *slog.Logger, finished func(int)) *recorder {
	return &recorder{q: q, log: log, finished: finished, ready: make(chan struct{}, 1)}
}

func (r *recorder) add(o store.Outcome) {
	r.mu.Lock()
	r.pending = append(r.pending, o)
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
	for range r.ready {
		for {
			r.mu.Lock()
			n := min(len(r.pending), maxRecordBatch)
			batch = append(batch[:0], r.pending[:n]...)
			r.pending = append(r.pending[:0], r.pending[n:]...)
			closed := r.closed
			r.mu.Unlock()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			r.write(batch)
		}
	}
}

// write retries until the outcomes are stored: an outcome dropped here would
// make its delivery be sent again when its lease runs out. Past the lease
// that happens anyway, which is at least once, never lost.
func (r *recorder) write(batch []store.Outcome) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.q.Record(ctx, batch)
		cancel()
		if err == nil {
			r.finished(len(batch))
			return
		}
		r.log.Error("recording outcomes failed; retrying", "outcomes", len(batch), "err", err, "in", wait)
		time.Sleep(wait)
	}
}
