package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"github.com/heraldhq/herald/internal/store"
)

// shareConcurrency holds each endpoint's max_concurrency for all the
// processes on the database together, with the leases they hold as the
// count (a lease is taken before the request is sent and given back once
// its outcome is recorded, so it covers the request whichever process
// sends it; a crashed process's leases run out and stop counting).
//
// A process that is alone in holding leases of an endpoint may claim its
// usual rounds ahead: its own lane keeps the endpoint's requests within
// max_concurrency. Once another process holds some too, a claim takes at
// most max_concurrency less every live lease of the endpoint, so that the
// leases of all the processes together, and so their requests, stay
// within it; a claim that finds the endpoint full takes nothing from it.
// Claims that may take from the same endpoint take turns (the dialect's
// LockEndpoints; SQLite's one writer already makes them), so each counts
// the leases of those before it.
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
	out := cands[:0]
	for _, c := range cands {
		if h := held[c.EndpointID]; c.Concurrency > 0 && h.others > 0 {
			c.Cap = min(c.Cap, c.Concurrency-h.mine-h.others)
			if c.Cap <= 0 {
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
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
