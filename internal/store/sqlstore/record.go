package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// recordChunk keeps each statement under the parameter limits.
const recordChunk = 200

func (db *DB) Record(ctx context.Context, outcomes []store.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	err := db.queueWrite(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(outcomes); start += recordChunk {
			chunk := outcomes[start:min(start+recordChunk, len(outcomes))]
			if err := db.insertAttempts(ctx, tx, chunk); err != nil {
				return err
			}
			if err := db.updateDeliveries(ctx, tx, chunk); err != nil {
				return err
			}
		}
		if err := db.scrub(ctx, tx, outcomes); err != nil {
			return err
		}
		for _, o := range outcomes {
			if o.DisableEndpoint == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE endpoints SET status = 'disabled', disabled_reason = ?, updated_at = ?
				WHERE id = ? AND status <> 'disabled'`), o.DisableEndpoint, micros(o.Attempt.At), o.EndpointID); err != nil {
				return err
			}
		}
		return nil
	})
	return db.wrap("record outcomes", err)
}

func (db *DB) insertAttempts(ctx context.Context, tx *sql.Tx, chunk []store.Outcome) error {
	var b strings.Builder
	b.WriteString(`INSERT INTO attempts (id, delivery_id, tenant_id, environment, number, at, duration_ms, request_headers,
		response_status, response_headers, response_body, error_class, error) VALUES `)
	args := make([]any, 0, len(chunk)*13)
	for i := range chunk {
		o := &chunk[i]
		a := &o.Attempt
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		var reqH, respH any
		if a.RequestHeaders != nil {
			reqH = marshal(a.RequestHeaders)
		}
		if a.ResponseHeaders != nil {
			respH = marshal(a.ResponseHeaders)
		}
		args = append(args, a.ID, o.DeliveryID, o.Scope.TenantID, o.Scope.Environment, a.Number, micros(a.At), a.DurationMS,
			reqH, a.ResponseStatus, respH, []byte(a.ResponseBody), a.ErrorClass, a.Error)
	}
	// A repeated Record (its first commit's answer lost) changes nothing.
	b.WriteString(` ON CONFLICT (id) DO NOTHING`)
	_, err := tx.ExecContext(ctx, db.q(b.String()), args...)
	return err
}

// updateDeliveries applies a chunk of outcomes in one statement. The first
// row's casts type the VALUES columns in both dialects.
func (db *DB) updateDeliveries(ctx context.Context, tx *sql.Tx, chunk []store.Outcome) error {
	if db.dialect.RowUpdates {
		return db.updateDeliveriesByRow(ctx, tx, chunk)
	}
	var b strings.Builder
	b.WriteString(`UPDATE deliveries SET status = v.column2, attempts = deliveries.attempts + 1, next_attempt_at = v.column3,
		lease_owner = NULL, last_status = v.column4, last_error = v.column5, updated_at = v.column6
		FROM (VALUES `)
	args := make([]any, 0, len(chunk)*6)
	for i := range chunk {
		o := &chunk[i]
		if i == 0 {
			b.WriteString(`(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS BIGINT))`)
		} else {
			b.WriteString(`, (?, ?, ?, ?, ?, ?)`)
		}
		var next any
		if o.Status == domain.DeliveryPending {
			next = micros(o.NextAttemptAt)
		}
		args = append(args, o.DeliveryID, o.Status, next, o.Attempt.ResponseStatus, lastError(&o.Attempt), micros(o.Attempt.At))
	}
	// A delivery cancelled while its attempt was in flight stays cancelled,
	// and an outcome already recorded (its lease cleared) is not counted twice.
	b.WriteString(`) AS v WHERE deliveries.id = v.column1 AND deliveries.status = 'pending' AND deliveries.lease_owner IS NOT NULL`)
	_, err := tx.ExecContext(ctx, db.q(b.String()), args...)
	return err
}

// updateDeliveriesByRow is updateDeliveries one prepared statement
// execution per outcome: for an embedded database there is no round trip
// to save, and a point update by primary key is cheaper than SQLite's
// UPDATE … FROM over a VALUES list.
func (db *DB) updateDeliveriesByRow(ctx context.Context, tx *sql.Tx, chunk []store.Outcome) error {
	stmt, err := tx.PrepareContext(ctx, db.q(`UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?,
		lease_owner = NULL, last_status = ?, last_error = ?, updated_at = ?
		WHERE id = ? AND status = 'pending' AND lease_owner IS NOT NULL`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range chunk {
		o := &chunk[i]
		var next any
		if o.Status == domain.DeliveryPending {
			next = micros(o.NextAttemptAt)
		}
		if _, err := stmt.ExecContext(ctx, o.Status, next, o.Attempt.ResponseStatus, lastError(&o.Attempt), micros(o.Attempt.At), o.DeliveryID); err != nil {
			return err
		}
	}
	return nil
}

// lastError is what the delivery shows of its latest attempt's failure.
func lastError(a *domain.Attempt) string {
	if a.Error == "" {
		return a.ErrorClass
	}
	return a.Error
}
