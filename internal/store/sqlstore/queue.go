package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

func (db *DB) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	var out []store.Claimed
	err := db.queueWrite(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		now := micros(p.Now)
		args := []any{micros(p.Now.Add(p.Lease)), p.Owner, now}
		skip := ""
		if len(p.SkipEndpoints) > 0 {
			skip = ` AND d.endpoint_id NOT IN (` + placeholders(len(p.SkipEndpoints)) + `)`
			for _, id := range p.SkipEndpoints {
				args = append(args, id)
			}
		}
		due := `d.next_attempt_at <= ?`
		if len(p.DeliveryIDs) > 0 {
			// Named deliveries may be held (no due time): a test send's
			// delivery waits for the request that sends it.
			due = `(d.next_attempt_at <= ? OR d.next_attempt_at IS NULL)`
			skip += ` AND d.id IN (` + placeholders(len(p.DeliveryIDs)) + `)`
			for _, id := range p.DeliveryIDs {
				args = append(args, id)
			}
		}
		args = append(args, p.Limit)
		// The lease is the due time pushed forward: a lease that runs out
		// makes the delivery due again without any sweeper.
		// The inactive endpoints are a short list read once per claim, not a
		// join: the scan must walk the due index in order and stop at the
		// limit, whatever the planner believes about the table's size.
		rows, err := tx.QueryContext(ctx, db.q(`UPDATE deliveries SET next_attempt_at = ?, lease_owner = ?
			WHERE id IN (SELECT d.id FROM deliveries d
				WHERE d.status = 'pending' AND `+due+`
				AND d.endpoint_id NOT IN (SELECT e.id FROM endpoints e WHERE e.status <> 'active')`+skip+`
				ORDER BY d.next_attempt_at LIMIT ? `+db.dialect.ClaimLock+`)
			RETURNING id, endpoint_id, target_url, attempts, event_id`), args...)
		if err != nil {
			return err
		}
		byEvent := map[string][]int{}
		for rows.Next() {
			var c store.Claimed
			if err := rows.Scan(&c.DeliveryID, &c.EndpointID, &c.TargetURL, &c.Attempts, &c.Event.ID); err != nil {
				rows.Close()
				return err
			}
			byEvent[c.Event.ID] = append(byEvent[c.Event.ID], len(out))
			out = append(out, c)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		ids := make([]any, 0, len(byEvent))
		for id := range byEvent {
			ids = append(ids, id)
		}
		evRows, err := tx.QueryContext(ctx, db.q(`SELECT `+eventColumns+` FROM events WHERE id IN (`+placeholders(len(ids))+`)`), ids...)
		if err != nil {
			return err
		}
		defer evRows.Close()
		for evRows.Next() {
			ev, err := scanEvent(evRows)
			if err != nil {
				return err
			}
			for _, i := range byEvent[ev.ID] {
				out[i].Event = ev
			}
		}
		return evRows.Err()
	})
	if err != nil {
		return nil, db.wrap("claim deliveries", err)
	}
	return out, nil
}

func (db *DB) Release(ctx context.Context, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := db.queueWrite(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ids); start += recordChunk {
			chunk := ids[start:min(start+recordChunk, len(ids))]
			args := []any{micros(time.Now()), owner}
			for _, id := range chunk {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET next_attempt_at = ?, lease_owner = NULL
				WHERE lease_owner = ? AND status = 'pending' AND id IN (`+placeholders(len(chunk))+`)`), args...); err != nil {
				return err
			}
		}
		return nil
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
	if len(ids) == 0 {
		return nil
	}
	args := append([]any{[]byte(domain.Redacted)}, ids...)
	_, err := tx.ExecContext(ctx, db.q(`UPDATE events SET data = ? WHERE id IN (`+placeholders(len(ids))+`)
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'pending')`), args...)
	return err
}
