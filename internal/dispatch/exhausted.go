package dispatch

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// signalExhausted tells Signals of a delivery that ran out: failed for
// good (its retries spent, a 410, a body that cannot be made) or cancelled
// because its event's TTL ran out before it could be delivered. A test
// send is not signalled, nor a delivery of an operational event itself: a
// receiver of delivery.exhausted that fails would otherwise feed itself
// one more event with every event it fails.
func (d *Dispatcher) signalExhausted(c *store.Claimed, o *store.Outcome) {
	ev := &c.Event
	if ev.Test || domain.IsSignalType(ev.Type) {
		return
	}
	a := &o.Attempt
	var reason string
	attempts := a.Number
	switch {
	case o.Status == domain.DeliveryFailed,
		// An attempt that went out and failed, whose retry would come after
		// the event's TTL (send.go): it ends cancelled, but it gave up.
		o.Status == domain.DeliveryCancelled && a.ErrorClass != "":
		n := "attempts"
		if a.Number == 1 {
			n = "attempt"
		}
		reason = fmt.Sprintf("gave up after %d %s: %s", a.Number, n, domain.WithoutURL(a.Error))
	case o.Status == domain.DeliveryCancelled && ev.Expired(a.At):
		// The cancellation sent nothing; only the attempts before it count.
		reason, attempts = a.Error, c.Attempts
	default:
		return
	}
	d.cfg.Signals.Signal(context.Background(), domain.Signal{
		Type: domain.SignalDeliveryExhausted, TenantID: ev.TenantID, Environment: ev.Environment,
		EndpointID: o.EndpointID, DeliveryID: o.DeliveryID, EventID: ev.ID, EventType: ev.Type,
		DeliveryStatus: o.Status, Attempts: attempts, Reason: reason, At: a.At,
	})
}
