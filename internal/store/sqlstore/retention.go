package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// Purge deletes in bounded batches, each in its own short transaction, so
// delivery keeps its turn at the database in between. Ids sort by creation
// time, so "created before the cutoff" is a primary-key range.
func (db *DB) Purge(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	total := 0
	steps := []func(*sql.Tx) (int64, error){
		func(tx *sql.Tx) (int64, error) { return db.purgeDeliveries(ctx, tx, cutoff, limit) },
		func(tx *sql.Tx) (int64, error) {
			return db.execCount(ctx, tx, `DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.id < ?
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending') LIMIT ?)`,
				domain.IDFloor(domain.PrefixEvent, cutoff), limit)
		},
		// A job goes with the last of its events, once it has not changed
		// for the period.
		func(tx *sql.Tx) (int64, error) {
			return db.execCount(ctx, tx, `DELETE FROM jobs WHERE (tenant_id, environment, id) IN
				(SELECT j.tenant_id, j.environment, j.id FROM jobs j WHERE j.updated_at < ? AND NOT EXISTS
					(SELECT 1 FROM events e WHERE e.tenant_id = j.tenant_id AND e.environment = j.environment AND e.job_id = j.id) LIMIT ?)`,
				micros(cutoff), limit)
		},
		func(tx *sql.Tx) (int64, error) {
			return db.execCount(ctx, tx, `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE id < ? LIMIT ?)`,
				domain.IDFloor(domain.PrefixAudit, cutoff), limit)
		},
		func(tx *sql.Tx) (int64, error) {
			return db.execCount(ctx, tx, `DELETE FROM endpoint_health_log WHERE id IN (SELECT id FROM endpoint_health_log WHERE id < ? LIMIT ?)`,
				domain.IDFloor(domain.PrefixHealthChange, cutoff), limit)
		},
		func(tx *sql.Tx) (int64, error) {
			return db.execCount(ctx, tx, `DELETE FROM idempotency_keys WHERE (tenant_id, environment, key) IN
				(SELECT tenant_id, environment, key FROM idempotency_keys WHERE created_at < ? LIMIT ?)`, micros(cutoff), limit)
		},
		func(tx *sql.Tx) (int64, error) { return db.purgeBuckets(ctx, tx, cutoff, limit) },
	}
	for _, step := range steps {
		var n int64
		err := db.write(ctx, func(tx *sql.Tx) error {
			var err error
			n, err = step(tx)
			return err
		})
		if err != nil {
			return total, db.wrap("purge", err)
		}
		total += int(n)
	}
	return total, nil
}

// purgeDeliveries removes a batch of finished deliveries and their attempts.
func (db *DB) purgeDeliveries(ctx context.Context, tx *sql.Tx, cutoff time.Time, limit int) (int64, error) {
	rows, err := tx.QueryContext(ctx, db.q(`SELECT id FROM deliveries WHERE id < ? AND status <> 'pending' LIMIT ?`),
		domain.IDFloor(domain.PrefixDelivery, cutoff), limit)
	if err != nil {
		return 0, err
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil || len(ids) == 0 {
		return 0, err
	}
	in := `(` + placeholders(len(ids)) + `)`
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM attempts WHERE delivery_id IN `+in), ids...); err != nil {
		return 0, err
	}
	return db.execCount(ctx, tx, `DELETE FROM deliveries WHERE id IN `+in, ids...)
}

func (db *DB) execCount(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
