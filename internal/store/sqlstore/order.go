package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Per-job order (domain.OrderingJob). A delivery made for an endpoint that
// orders by job carries the job in ordered_job, and is claimed only when
// no earlier delivery of the same job to the same endpoint is pending
// (waiting for a retry or in flight): HeadOfJob, in both dialects' claims,
// is what keeps the order, whatever else happens.
//
// The rest is so that claims do not walk what they cannot take. A
// delivery published behind a pending one is held: due only holdSlack
// after the one ahead of it (holdBehindJobs). Recording an outcome moves
// the job along (recordJobOrder): a retry holds the deliveries behind it
// until after the retry's due time; a finished delivery makes the next one
// due at once. Should a release be missed (a race between processes on
// PostgreSQL), the held delivery falls due holdSlack after the one ahead
// of it anyway, and the claim's condition still holds it back while it
// must wait.

// earlierOfJob is the condition that the row aliased p is a pending
// delivery of the same job to the same endpoint as d, made before it.
func earlierOfJob(p, d string) string {
	return p + `.endpoint_id = ` + d + `.endpoint_id AND ` + p + `.ordered_job = ` + d + `.ordered_job AND ` + p +
		`.ordered_job IS NOT NULL AND ` + p + `.status = 'pending' AND ` + p + `.id < ` + d + `.id`
}

// HeadOfJob is the claim's condition on the delivery aliased x: it keeps no
// job's order, or it is the first pending one of its job at its endpoint.
// The subquery is one step in the deliveries_job_order index.
var HeadOfJob = `(x.ordered_job IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries p WHERE ` + earlierOfJob("p", "x") + `))`

// holdSlack is how long after the delivery ahead of it a held one falls
// due when nothing releases it sooner.
const holdSlack = time.Minute

// sameJobAs is the condition that the deliveries row is a pending
// delivery of the same job, to the same endpoint, as h.
const sameJobAs = `deliveries.endpoint_id = h.endpoint_id AND deliveries.ordered_job = h.ordered_job
	AND deliveries.ordered_job IS NOT NULL AND deliveries.status = 'pending'`

// holdBehindJobs holds the new ordered deliveries that have an earlier one
// of their job pending (in the database, or earlier in the same batch).
func (db *DB) holdBehindJobs(ctx context.Context, tx *sql.Tx, deliveries []DeliveryRow) error {
	var ids []string
	for i := range deliveries {
		if d := &deliveries[i]; d.OrderedJob != "" && !d.Held {
			ids = append(ids, d.ID)
		}
	}
	return inChunks(ids, func(in string, args []any) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET next_attempt_at = CAST(? AS BIGINT) + COALESCE(
				(SELECT p.next_attempt_at FROM deliveries p WHERE `+earlierOfJob("p", "deliveries")+` ORDER BY p.id LIMIT 1), 0)
			WHERE id IN (`+in+`) AND EXISTS (SELECT 1 FROM deliveries p WHERE `+earlierOfJob("p", "deliveries")+`)`),
			append([]any{holdSlack.Microseconds()}, args...)...)
		return err
	})
}

// recordJobOrder moves the jobs of the ordered outcomes along, after the
// outcomes were applied in the same transaction. The deliveries behind one
// that failed or was cancelled for good are marked with its id: they go on
// without it. The ones behind a retry are held until after it. The next one
// behind a finished delivery is made due now.
func (db *DB) recordJobOrder(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	var ids []string
	for i := range outcomes {
		if outcomes[i].Ordered {
			ids = append(ids, outcomes[i].DeliveryID)
		}
	}
	now := micros(time.Now())
	return inChunks(ids, func(in string, args []any) error {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET follows_failed = h.id FROM deliveries h
			WHERE h.id IN (`+in+`) AND h.status IN ('failed', 'cancelled') AND `+sameJobAs+`
			AND deliveries.id > h.id AND deliveries.follows_failed IS NULL`), args...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET next_attempt_at = h.next_attempt_at + CAST(? AS BIGINT) FROM deliveries h
			WHERE h.id IN (`+in+`) AND h.status = 'pending' AND `+sameJobAs+` AND deliveries.id > h.id
			AND deliveries.lease_owner IS NULL AND deliveries.next_attempt_at < h.next_attempt_at + CAST(? AS BIGINT)`),
			append([]any{holdSlack.Microseconds()}, append(args, holdSlack.Microseconds())...)...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET next_attempt_at = ? FROM deliveries h
			WHERE h.id IN (`+in+`) AND h.status <> 'pending' AND `+sameJobAs+`
			AND deliveries.lease_owner IS NULL AND deliveries.next_attempt_at > ?
			AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE `+earlierOfJob("p", "deliveries")+`)`),
			append(append([]any{now}, args...), now)...)
		return err
	})
}

// maxChunk bounds the ids of one statement of inChunks.
const maxChunk = 128

// inChunks calls f with placeholders for a chunk of ids and the ids as
// arguments, chunk after chunk. Each chunk is padded, with repeats of its
// last id, to a power of two, so that few statement texts are ever made
// (a repeated id changes nothing in an IN list).
func inChunks(ids []string, f func(in string, args []any) error) error {
	for len(ids) > 0 {
		n := min(len(ids), maxChunk)
		size := 1
		for size < n {
			size *= 2
		}
		args := make([]any, size)
		for i := range size {
			args[i] = ids[min(i, n-1)]
		}
		if err := f(placeholders(size), args); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}
