package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// shareConcurrency holds each endpoint's max_concurrency for all the
// processes on the database together, with the leases they hold as the
// count (a lease is taken before the request is sent and given back once
// its outcome is recorded, so it covers the request whichever process
// sends it; a crashed process's leases run out and stop counting).
//
// A dispatcher that runs alone may claim its usual rounds of an endpoint
// ahead: its own lane keeps the endpoint's requests within
// max_concurrency. While another dispatcher runs (it claimed lately, see
// beat), or holds leases of the endpoint, a claim takes at most
// max_concurrency less every live lease of the endpoint, and of that room
// only its share (split among the running dispatchers): the leases of all
// the processes together, and so their requests, stay within it, and each
// process holds some of the endpoint's work. Claims that may take
// from the same endpoint take turns (the dialect's LockEndpoints; SQLite's
// one writer already makes them), so each counts the leases of those
// before it.
//
// others is what the claim's candidates query read of the other
// dispatchers (see othersSQL). Where claims take turns without locks
// (SQLite), a claim that finds no other dispatcher that could still hold
// a lease counts none: the one query a claim would spend on it (2-4 % of
// the CPU of a delivery at one event per call) buys nothing for a process
// alone.
func (db *DB) shareConcurrency(ctx context.Context, tx *sql.Tx, p store.ClaimParams, cands []ClaimCandidate, others othersSeen) ([]ClaimCandidate, error) {
	if others.leasing == 0 && db.dialect.LockEndpoints == "" {
		return cands, nil
	}
	var ids []string
	for _, c := range cands {
		if c.Concurrency > 0 {
			ids = append(ids, c.EndpointID)
		}
	}
	if len(ids) == 0 {
		return cands, nil
	}
	slices.Sort(ids)
	if db.dialect.LockEndpoints != "" {
		if _, err := tx.ExecContext(ctx, db.dialect.LockEndpoints, ids); err != nil {
			return nil, err
		}
	}
	held, err := db.liveLeases(ctx, tx, p, ids)
	if err != nil {
		return nil, err
	}
	running := others.running
	out := cands[:0]
	for _, c := range cands {
		h := held[c.EndpointID]
		if c.Concurrency > 0 && (h.others > 0 || running > 0) {
			// Of the room left, a share for each running dispatcher:
			// the one that claims first does not take it all, and each
			// process holds some of the endpoint's work.
			free := c.Concurrency - h.mine - h.others
			if c.Cap = min(c.Cap, (free+running)/(running+1)); c.Cap <= 0 {
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// A dispatcher's claims say that it runs: at most every beatEvery a claim
// writes when its owner claimed (in the claim's transaction, so before its
// first leases are seen), and another claim counts it as running for
// aliveFor after (an idle dispatcher claims every second). Rows of
// dispatchers gone for goneFor are dropped.
const (
	beatEvery = time.Second
	aliveFor  = 10 * time.Second
	goneFor   = time.Hour
)

// beats is when each owner's claims last said it runs.
type beats struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// beat records that the claiming dispatcher runs, when it is time to.
func (db *DB) beat(ctx context.Context, tx *sql.Tx, p store.ClaimParams) error {
	db.beats.mu.Lock()
	if db.beats.last == nil {
		db.beats.last = map[string]time.Time{}
	}
	last, ok := db.beats.last[p.Owner]
	// The same claim run again (PostgreSQL retries a transaction rolled
	// back by a deadlock) beats again: the first run's beat went with it.
	due := !ok || p.Now.Sub(last) >= beatEvery || !p.Now.After(last)
	if due {
		db.beats.last[p.Owner] = p.Now
	}
	db.beats.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := db.execStmt(ctx, tx, `INSERT INTO dispatchers (owner, seen_at) VALUES (?, ?)
		ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at`, p.Owner, micros(p.Now)); err != nil {
		return err
	}
	_, err := db.execStmt(ctx, tx, `DELETE FROM dispatchers WHERE seen_at < ?`, micros(p.Now.Add(-goneFor)))
	return err
}

// announce makes a dispatcher that has not claimed within aliveFor known,
// before its claim, where publishes may hand deliveries over under a
// shared lock (Dialect.AnnounceLock): the lock, taken alone, and its beat
// commit together, before the claim counts leases. The lock waits for
// every publish that holds it, so their handed-over leases are committed
// before the claim counts them; a publish that takes it after reads the
// beat and hands nothing over. It is held for this small transaction
// only.
func (db *DB) announce(ctx context.Context, p store.ClaimParams) error {
	if db.dialect.AnnounceLock == "" || len(p.DeliveryIDs) > 0 {
		return nil
	}
	db.beats.mu.Lock()
	last, ok := db.beats.last[p.Owner]
	db.beats.mu.Unlock()
	if ok && p.Now.Sub(last) < aliveFor {
		return nil
	}
	// The lock first: both commit together either way, and waiting for
	// it holds no row lock another claim's beat could wait for.
	return db.queueWrite(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.dialect.AnnounceLock); err != nil {
			return err
		}
		return db.beat(ctx, tx, p)
	})
}

// forgetBeat makes the owner's next claim beat: its claim failed, and with
// it maybe the beat it wrote. Every claim of an owner then comes less than
// beatEvery after a beat of it on record, which othersSQL relies on.
func (db *DB) forgetBeat(owner string) {
	db.beats.mu.Lock()
	delete(db.beats.last, owner)
	db.beats.mu.Unlock()
}

// othersSeen is what a claim knows of the other dispatchers: how many
// claimed within aliveFor (running), and how many may still hold a live
// lease (leasing: seen since leasingSince).
type othersSeen struct{ running, leasing int }

// othersSQL are the candidates query's two columns of othersSeen, with
// othersArgs as their arguments. A dispatcher's claims of due deliveries
// each come less than beatEvery after a beat it wrote (see beat,
// forgetBeat), deliveries handed to it at publish less than handoffBeat
// after one, and each lease lasts a lease from then, so one not seen for
// a lease, handoffBeat and a beat holds no live lease of them (a
// takeover's lease ends a microsecond later; processes are assumed to
// share one --lease). A test send's lease is not covered: test sends
// bypass the limits anyway.
const othersSQL = `(SELECT count(*) FROM dispatchers WHERE owner <> ? AND seen_at > ?),
	(SELECT count(*) FROM dispatchers WHERE owner <> ? AND seen_at > ?)`

func othersArgs(p store.ClaimParams) []any {
	return []any{p.Owner, micros(p.Now.Add(-aliveFor)), p.Owner, leasingSince(p.Now, p.Lease)}
}

// leasingSince is the earliest beat on record of a dispatcher that could
// still hold a live lease at now (see othersSQL): its claims lease less
// than beatEvery after a beat, and what is handed to it at publish less
// than handoffBeat after one (handoffOpen).
func leasingSince(now time.Time, lease time.Duration) int64 {
	return micros(now.Add(-max(aliveFor, lease+handoffBeat+beatEvery)))
}

// handoffBeat is how lately a dispatcher's claims must have beaten for
// deliveries to be handed to it at publish. An idle dispatcher claims
// every second and beats at most every beatEvery, so its last beat is up
// to two seconds old; a dispatcher whose claims stall (a loaded machine,
// a slow claim) stops taking deliveries at publish three seconds after
// that, and they wait for its claims instead.
const handoffBeat = 5 * beatEvery

// leases are the live leases of one endpoint: the claiming process's and
// the others'.
type leases struct{ mine, others int }

// liveLeases counts the live leases of the endpoints, through the index of
// leased deliveries (only those in flight are in it).
func (db *DB) liveLeases(ctx context.Context, tx *sql.Tx, p store.ClaimParams, ids []string) (map[string]leases, error) {
	out := make(map[string]leases, len(ids))
	err := db.inChunks("endpoint_id", ids, func(in string, args []any) error {
		args = append(append([]any{p.Owner}, args...), micros(p.Now))
		rows, err := db.queryStmt(ctx, tx, `SELECT endpoint_id, lease_owner = ?, count(*) FROM deliveries
			WHERE `+in+` AND lease_owner IS NOT NULL AND status = 'pending'
			AND next_attempt_at > ? GROUP BY 1, 2`, db.listArgs(args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var mine bool
			var n int
			if err := rows.Scan(&id, &mine, &n); err != nil {
				return err
			}
			l := out[id]
			if mine {
				l.mine += n
			} else {
				l.others += n
			}
			out[id] = l
		}
		return rows.Err()
	})
	return out, err
}
