package dispatch

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// The dispatcher is its store's store.Handoff: a publish of this process
// leases the new deliveries it has room for to it and hands them over
// with their events once they are committed. At one event per call a
// claim carried a few deliveries and cost a transaction (an update of
// each delivery's row, through every index of the table) and a read of
// their events; a delivery handed over costs neither. Room is what a
// claim would have had: in-flight capacity (MaxInFlight) and a lane that
// is not full (lanes.saturated).

// Lease is the lease a delivery handed over now carries.
func (d *Dispatcher) Lease() (owner string, now, until time.Time) {
	now = d.cfg.Now()
	return d.cfg.Owner, now, now.Add(d.cfg.Lease)
}

// Reserve takes room for one delivery to the endpoint while Run claims.
func (d *Dispatcher) Reserve(endpointID string, concurrency int) bool {
	if !d.running.Load() {
		return false
	}
	if d.takeRoom(1) == 0 {
		d.backlog.Store(true)
		return false
	}
	// A handed-over endpoint has no rate limit (the store hands over none
	// that has one), so its round is its concurrency's.
	if !d.lanes.reserve(endpointID, domain.LaneRound(max(1, concurrency), 0)) {
		d.inFlight.Add(-1)
		d.backlog.Store(true)
		return false
	}
	return true
}

// Unreserve gives back room taken for deliveries that were not committed.
func (d *Dispatcher) Unreserve(endpointIDs []string) {
	d.lanes.unreserve(endpointIDs)
	d.finished(len(endpointIDs))
}

// Deliver takes committed deliveries: the claim loop starts them. Once Run
// has stopped claiming they go back to the queue.
func (d *Dispatcher) Deliver(claimed []store.Claimed) {
	d.handMu.Lock()
	if d.handClosed {
		d.handMu.Unlock()
		d.giveBack(claimed)
		return
	}
	d.handed = append(d.handed, claimed...)
	d.handMu.Unlock()
	d.handedSince.Store(true)
	d.cfg.Metrics.HandedOver(len(claimed))
	select {
	case d.handedCh <- struct{}{}:
	default:
	}
}

// takeHanded starts the deliveries handed over so far.
func (d *Dispatcher) takeHanded(ctx context.Context) {
	d.handMu.Lock()
	claimed := d.handed
	d.handed = nil
	d.handMu.Unlock()
	if len(claimed) == 0 {
		return
	}
	d.log.Debug("took deliveries handed over at publish", "deliveries", len(claimed))
	// From here on they are queued jobs, not room reserved.
	d.lanes.unreserve(endpointIDs(claimed))
	if _, err := d.start(ctx, claimed); err != nil {
		d.log.Error("starting deliveries handed over at publish failed; they went back to the queue", "deliveries", len(claimed), "err", err)
	}
}

// closeHandoff gives back to the queue what was handed over and not
// started, once the claims have stopped; what comes after goes back as it
// comes (Deliver).
func (d *Dispatcher) closeHandoff() {
	d.handMu.Lock()
	claimed := d.handed
	d.handed, d.handClosed = nil, true
	d.handMu.Unlock()
	if len(claimed) > 0 {
		d.giveBack(claimed)
	}
}

// giveBack returns deliveries handed over and never started to the queue,
// with the lane room and the in-flight room they held.
func (d *Dispatcher) giveBack(claimed []store.Claimed) {
	d.lanes.unreserve(endpointIDs(claimed))
	d.release(claimed)
}

func endpointIDs(claimed []store.Claimed) []string {
	ids := make([]string, len(claimed))
	for i := range claimed {
		ids[i] = claimed[i].EndpointID
	}
	return ids
}
