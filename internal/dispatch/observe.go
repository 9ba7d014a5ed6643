package dispatch

import (
	"context"
	"log/slog"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// attempted counts an attempt and logs it: a failure, a cancellation and
// an endpoint disabled by its receiver at info, a success at debug. The
// line names the delivery and the attempt, never the body, the headers or
// the URL (which may carry a credential in its query).
func (d *Dispatcher) attempted(o *store.Outcome) {
	d.cfg.Metrics.Attempted(o)
	level := slog.LevelInfo
	msg := "delivery attempt failed"
	switch o.Status {
	case domain.DeliverySucceeded:
		level, msg = slog.LevelDebug, "delivery attempt succeeded"
	case domain.DeliveryCancelled:
		msg = "delivery cancelled"
	case domain.DeliveryFailed:
		msg = "delivery attempt failed; giving up"
	}
	ctx := context.Background()
	if !d.log.Enabled(ctx, level) {
		return
	}
	a := &o.Attempt
	attrs := []slog.Attr{
		slog.String("tenant", o.Scope.TenantID), slog.String("environment", string(o.Scope.Environment)),
		slog.String("endpoint", o.EndpointID), slog.String("event", o.EventID), slog.String("delivery", o.DeliveryID),
		slog.String("attempt_id", a.ID), slog.Int("attempt", a.Number), slog.String("status", o.Status),
		slog.Int64("duration_ms", a.DurationMS),
	}
	if a.ResponseStatus != 0 {
		attrs = append(attrs, slog.Int("response_status", a.ResponseStatus))
	}
	if o.Status != domain.DeliverySucceeded {
		attrs = append(attrs, slog.String("error_class", a.ErrorClass), slog.String("error", domain.WithoutURL(a.Error)))
	}
	if o.Status == domain.DeliveryPending {
		attrs = append(attrs, slog.Time("next_attempt_at", o.NextAttemptAt))
	}
	d.log.LogAttrs(ctx, level, msg, attrs...)
	if o.DisableEndpoint != "" {
		d.log.LogAttrs(ctx, slog.LevelInfo, "endpoint disabled",
			slog.String("tenant", o.Scope.TenantID), slog.String("environment", string(o.Scope.Environment)),
			slog.String("endpoint", o.EndpointID), slog.String("reason", o.DisableEndpoint),
			slog.String("event", o.EventID), slog.String("delivery", o.DeliveryID))
	}
}

// tookOver counts and logs the deliveries a claim took over from a lease
// that ran out unrecorded: a process crashed or stalled mid-attempt, and
// its receiver may get the delivery twice.
func (d *Dispatcher) tookOver(claimed []store.Claimed) {
	n := 0
	for i := range claimed {
		c := &claimed[i]
		if !c.TakenOver {
			continue
		}
		n++
		d.log.LogAttrs(context.Background(), slog.LevelInfo, "took over a delivery whose lease ran out",
			slog.String("tenant", c.Event.TenantID), slog.String("environment", string(c.Event.Environment)),
			slog.String("endpoint", c.EndpointID), slog.String("event", c.Event.ID), slog.String("delivery", c.DeliveryID),
			slog.Int("attempts_before", c.Attempts))
	}
	if n > 0 {
		d.cfg.Metrics.TookOver(n)
	}
}
