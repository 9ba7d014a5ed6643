package dispatch

import (
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// trace makes the span of an attempt that was made, once its outcome is
// known, and keeps the span's trace id in the attempt record. With tracing
// off it is one nil check: nothing is built for a span nobody keeps.
func (d *Dispatcher) trace(j *job, o *store.Outcome) {
	if d.cfg.Tracing == nil {
		return
	}
	o.Attempt.TraceID = d.cfg.Tracing.RecordAttempt(&j.claimed.Event, j.ep.ID, &o.Attempt, o.Status, time.Now())
}
