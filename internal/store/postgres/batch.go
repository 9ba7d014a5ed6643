package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// batcher is PostgreSQL's sqlstore.Batcher. Every statement is a round
// trip, so a batch goes in one statement per table whatever its size, each
// column passed as an array (pgx takes Go slices as arrays) and unnested,
// and a claim takes every endpoint in one statement with a lateral join.
// The texts never change: pgx prepares each once per connection and caches
// it, as it does the write path's other fixed SQL. A nil element of an
// array is a NULL.
type batcher struct{}

func (batcher) Query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	return tx.QueryContext(ctx, query, args...)
}

func (batcher) Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	return tx.ExecContext(ctx, query, args...)
}

func (batcher) QueryRow(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	return tx.QueryRowContext(ctx, query, args...).Scan(dest...)
}

var keyLookup = sqlstore.DollarPlaceholders(sqlstore.KeyLookupSQL(`= ANY(?::text[])`))

func (batcher) UsedKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, keys []string) ([]sqlstore.KeyRow, error) {
	rows, err := tx.QueryContext(ctx, keyLookup, s.TenantID, s.Environment, keys)
	if err != nil {
		return nil, err
	}
	return sqlstore.ScanKeys(rows, nil)
}

func (batcher) InsertKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, keys []sqlstore.KeyRow) error {
	n := len(keys)
	names, hashes, eventIDs := make([]string, n), make([][]byte, n), make([]string, n)
	deliveries, created := make([]int32, n), make([]int64, n)
	for i, k := range keys {
		names[i], hashes[i], eventIDs[i], deliveries[i], created[i] = k.Key, k.RequestHash, k.EventID, int32(k.Deliveries), k.CreatedAt
	}
	_, err := tx.ExecContext(ctx, sqlstore.InsertKeysSQL+`
		SELECT $1::text, $2::text, * FROM unnest($3::text[], $4::bytea[], $5::text[], $6::integer[], $7::bigint[])`,
		s.TenantID, s.Environment, names, hashes, eventIDs, deliveries, created)
	return err
}

func (batcher) InsertEvents(ctx context.Context, tx *sql.Tx, s domain.Scope, events []sqlstore.EventRow) error {
	n := len(events)
	ids, types, jobIDs, jobs := make([]string, n), make([]string, n), make([]*string, n), make([][]byte, n)
	finals, tests, sensitive := make([]bool, n), make([]bool, n), make([]bool, n)
	expires, data, created, traceparents := make([]*int64, n), make([][]byte, n), make([]int64, n), make([]string, n)
	for i := range events {
		ev := &events[i]
		ids[i], types[i], jobIDs[i], jobs[i] = ev.ID, ev.Type, ev.JobID, ev.Job
		finals[i], tests[i], sensitive[i] = ev.Final, ev.Test, ev.Sensitive
		expires[i], data[i], created[i], traceparents[i] = ev.ExpiresAt, ev.Data, ev.CreatedAt, ev.TraceParent
	}
	_, err := tx.ExecContext(ctx, sqlstore.InsertEventsSQL+`
		SELECT $1::text, $2::text, * FROM unnest($3::text[], $4::text[], $5::text[], $6::bytea[], $7::boolean[], $8::boolean[], $9::boolean[],
			$10::bigint[], $11::bytea[], $12::bigint[], $13::text[])`,
		s.TenantID, s.Environment, ids, types, jobIDs, jobs, finals, tests, sensitive, expires, data, created, traceparents)
	return err
}

// UpsertJobs upserts every job with one statement of fixed text; unnest
// keeps the rows in the order given, so the jobs are locked in it.
func (batcher) UpsertJobs(ctx context.Context, tx *sql.Tx, s domain.Scope, jobs []sqlstore.JobRow) ([]sqlstore.JobRow, error) {
	n := len(jobs)
	ids, kinds, urls, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	params, finals, now := make([][]byte, n), make([]bool, n), make([]int64, n)
	for i := range jobs {
		j := &jobs[i]
		ids[i], kinds[i], params[i], urls[i], types[i], finals[i], now[i] = j.ID, j.Kind, j.PartnerParams, j.CallbackURL, j.EventType, j.Final, j.Now
	}
	rows, err := tx.QueryContext(ctx, sqlstore.UpsertJobsSQL+`
		SELECT $1::text, $2::text, id, kind, partner_params, callback_url, last_event_type, final, now, now
		FROM unnest($3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::boolean[], $9::bigint[])
			AS t(id, kind, partner_params, callback_url, last_event_type, final, now)`+sqlstore.JobConflictSQL(true),
		s.TenantID, s.Environment, ids, kinds, params, urls, types, finals, now)
	if err != nil {
		return nil, err
	}
	return sqlstore.ScanJobs(rows, make([]sqlstore.JobRow, 0, n))
}

func (batcher) InsertDeliveries(ctx context.Context, tx *sql.Tx, s domain.Scope, deliveries []sqlstore.DeliveryRow) error {
	n := len(deliveries)
	ids, eventIDs, types, endpoints, urls := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	tests, due, created := make([]bool, n), make([]*int64, n), make([]int64, n)
	jobs, owners := make([]*string, n), make([]*string, n)
	for i := range deliveries {
		d := &deliveries[i]
		ids[i], eventIDs[i], types[i], endpoints[i], urls[i] = d.ID, d.EventID, d.EventType, d.EndpointID, d.TargetURL
		tests[i], created[i], due[i] = d.Test, d.CreatedAt, d.Due()
		if d.OrderedJob != "" {
			jobs[i] = &d.OrderedJob
		}
		if d.LeaseOwner != "" {
			owners[i] = &d.LeaseOwner
		}
	}
	_, err := tx.ExecContext(ctx, sqlstore.InsertDeliveriesSQL+`
		SELECT $1::text, $2::text, *, 'pending', created_at FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::boolean[], $9::bigint[], $10::bigint[], $11::text[], $12::text[])
			AS t(id, event_id, event_type, endpoint_id, target_url, test, next_attempt_at, created_at, ordered_job, lease_owner)`,
		s.TenantID, s.Environment, ids, eventIDs, types, endpoints, urls, tests, due, created, jobs, owners)
	return err
}

// RecordOutcomes writes the whole batch in two statements: arrays have no
// parameter limit. Their generic plans are the right ones whatever the
// statistics (see updateDeliveries), so the transaction asks for them from
// the first execution on a connection; the scrub and the endpoint updates
// after them are lookups by key, planned alike either way.
func (batcher) RecordOutcomes(ctx context.Context, tx *sql.Tx, attempts []sqlstore.AttemptRow, outcomes []sqlstore.OutcomeRow) (int64, error) {
	if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
		return 0, fmt.Errorf("plan outcomes generically: %w", err)
	}
	if err := insertAttempts(ctx, tx, attempts); err != nil {
		return 0, fmt.Errorf("insert attempts: %w", err)
	}
	applied, err := updateDeliveries(ctx, tx, outcomes)
	if err != nil {
		return 0, fmt.Errorf("update deliveries: %w", err)
	}
	return applied, nil
}

// insertAttempts inserts every attempt with one statement of fixed text,
// where a VALUES list of 13 parameters a row was parsed and planned anew
// for each batch size.
func insertAttempts(ctx context.Context, tx *sql.Tx, attempts []sqlstore.AttemptRow) error {
	n := len(attempts)
	ids, deliveryIDs, tenants, envs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	numbers, statuses := make([]int32, n), make([]int32, n)
	ats, durations := make([]int64, n), make([]int64, n)
	reqHs, respHs, bodies := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	classes, errs, traceIDs := make([]string, n), make([]string, n), make([]string, n)
	for i := range attempts {
		a := &attempts[i]
		ids[i], deliveryIDs[i], tenants[i], envs[i] = a.ID, a.DeliveryID, a.TenantID, a.Environment
		numbers[i], ats[i], durations[i], reqHs[i] = int32(a.Number), a.At, a.DurationMS, a.RequestHeaders
		statuses[i], respHs[i], bodies[i] = int32(a.ResponseStatus), a.ResponseHeaders, a.ResponseBody
		classes[i], errs[i], traceIDs[i] = a.ErrorClass, a.Error, a.TraceID
	}
	_, err := tx.ExecContext(ctx, sqlstore.InsertAttemptsSQL+`
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::bigint[], $7::bigint[],
			$8::bytea[], $9::integer[], $10::bytea[], $11::bytea[], $12::text[], $13::text[], $14::text[])
		ON CONFLICT (id) DO NOTHING`,
		ids, deliveryIDs, tenants, envs, numbers, ats, durations, reqHs, statuses, respHs, bodies, classes, errs, traceIDs)
	return err
}

// updateDeliveries applies every outcome to its delivery in one statement
// of fixed text. The join must be a nested loop of primary-key lookups,
// never a hash join over the pending rows. A generic plan assumes 10 rows
// from unnest and is the loop whatever the statistics. A custom plan knows
// the batch's length; on a table not yet analyzed the planner also believes
// few rows are pending and hash-joins the batch with all of them, read
// through the partial index of pending rows: 20–30 ms a batch of 256 at
// 100,000 pending, against 6–8 ms for the loop. (The VALUES list this
// replaced kept its length in the generic plan too, so on such a table it
// hash-joined on every call.)
func updateDeliveries(ctx context.Context, tx *sql.Tx, outcomes []sqlstore.OutcomeRow) (int64, error) {
	n := len(outcomes)
	ids, statuses, lastErrors := make([]string, n), make([]string, n), make([]string, n)
	next, lastStatuses, updated := make([]*int64, n), make([]int32, n), make([]int64, n)
	signed := make([]int64, n)
	for i := range outcomes {
		o := &outcomes[i]
		ids[i], statuses[i], next[i] = o.DeliveryID, o.Status, o.NextAttemptAt
		lastStatuses[i], lastErrors[i], updated[i], signed[i] = int32(o.LastStatus), o.LastError, o.UpdatedAt, o.SignedAt
	}
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = v.status, attempts = deliveries.attempts + 1,
		next_attempt_at = v.next_attempt_at, lease_owner = NULL, last_status = v.last_status, last_error = v.last_error,
		updated_at = v.updated_at, signed_at = COALESCE(deliveries.signed_at, NULLIF(v.signed_at, 0))
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::text[], $6::bigint[], $7::bigint[])
			AS v(id, status, next_attempt_at, last_status, last_error, updated_at, signed_at)
		WHERE deliveries.id = v.id AND deliveries.status = 'pending' AND deliveries.lease_owner IS NOT NULL`,
		ids, statuses, next, lastStatuses, lastErrors, updated, signed)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// claimLateral claims due deliveries of every candidate endpoint in one
// statement: one round trip whatever the number of endpoints, and SKIP
// LOCKED keeps processes off each other's rows.
var claimLateral = sqlstore.DollarPlaceholders(sqlstore.ClaimSQL(`(SELECT d.id
	FROM unnest(CAST(? AS TEXT[]), CAST(? AS INTEGER[])) AS c(endpoint_id, cap)
	CROSS JOIN LATERAL (SELECT x.id FROM deliveries x
		WHERE x.endpoint_id = c.endpoint_id AND x.status = 'pending' AND x.next_attempt_at <= ? AND ` + sqlstore.HeadOfJob + `
		ORDER BY x.next_attempt_at LIMIT c.cap ` + claimLock + `) d
	LIMIT ?)`))

func (batcher) ClaimDue(ctx context.Context, tx *sql.Tx, c sqlstore.DueClaim) ([]store.Claimed, error) {
	ids := make([]string, len(c.Candidates))
	caps := make([]int32, len(c.Candidates))
	for i, cand := range c.Candidates {
		ids[i], caps[i] = cand.EndpointID, int32(cand.Cap)
	}
	rows, err := tx.QueryContext(ctx, claimLateral, c.LeaseUntil, c.Owner, ids, caps, c.Now, c.Limit)
	if err != nil {
		return nil, err
	}
	return sqlstore.ScanClaimed(rows, nil)
}
