package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// HandOffTo makes publishes hand new deliveries to h, a dispatcher of this
// process, where it has room (store.Handoff). Set it before the first
// publish; nil stops it.
func (db *DB) HandOffTo(h store.Handoff) { db.handoff.Store(&h) }

func (db *DB) handoffTarget() store.Handoff {
	if p := db.handoff.Load(); p != nil {
		return *p
	}
	return nil
}

// handing is what one publish transaction hands over: made afresh on each
// run of the transaction (a run rolled back gives its room back), and
// delivered once it commits.
type handing struct {
	h          store.Handoff
	owner      string
	now, until time.Time
	// checked and open: whether the transaction has read that the
	// dispatcher may take deliveries (handoffOpen), and what it read.
	checked, open bool
	// claimed are the deliveries to hand over, one room reserved for
	// each; their events are filled in from events once committed.
	claimed []store.Claimed
	// events are the handed-over deliveries' events, as a claim would
	// read them back.
	events map[string]*domain.Event
}

// beginHanding starts a publish transaction's handing over; nil when no
// dispatcher takes deliveries here.
func (db *DB) beginHanding() *handing {
	h := db.handoffTarget()
	if h == nil {
		return nil
	}
	return &handing{h: h}
}

// reset gives back what a rolled-back run of the transaction reserved.
func (hd *handing) reset() {
	if hd == nil {
		return
	}
	if len(hd.claimed) > 0 {
		ids := make([]string, len(hd.claimed))
		for i := range hd.claimed {
			ids[i] = hd.claimed[i].EndpointID
		}
		hd.h.Unreserve(ids)
	}
	*hd = handing{h: hd.h}
	hd.owner, hd.now, hd.until = hd.h.Lease()
}

// finish hands the deliveries over once the transaction committed (err
// nil), or gives their room back. A commit whose outcome is unknown (the
// connection was lost as it committed) may have stored them leased: they
// wait for their leases to run out and a claim takes them over, counted
// and logged as takeovers, as after a crash.
func (hd *handing) finish(err error) {
	if hd == nil {
		return
	}
	if err != nil || len(hd.claimed) == 0 {
		hd.reset()
		return
	}
	for i := range hd.claimed {
		hd.claimed[i].Event = *hd.events[hd.claimed[i].Event.ID]
	}
	hd.h.Deliver(hd.claimed)
	hd.claimed = nil
}

// handoffOpen reads whether deliveries may be handed over in this
// transaction: no other dispatcher could hold a live lease (claims count
// only leases on record, and a dispatcher taking deliveries at publish
// counts none, so it must be alone; see othersSQL for the window), and the
// owner's own claims said lately that it runs (handoffBeat), so that its
// handed-over leases, like a claim's, end within the window of a beat on
// record. On PostgreSQL the subscribers' read took the handoff lock first
// (Dialect.HandoffLock), so a dispatcher starting meanwhile is either seen
// here or counts these leases in its first claim. This read is a statement
// of its own for that: a statement's snapshot is taken before a lock
// inside it is granted, so the subscribers' statement would not see a beat
// committed while it waited for the lock.
func (db *DB) handoffOpen(ctx context.Context, tx *sql.Tx, hd *handing) (bool, error) {
	if hd.checked {
		return hd.open, nil
	}
	var others int
	var own sql.NullInt64
	args := []any{hd.owner, leasingSince(hd.now, hd.until.Sub(hd.now)), hd.owner}
	if err := db.scanStmt(ctx, tx, `SELECT (SELECT count(*) FROM dispatchers WHERE owner <> ? AND seen_at > ?),
		(SELECT seen_at FROM dispatchers WHERE owner = ?)`, args, &others, &own); err != nil {
		return false, err
	}
	hd.checked = true
	hd.open = others == 0 && own.Valid && own.Int64 > micros(hd.now.Add(-handoffBeat))
	return hd.open, nil
}

// handOver leases to the dispatcher those of a publish's new deliveries
// that it has room for and may take, and says how many of each event's.
func (db *DB) handOver(ctx context.Context, tx *sql.Tx, hd *handing, subs []subscriber, deliveries []DeliveryRow) (map[string]int, error) {
	if hd == nil {
		return nil, nil
	}
	takes := make(map[string]*subscriber, len(subs))
	for i := range subs {
		if subs[i].handoff {
			takes[subs[i].id] = &subs[i]
		}
	}
	if len(takes) == 0 {
		return nil, nil
	}
	var handed map[string]int
	for i := range deliveries {
		d := &deliveries[i]
		sub := takes[d.EndpointID]
		if sub == nil || d.Held || d.OrderedJob != "" {
			continue
		}
		if open, err := db.handoffOpen(ctx, tx, hd); err != nil || !open {
			return nil, err
		}
		if !hd.h.Reserve(d.EndpointID, sub.concurrency) {
			continue
		}
		d.LeaseOwner, d.LeaseUntil = hd.owner, micros(hd.until)
		hd.claimed = append(hd.claimed, store.Claimed{
			DeliveryID: d.ID, EndpointID: d.EndpointID, TargetURL: d.TargetURL,
			Event: domain.Event{ID: d.EventID}, LeaseUntil: fromMicros(d.LeaseUntil),
			EndpointUpdatedAt: fromMicros(sub.updatedAt),
		})
		if handed == nil {
			handed = map[string]int{}
		}
		handed[d.EventID]++
	}
	return handed, nil
}

// keepEvents keeps the events of the handed-over deliveries as a claim
// would read them back from their rows.
func (hd *handing) keepEvents(s domain.Scope, rows []EventRow) error {
	if hd == nil || len(hd.claimed) == 0 {
		return nil
	}
	want := make(map[string]bool, len(hd.claimed))
	for _, c := range hd.claimed {
		want[c.Event.ID] = true
	}
	if hd.events == nil {
		hd.events = make(map[string]*domain.Event, len(want))
	}
	for i := range rows {
		r := &rows[i]
		if !want[r.ID] || hd.events[r.ID] != nil {
			continue
		}
		ev, err := r.event(s)
		if err != nil {
			return err
		}
		hd.events[r.ID] = &ev
	}
	return nil
}
