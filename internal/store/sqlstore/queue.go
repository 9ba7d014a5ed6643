package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

func (db *DB) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if err := db.announce(ctx, p); err != nil {
		db.forgetBeat(p.Owner)
		return nil, db.wrap("claim deliveries: announce", err)
	}
	var out []store.Claimed
	err := db.queueWrite(ctx, func(tx *sql.Tx) error {
		var err error
		if len(p.DeliveryIDs) > 0 {
			out, err = db.claimNamed(ctx, tx, p)
		} else {
			out, err = db.claimDue(ctx, tx, p)
		}
		return err
	})
	if err != nil {
		db.forgetBeat(p.Owner)
		return nil, db.wrap("claim deliveries", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	asked := fromMicros(micros(p.Now.Add(p.Lease)))
	for i := range out {
		// See ClaimSQL: a takeover's lease ends a microsecond later.
		out[i].TakenOver = out[i].LeaseUntil.After(asked)
	}
	// The events are read after the commit, by a reader, so that the
	// writer (SQLite has one) spends nothing on them. Retention keeps the
	// event of a pending delivery: one that is gone when read had its
	// delivery cancelled in between, and is not sent. (A scrubbed event
	// is the dispatcher's to handle, as before.)
	if err := db.readClaimedEvents(ctx, out); err != nil {
		ids := make([]string, len(out))
		for i, c := range out {
			ids[i] = c.DeliveryID
		}
		if rerr := db.Release(context.WithoutCancel(ctx), p.Owner, ids); rerr != nil {
			err = errors.Join(err, rerr) // the leases run out by themselves
		}
		return nil, db.wrap("claim deliveries: read events", err)
	}
	return slices.DeleteFunc(out, func(c store.Claimed) bool { return c.Event.CreatedAt.IsZero() }), nil
}

// claimDue claims due deliveries endpoint by endpoint, through the
// per-endpoint due index: an endpoint that is paused or whose lane is full
// is never walked, however long its backlog, and no endpoint takes more
// than store.ClaimRounds rounds of its concurrency limit from a claim, so one endpoint's backlog cannot
// fill every claim while others wait.
func (db *DB) claimDue(ctx context.Context, tx *sql.Tx, p store.ClaimParams) ([]store.Claimed, error) {
	if err := db.beat(ctx, tx, p); err != nil {
		return nil, err
	}
	cands, others, err := db.claimCandidates(ctx, tx, p)
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	if cands, err = db.shareConcurrency(ctx, tx, p, cands, others); err != nil || len(cands) == 0 {
		return nil, err
	}
	// When the limit is smaller than the candidates' rounds, which
	// endpoints come first changes from claim to claim.
	start := rand.IntN(len(cands))
	cands = append(cands[start:], cands[:start]...)
	slices.SortStableFunc(cands, func(a, b ClaimCandidate) int {
		switch {
		case a.Probe == b.Probe:
			return 0
		case a.Probe:
			return -1
		}
		return 1
	})
	out, err := db.dialect.Batcher.ClaimDue(ctx, tx, DueClaim{
		Owner: p.Owner, LeaseUntil: micros(p.Now.Add(p.Lease)), Now: micros(p.Now), Limit: p.Limit, Candidates: cands,
	})
	if err != nil {
		return nil, err
	}
	// The endpoints' versions, read in this transaction: the dispatcher
	// reads an endpoint again only when its version changed.
	versions := make(map[string]int64, len(cands))
	for _, c := range cands {
		versions[c.EndpointID] = c.UpdatedAt
	}
	for i := range out {
		if v := versions[out[i].EndpointID]; v != 0 {
			out[i].EndpointUpdatedAt = fromMicros(v)
		}
	}
	return out, nil
}

// claimCandidates lists the endpoints that have pending deliveries and may
// be claimed from: active, not skipped and with a closed circuit (or an
// open one whose probe this claim takes: one delivery), or gone (their
// deliveries are claimed to be cancelled). The endpoints are found by
// skipping through the due index one endpoint at a time, so the cost is one
// index step per endpoint with pending work, not one per pending delivery.
// Each row also says what the claim needs to know of the other
// dispatchers (othersSQL).
func (db *DB) claimCandidates(ctx context.Context, tx *sql.Tx, p store.ClaimParams) ([]ClaimCandidate, othersSeen, error) {
	var others othersSeen
	rows, err := db.queryStmt(ctx, tx, `WITH RECURSIVE pe(id) AS (
			SELECT (SELECT endpoint_id FROM deliveries WHERE status = 'pending' ORDER BY endpoint_id LIMIT 1)
			UNION ALL
			SELECT (SELECT d.endpoint_id FROM deliveries d WHERE d.status = 'pending' AND d.endpoint_id > pe.id
				ORDER BY d.endpoint_id LIMIT 1)
			FROM pe WHERE pe.id IS NOT NULL)
		SELECT pe.id, e.status, e.max_concurrency, e.updated_at, e.rate_limit, h.circuit, h.probe_at, `+othersSQL+` FROM pe
		LEFT JOIN endpoints e ON e.id = pe.id LEFT JOIN endpoint_health h ON h.endpoint_id = pe.id
		WHERE pe.id IS NOT NULL`, othersArgs(p)...)
	if err != nil {
		return nil, others, err
	}
	defer rows.Close()
	var out []ClaimCandidate
	var probes []probe
	now := micros(p.Now)
	for rows.Next() {
		var c ClaimCandidate
		var status, circuit sql.NullString
		var limit, updated, rate, probeAt sql.NullInt64
		if err := rows.Scan(&c.EndpointID, &status, &limit, &updated, &rate, &circuit, &probeAt, &others.running, &others.leasing); err != nil {
			return nil, others, err
		}
		c.UpdatedAt = updated.Int64
		switch {
		case p.Skip != nil && p.Skip(c.EndpointID):
			continue
		case !status.Valid:
			c.Cap = store.ClaimRounds * domain.DefaultMaxConcurrency
		case status.String != domain.EndpointActive:
			continue
		case circuit.Valid && circuit.String != domain.CircuitClosed:
			// Deferred, attempts untouched, until the probe's time.
			if probeAt.Int64 <= now {
				c.Concurrency = max(1, int(limit.Int64))
				probes = append(probes, probe{c, circuit.String})
			}
			continue
		default:
			c.Concurrency = max(1, int(limit.Int64))
			c.Cap = store.ClaimRounds * domain.LaneRound(c.Concurrency, int(rate.Int64))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, others, err
	}
	rows.Close()
	for _, pr := range probes {
		took, err := db.takeProbe(ctx, tx, pr.EndpointID, pr.circuit, now, micros(p.Now.Add(p.Lease)))
		if err != nil {
			return nil, others, err
		}
		if took {
			pr.Cap, pr.Probe = 1, true
			out = append(out, pr.ClaimCandidate)
		}
	}
	return out, others, nil
}

// probe is an endpoint whose open circuit's probe time has come.
type probe struct {
	ClaimCandidate
	circuit string
}

// claimNamed claims the named deliveries if they are due or held (a test
// send's delivery waits, with no due time, for the request that sends it).
func (db *DB) claimNamed(ctx context.Context, tx *sql.Tx, p store.ClaimParams) ([]store.Claimed, error) {
	args := []any{micros(p.Now.Add(p.Lease)), p.Owner, micros(p.Now)}
	for _, id := range p.DeliveryIDs {
		args = append(args, id)
	}
	args = append(args, p.Limit)
	rows, err := tx.QueryContext(ctx, db.q(ClaimSQL(`(SELECT d.id FROM deliveries d
		WHERE d.status = 'pending' AND (d.next_attempt_at <= ? OR d.next_attempt_at IS NULL)
		AND d.id IN (`+placeholders(len(p.DeliveryIDs))+`)
		AND d.endpoint_id NOT IN (SELECT e.id FROM endpoints e WHERE e.status <> 'active')
		LIMIT ? `+db.dialect.ClaimLock+`)`)), args...)
	if err != nil {
		return nil, err
	}
	return ScanClaimed(rows, nil)
}

// readClaimedEvents fills in the event of every claimed delivery, reading
// each event once however many endpoints it goes to.
func (db *DB) readClaimedEvents(ctx context.Context, claimed []store.Claimed) error {
	byEvent := map[string][]int{}
	ids := make([]string, 0, len(claimed))
	for i, c := range claimed {
		if _, seen := byEvent[c.Event.ID]; !seen {
			ids = append(ids, c.Event.ID)
		}
		byEvent[c.Event.ID] = append(byEvent[c.Event.ID], i)
	}
	return db.inChunks("id", ids, func(in string, args []any) error {
		rows, err := db.queueQueryList(ctx, `SELECT `+eventColumns+` FROM events WHERE `+in, args)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			ev, err := scanEvent(rows)
			if err != nil {
				return err
			}
			for _, i := range byEvent[ev.ID] {
				claimed[i].Event = ev
			}
		}
		return rows.Err()
	})
}

// queueQueryList runs a read with a list made by in on the dispatcher's
// read pool: prepared once where the dialect plans a list's statement
// once for all (SQLite), with the list's values each time where it does
// not (see ListMode).
func (db *DB) queueQueryList(ctx context.Context, query string, args []any) (*sql.Rows, error) {
	if db.dialect.ListMode != nil {
		return db.queueRead.QueryContext(ctx, db.q(query), db.listArgs(args...)...)
	}
	return db.queueReads.query(ctx, db.queueRead, db.q(query), args...)
}

// readStmts keeps the dispatcher's fixed reads prepared on its read pool
// (database/sql prepares each on a connection the first time it runs
// there), so that they are not parsed on every claim.
type readStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (r *readStmts) query(ctx context.Context, pool *sql.DB, query string, args ...any) (*sql.Rows, error) {
	r.mu.Lock()
	st := r.m[query]
	if st == nil {
		var err error
		if st, err = pool.PrepareContext(ctx, query); err != nil {
			r.mu.Unlock()
			return nil, err
		}
		if r.m == nil {
			r.m = map[string]*sql.Stmt{}
		}
		r.m[query] = st
	}
	r.mu.Unlock()
	return st.QueryContext(ctx, args...)
}

func (db *DB) Release(ctx context.Context, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := db.queueWrite(ctx, func(tx *sql.Tx) error {
		now := micros(time.Now())
		return db.inChunks("id", ids, func(in string, args []any) error {
			_, err := db.execStmt(ctx, tx, `UPDATE deliveries SET next_attempt_at = ?, lease_owner = NULL
				WHERE lease_owner = ? AND status = 'pending' AND `+in, db.listArgs(append([]any{now, owner}, args...)...)...)
			return err
		})
	})
	return db.wrap("release leases", err)
}

// scrub erases the data of sensitive events none of whose deliveries is
// pending any more: once delivered, a one-time code has no business in the
// database.
func (db *DB) scrub(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	var ids []any
	seen := map[string]bool{}
	for _, o := range outcomes {
		if o.Scrub && o.Status != domain.DeliveryPending && !seen[o.EventID] {
			seen[o.EventID] = true
			ids = append(ids, o.EventID)
		}
	}
	return db.scrubEvents(ctx, tx, ids)
}

// scrubEvents erases the data of those of the events (their ids) that are
// sensitive and have no delivery pending.
func (db *DB) scrubEvents(ctx context.Context, tx *sql.Tx, ids []any) error {
	if len(ids) == 0 {
		return nil
	}
	args := append([]any{[]byte(domain.Redacted)}, ids...)
	// An erased event keeps the erasure's marker.
	_, err := tx.ExecContext(ctx, db.q(`UPDATE events SET data = ? WHERE id IN (`+placeholders(len(ids))+`) AND sensitive
		AND erased_at IS NULL AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'pending')`), args...)
	return err
}
