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
func (db *DB) shareConcurrency(ctx context.Context, tx *sql.Tx, p store.ClaimParams, cands []ClaimCandidate) ([]ClaimCandidate, error) {
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
	running, err := db.othersRunning(ctx, tx, p)
	if err != nil {
		return nil, err
	}
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
	due := !ok || p.Now.Sub(last) >= beatEvery || p.Now.Before(last)
	if due {
		db.beats.last[p.Owner] = p.Now
	}
	db.beats.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO dispatchers (owner, seen_at) VALUES (?, ?)
		ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at`), p.Owner, micros(p.Now)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, db.q(`DELETE FROM dispatchers WHERE seen_at < ?`), micros(p.Now.Add(-goneFor)))
	return err
}

// othersRunning counts the dispatchers other than the claiming one that
// claimed within aliveFor.
func (db *DB) othersRunning(ctx context.Context, tx *sql.Tx, p store.ClaimParams) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) FROM dispatchers WHERE owner <> ? AND seen_at > ?`),
		p.Owner, micros(p.Now.Add(-aliveFor))).Scan(&n)
	return n, err
}

// leases are the live leases of one endpoint: the claiming process's and
// the others'.
type leases struct{ mine, others int }

// leaseChunk keeps each count's IN list far under SQLite's parameter limit.
const leaseChunk = 200

// liveLeases counts the live leases of the endpoints, through the index of
// leased deliveries (only those in flight are in it).
func (db *DB) liveLeases(ctx context.Context, tx *sql.Tx, p store.ClaimParams, ids []string) (map[string]leases, error) {
	out := make(map[string]leases, len(ids))
	for start := 0; start < len(ids); start += leaseChunk {
		chunk := ids[start:min(start+leaseChunk, len(ids))]
		args := []any{p.Owner}
		for _, id := range chunk {
			args = append(args, id)
		}
		args = append(args, micros(p.Now))
		rows, err := tx.QueryContext(ctx, db.q(`SELECT endpoint_id, lease_owner = ?, count(*) FROM deliveries
			WHERE endpoint_id IN (`+placeholders(len(chunk))+`) AND lease_owner IS NOT NULL AND status = 'pending'
			AND next_attempt_at > ? GROUP BY 1, 2`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var mine bool
			var n int
			if err := rows.Scan(&id, &mine, &n); err != nil {
				rows.Close()
				return nil, err
			}
			l := out[id]
			if mine {
				l.mine += n
			} else {
				l.others += n
			}
			out[id] = l
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
