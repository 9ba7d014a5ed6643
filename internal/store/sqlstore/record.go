package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

func (db *DB) Record(ctx context.Context, outcomes []store.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	err := db.queueWrite(ctx, func(tx *sql.Tx) error {
		if err := db.writeOutcomes(ctx, tx, outcomes); err != nil {
			return err
		}
		if err := db.scrub(ctx, tx, outcomes); err != nil {
			return fmt.Errorf("scrub sensitive events: %w", err)
		}
		for _, o := range outcomes {
			if o.DisableEndpoint == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE endpoints SET status = 'disabled', disabled_reason = ?, updated_at = ?
				WHERE id = ? AND status <> 'disabled'`), o.DisableEndpoint, micros(o.Attempt.At), o.EndpointID); err != nil {
				return fmt.Errorf("disable endpoint %s: %w", o.EndpointID, err)
			}
		}
		return nil
	})
	return db.wrap("record outcomes", err)
}

// writeOutcomes inserts the attempts and applies the deliveries' new state.
func (db *DB) writeOutcomes(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	if db.dialect.ArrayParams {
		// Arrays have no parameter limit: the whole batch goes in two
		// statements whose text never changes. Their generic plans are the
		// right ones whatever the statistics (see updateDeliveriesUnnest),
		// so the transaction asks for them from the first execution on a
		// connection; the scrub and the endpoint updates after them are
		// lookups by key, planned alike either way.
		if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
			return fmt.Errorf("plan outcomes generically: %w", err)
		}
		if err := insertAttemptsUnnest(ctx, tx, outcomes); err != nil {
			return fmt.Errorf("insert attempts: %w", err)
		}
		if err := updateDeliveriesUnnest(ctx, tx, outcomes); err != nil {
			return fmt.Errorf("update deliveries: %w", err)
		}
		return nil
	}
	if err := db.insertAttempts(ctx, tx, outcomes); err != nil {
		return fmt.Errorf("insert attempts: %w", err)
	}
	if err := db.updateDeliveriesByRow(ctx, tx, outcomes); err != nil {
		return fmt.Errorf("update deliveries: %w", err)
	}
	return nil
}

// insertAttemptsUnnest inserts every attempt with one statement of fixed
// text, one array per column: pgx prepares it once per connection, where a
// VALUES list of 13 parameters a row was parsed and planned anew for each
// batch size.
func insertAttemptsUnnest(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	n := len(outcomes)
	ids, deliveryIDs, tenants, envs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	numbers, statuses := make([]int32, n), make([]int32, n)
	ats, durations := make([]int64, n), make([]int64, n)
	// A nil element is a NULL: headers that were never sent or received.
	reqHs, respHs, bodies := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	classes, errs := make([]string, n), make([]string, n)
	for i := range outcomes {
		o := &outcomes[i]
		a := &o.Attempt
		ids[i], deliveryIDs[i], tenants[i], envs[i] = a.ID, o.DeliveryID, o.Scope.TenantID, string(o.Scope.Environment)
		numbers[i], ats[i], durations[i] = int32(a.Number), micros(a.At), a.DurationMS
		if a.RequestHeaders != nil {
			reqHs[i] = marshal(a.RequestHeaders)
		}
		statuses[i] = int32(a.ResponseStatus)
		if a.ResponseHeaders != nil {
			respHs[i] = marshal(a.ResponseHeaders)
		}
		bodies[i] = []byte(a.ResponseBody)
		classes[i], errs[i] = a.ErrorClass, a.Error
	}
	// A repeated Record (its first commit's answer lost) changes nothing.
	_, err := tx.ExecContext(ctx, `INSERT INTO attempts (id, delivery_id, tenant_id, environment, number, at, duration_ms,
		request_headers, response_status, response_headers, response_body, error_class, error)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::bigint[], $7::bigint[],
			$8::bytea[], $9::integer[], $10::bytea[], $11::bytea[], $12::text[], $13::text[])
		ON CONFLICT (id) DO NOTHING`,
		ids, deliveryIDs, tenants, envs, numbers, ats, durations, reqHs, statuses, respHs, bodies, classes, errs)
	return err
}

// updateDeliveriesUnnest applies every outcome to its delivery in one
// statement of fixed text. The join must be a nested loop of primary-key
// lookups, never a hash join over the pending rows. A generic plan assumes
// 10 rows from unnest and is the loop whatever the statistics. A custom plan
// knows the batch's length; on a table not yet analyzed the planner also
// believes few rows are pending and hash-joins the batch with all of them,
// read through the partial index of pending rows: 20–30 ms a batch of 256
// at 100,000 pending, against 6–8 ms for the loop. (The VALUES list this
// replaced kept its length in the generic plan too, so on such a table it
// hash-joined on every call.)
func updateDeliveriesUnnest(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	n := len(outcomes)
	ids, statuses, lastErrors := make([]string, n), make([]string, n), make([]string, n)
	lastStatuses := make([]int32, n)
	updated, nextAt, signed := make([]int64, n), make([]int64, n), make([]int64, n)
	// A nil element is a NULL: a finished delivery is due never.
	next := make([]*int64, n)
	for i := range outcomes {
		o := &outcomes[i]
		ids[i], statuses[i], lastErrors[i] = o.DeliveryID, o.Status, lastError(&o.Attempt)
		lastStatuses[i], updated[i], signed[i] = int32(o.Attempt.ResponseStatus), micros(o.Attempt.At), optionalSigned(o)
		if o.Status == domain.DeliveryPending {
			nextAt[i] = micros(o.NextAttemptAt)
			next[i] = &nextAt[i]
		}
	}
	// A delivery cancelled while its attempt was in flight stays cancelled,
	// and an outcome already recorded (its lease cleared) is not counted twice.
	_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = v.status, attempts = deliveries.attempts + 1,
		next_attempt_at = v.next_attempt_at, lease_owner = NULL, last_status = v.last_status, last_error = v.last_error,
		updated_at = v.updated_at, signed_at = COALESCE(deliveries.signed_at, NULLIF(v.signed_at, 0))
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::text[], $6::bigint[], $7::bigint[])
			AS v(id, status, next_attempt_at, last_status, last_error, updated_at, signed_at)
		WHERE deliveries.id = v.id AND deliveries.status = 'pending' AND deliveries.lease_owner IS NOT NULL`,
		ids, statuses, next, lastStatuses, lastErrors, updated, signed)
	return err
}

// insertAttempts inserts the attempts with multi-row inserts of the fixed
// sizes publish uses, so their SQL is parsed once (see stmtCache) rather
// than once per batch, as a VALUES list of the batch's own length was.
func (db *DB) insertAttempts(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	args := make([]any, 0, len(outcomes)*13)
	for i := range outcomes {
		o := &outcomes[i]
		a := &o.Attempt
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
	return db.insertRows(ctx, tx, `INSERT INTO attempts (id, delivery_id, tenant_id, environment, number, at, duration_ms, request_headers,
		response_status, response_headers, response_body, error_class, error) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ` ON CONFLICT (id) DO NOTHING`, 13, args)
}

// updateDeliveriesByRow applies the outcomes with one prepared statement
// execution each: for an embedded database there is no round trip to save,
// and a point update by primary key is cheaper than SQLite's UPDATE … FROM
// over a VALUES list.
func (db *DB) updateDeliveriesByRow(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	const update = `UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?,
		lease_owner = NULL, last_status = ?, last_error = ?, updated_at = ?, signed_at = COALESCE(signed_at, NULLIF(?, 0))
		WHERE id = ? AND status = 'pending' AND lease_owner IS NOT NULL`
	for i := range outcomes {
		o := &outcomes[i]
		var next any
		if o.Status == domain.DeliveryPending {
			next = micros(o.NextAttemptAt)
		}
		// A delivery cancelled while its attempt was in flight stays
		// cancelled, and an outcome already recorded is not counted twice.
		if _, err := db.execStmt(ctx, tx, update, o.Status, next, o.Attempt.ResponseStatus, lastError(&o.Attempt), micros(o.Attempt.At), optionalSigned(o), o.DeliveryID); err != nil {
			return err
		}
	}
	return nil
}

// optionalSigned is the outcome's signing instant, 0 when it has none (an
// attempt that was never signed): the delivery keeps the first it gets.
func optionalSigned(o *store.Outcome) int64 {
	if o.SignedAt.IsZero() {
		return 0
	}
	return micros(o.SignedAt)
}

// lastError is what the delivery shows of its latest attempt's failure.
func lastError(a *domain.Attempt) string {
	if a.Error == "" {
		return a.ErrorClass
	}
	return a.Error
}
