package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald/internal/domain"
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
	return jobKey(p+".") + ` = ` + jobKey(d+".") + ` AND ` + p + `.ordered_job IS NOT NULL AND ` + p + `.status = 'pending' AND ` +
		p + `.id < ` + d + `.id`
}

// jobKey is the key of deliveries_job_order, of the row the prefix names
// ("p." or ""): its endpoint and job, as one expression.
func jobKey(prefix string) string {
	return prefix + `endpoint_id || ' ' || ` + prefix + `ordered_job`
}

// jobKeyOf is jobKey's value for a delivery of the job to the endpoint.
func jobKeyOf(endpointID, job string) string { return endpointID + " " + job }

// HeadOfJob is the claim's condition on the delivery aliased x: it keeps no
// job's order, or it is the first pending one of its job at its endpoint.
// The subquery is one step in the deliveries_job_order index.
var HeadOfJob = `(x.ordered_job IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries p WHERE ` + earlierOfJob("p", "x") + `))`

// holdSlack is how long after the delivery ahead of it a held one falls
// due when nothing releases it sooner.
const holdSlack = time.Minute

// keepJobOrder makes the ids of a batch's ordered deliveries sort in the
// batch's order, which is their jobs' publish order (see domain.IDAfter).
func keepJobOrder(deliveries []DeliveryRow) {
	last := ""
	for i := range deliveries {
		d := &deliveries[i]
		if d.OrderedJob == "" {
			continue
		}
		if d.ID <= last {
			d.ID = domain.IDAfter(last)
		}
		last = d.ID
	}
}

// holdBehindJobs holds the new ordered deliveries that have an earlier one
// of their job pending (in the database, or earlier in the same batch).
func (db *DB) holdBehindJobs(ctx context.Context, tx *sql.Tx, deliveries []DeliveryRow) error {
	var ids []string
	for i := range deliveries {
		if d := &deliveries[i]; d.OrderedJob != "" && !d.Held {
			ids = append(ids, d.ID)
		}
	}
	return db.inChunks("id", ids, func(in string, args []any) error {
		_, err := db.execStmt(ctx, tx, `UPDATE deliveries SET next_attempt_at = CAST(? AS BIGINT) + COALESCE(
				(SELECT p.next_attempt_at FROM deliveries p WHERE `+earlierOfJob("p", "deliveries")+`
					ORDER BY `+jobKey("p.")+`, p.id LIMIT 1), 0)
			WHERE `+in+` AND EXISTS (SELECT 1 FROM deliveries p WHERE `+earlierOfJob("p", "deliveries")+`)`,
			db.listArgs(append([]any{holdSlack.Microseconds()}, args...)...)...)
		return err
	})
}

// recordJobOrder moves the jobs of the ordered outcomes along, after the
// outcomes were applied in the same transaction. The deliveries behind one
// that failed or was cancelled for good are marked with its id: they go on
// without it. The ones behind a retry are held until after it. The next one
// behind a finished delivery is made due now.
//
// One statement of fixed text per job and step, each keyed by the job's
// key, so that it can only be an index step in deliveries_job_order: a join
// from a list of outcomes was planned, on a PostgreSQL table not yet
// analyzed, as a walk of every pending delivery per outcome (a minute for
// 128 outcomes among 5,000 pending). The due time is compared as a
// difference, which no index serves, and the first of a job is asked for
// in the index's order, for the same reason: SQLite would walk the
// endpoint's due index, and a generic plan the primary key.
func (db *DB) recordJobOrder(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	now := micros(time.Now())
	for i := range outcomes {
		o := &outcomes[i]
		if o.OrderedJob == "" {
			continue
		}
		key := []any{jobKeyOf(o.EndpointID, o.OrderedJob)}
		if o.Status == domain.DeliveryPending {
			until := micros(o.NextAttemptAt) + holdSlack.Microseconds()
			if _, err := db.execStmt(ctx, tx, `UPDATE deliveries SET next_attempt_at = ?
				WHERE `+ofJob+` AND id > ? AND lease_owner IS NULL AND ? - next_attempt_at > 0`,
				append(append([]any{until}, key...), o.DeliveryID, until)...); err != nil {
				return err
			}
			continue
		}
		if o.Status != domain.DeliverySucceeded {
			if _, err := db.execStmt(ctx, tx, `UPDATE deliveries SET follows_failed = ?
				WHERE `+ofJob+` AND id > ? AND follows_failed IS NULL`,
				append(append([]any{o.DeliveryID}, key...), o.DeliveryID)...); err != nil {
				return err
			}
		}
		if _, err := db.execStmt(ctx, tx, `UPDATE deliveries SET next_attempt_at = ?
			WHERE id = (SELECT id FROM deliveries WHERE `+ofJob+` ORDER BY `+jobKey("")+`, id LIMIT 1)
			AND lease_owner IS NULL AND next_attempt_at > ?`,
			append(append([]any{now}, key...), now)...); err != nil {
			return err
		}
	}
	return nil
}

// ofJob is the condition that a delivery is a pending one of the job to
// the endpoint whose jobKeyOf is its argument.
var ofJob = jobKey("") + ` = ? AND ordered_job IS NOT NULL AND status = 'pending'`

// maxChunk bounds the ids of one statement of inChunks.
const maxChunk = 128

// inChunks calls f with the condition that col is one of a chunk of ids
// (see in) and its arguments, chunk after chunk.
func (db *DB) inChunks(col string, ids []string, f func(cond string, args []any) error) error {
	for len(ids) > 0 {
		n := min(len(ids), maxChunk)
		cond, args := db.in(col, ids[:n])
		if err := f(cond, args); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}
