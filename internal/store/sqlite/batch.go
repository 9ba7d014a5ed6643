package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// batcher is SQLite's sqlstore.Batcher. An embedded database has no round
// trips to save: rows go in multi-row statements of a few fixed sizes,
// outcomes are point updates and a claim probes endpoint by endpoint, all of
// it fixed SQL prepared once for the store (see stmtCache).
type batcher struct{ stmts *stmtCache }

func (b batcher) Query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	return b.stmts.query(ctx, tx, query, args...)
}

func (b batcher) Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	return b.stmts.exec(ctx, tx, query, args...)
}

func (b batcher) QueryRow(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	return b.stmts.scan(ctx, tx, query, args, dest...)
}

// rowsPerStatement are the sizes, largest first, of the multi-row
// statements. A batch goes in statements of these sizes only (600 rows:
// 9 × 64, 3 × 8), so their SQL repeats and each shape is prepared once.
// Larger statements measured no faster (256 and 32 rows: the same events/s
// and CPU within the noise) and cost more to prepare; 64 rows of 14 columns
// stay far under SQLite's limit of 32,766 parameters. The small sizes are
// for the single publishes of one shared commit, a dozen or two: 15 rows
// go in 4 statements, not 8.
var rowsPerStatement = [...]int{64, 8, 4, 2, 1}

// statementRows is the size of the next statement for n rows: the largest
// that n fills, or with padding (lookups, where a repeated key is harmless)
// the smallest that takes all n.
func statementRows(n int, padding bool) int {
	if padding {
		size := rowsPerStatement[0]
		for _, s := range rowsPerStatement {
			if s >= n {
				size = s
			}
		}
		return size
	}
	for _, s := range rowsPerStatement {
		if s <= n {
			return s
		}
	}
	return n
}

// insertRows inserts rows of width values each (args, row after row) with
// statements of the sizes in rowsPerStatement. head is the statement up to
// VALUES, row the placeholders of one row, tail what follows the rows.
func (b batcher) insertRows(ctx context.Context, tx *sql.Tx, head, row, tail string, width int, args []any) error {
	for len(args) > 0 {
		n := statementRows(len(args)/width, false)
		if _, err := b.stmts.exec(ctx, tx, head+" VALUES "+strings.Repeat(row+", ", n-1)+row+tail, args[:n*width]...); err != nil {
			return err
		}
		args = args[n*width:]
	}
	return nil
}

// UsedKeys looks the keys up in statements of the fixed sizes, the last one
// padded with repeats of its last key.
func (b batcher) UsedKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, keys []string) ([]sqlstore.KeyRow, error) {
	var found []sqlstore.KeyRow
	for len(keys) > 0 {
		n := statementRows(len(keys), true)
		args := make([]any, 0, 2+n)
		args = append(args, s.TenantID, s.Environment)
		for i := range n {
			args = append(args, keys[min(i, len(keys)-1)])
		}
		rows, err := b.stmts.query(ctx, tx, sqlstore.KeyLookupSQL(`IN (`+strings.Repeat("?, ", n-1)+`?)`), args...)
		if err != nil {
			return nil, err
		}
		if found, err = sqlstore.ScanKeys(rows, found); err != nil {
			return nil, err
		}
		keys = keys[min(n, len(keys)):]
	}
	return found, nil
}

// UpsertJobs upserts in statements of the fixed sizes; the rows they
// return are the jobs as they now are.
func (b batcher) UpsertJobs(ctx context.Context, tx *sql.Tx, s domain.Scope, jobs []sqlstore.JobRow) ([]sqlstore.JobRow, error) {
	const width = 10
	tenant, env := any(s.TenantID), any(s.Environment)
	held := make([]sqlstore.JobRow, 0, len(jobs))
	args := make([]any, 0, min(len(jobs), rowsPerStatement[0])*width)
	for len(jobs) > 0 {
		n := statementRows(len(jobs), false)
		args = args[:0]
		for i := range jobs[:n] {
			j := &jobs[i]
			var params any
			if j.PartnerParams != nil {
				params = j.PartnerParams
			}
			args = append(args, tenant, env, j.ID, j.Kind, params, j.CallbackURL, j.EventType, j.Final, j.Now, j.Now)
		}
		row := `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		rows, err := b.stmts.query(ctx, tx, sqlstore.UpsertJobsSQL+" VALUES "+strings.Repeat(row+", ", n-1)+row+sqlstore.JobConflictSQL(true), args...)
		if err != nil {
			return nil, err
		}
		if held, err = sqlstore.ScanJobs(rows, held); err != nil {
			return nil, err
		}
		jobs = jobs[n:]
	}
	return held, nil
}

func (b batcher) InsertKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, keys []sqlstore.KeyRow) error {
	tenant, env := any(s.TenantID), any(s.Environment)
	args := make([]any, 0, len(keys)*7)
	for _, k := range keys {
		args = append(args, tenant, env, k.Key, k.RequestHash, k.EventID, k.Deliveries, k.CreatedAt)
	}
	return b.insertRows(ctx, tx, sqlstore.InsertKeysSQL, `(?, ?, ?, ?, ?, ?, ?)`, "", 7, args)
}

func (b batcher) InsertEvents(ctx context.Context, tx *sql.Tx, s domain.Scope, events []sqlstore.EventRow) error {
	tenant, env := any(s.TenantID), any(s.Environment)
	args := make([]any, 0, len(events)*13)
	for i := range events {
		ev := &events[i]
		var jobID, job, expires any
		if ev.JobID != nil {
			jobID = *ev.JobID
		}
		if ev.Job != nil {
			job = ev.Job
		}
		if ev.ExpiresAt != nil {
			expires = *ev.ExpiresAt
		}
		args = append(args, tenant, env, ev.ID, ev.Type, jobID, job, ev.Final, ev.Test, ev.Sensitive, expires, ev.Data, ev.CreatedAt, ev.TraceParent)
	}
	return b.insertRows(ctx, tx, sqlstore.InsertEventsSQL, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, "", 13, args)
}

func (b batcher) InsertDeliveries(ctx context.Context, tx *sql.Tx, s domain.Scope, deliveries []sqlstore.DeliveryRow) error {
	// Values shared by many rows are boxed once: an event's deliveries are
	// next to each other and share its id, type and creation time.
	tenant, env := any(s.TenantID), any(s.Environment)
	var eventID, eventType, created any
	args := make([]any, 0, len(deliveries)*13)
	for i := range deliveries {
		d := &deliveries[i]
		if i == 0 || d.EventID != deliveries[i-1].EventID {
			eventID, eventType, created = d.EventID, d.EventType, d.CreatedAt
		}
		var due, job, owner any
		switch {
		case d.LeaseOwner != "":
			due, owner = d.LeaseUntil, d.LeaseOwner
		case !d.Held:
			due = created
		}
		if d.OrderedJob != "" {
			job = d.OrderedJob
		}
		args = append(args, tenant, env, d.ID, eventID, eventType, d.EndpointID, d.TargetURL, d.Test, due, created, job, owner, created)
	}
	return b.insertRows(ctx, tx, sqlstore.InsertDeliveriesSQL, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`, "", 13, args)
}

func (b batcher) RecordOutcomes(ctx context.Context, tx *sql.Tx, attempts []sqlstore.AttemptRow, outcomes []sqlstore.OutcomeRow) (int64, error) {
	if err := b.insertAttempts(ctx, tx, attempts); err != nil {
		return 0, fmt.Errorf("insert attempts: %w", err)
	}
	applied, err := b.updateDeliveries(ctx, tx, outcomes)
	if err != nil {
		return 0, fmt.Errorf("update deliveries: %w", err)
	}
	return applied, nil
}

// insertAttempts inserts the attempts with multi-row inserts of the fixed
// sizes publish uses, so their SQL is parsed once rather than once per
// batch, as a VALUES list of the batch's own length was.
func (b batcher) insertAttempts(ctx context.Context, tx *sql.Tx, attempts []sqlstore.AttemptRow) error {
	args := make([]any, 0, len(attempts)*14)
	for i := range attempts {
		a := &attempts[i]
		var reqH, respH any
		if a.RequestHeaders != nil {
			reqH = a.RequestHeaders
		}
		if a.ResponseHeaders != nil {
			respH = a.ResponseHeaders
		}
		args = append(args, a.ID, a.DeliveryID, a.TenantID, a.Environment, a.Number, a.At, a.DurationMS,
			reqH, a.ResponseStatus, respH, a.ResponseBody, a.ErrorClass, a.Error, a.TraceID)
	}
	return b.insertRows(ctx, tx, sqlstore.InsertAttemptsSQL, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ` ON CONFLICT (id) DO NOTHING`, 14, args)
}

// updateDeliveries applies the outcomes with one prepared statement
// execution each: there is no round trip to save, and a point update by
// primary key is cheaper than SQLite's UPDATE … FROM over a VALUES list.
func (b batcher) updateDeliveries(ctx context.Context, tx *sql.Tx, outcomes []sqlstore.OutcomeRow) (int64, error) {
	const update = `UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?,
		lease_owner = NULL, last_status = ?, last_error = ?, updated_at = ?, signed_at = COALESCE(signed_at, NULLIF(?, 0))
		WHERE id = ? AND status = 'pending' AND lease_owner IS NOT NULL`
	var applied int64
	for i := range outcomes {
		o := &outcomes[i]
		var next any
		if o.NextAttemptAt != nil {
			next = *o.NextAttemptAt
		}
		res, err := b.stmts.exec(ctx, tx, update, o.Status, next, o.LastStatus, o.LastError, o.UpdatedAt, o.SignedAt, o.DeliveryID)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		applied += n
	}
	return applied, nil
}

// claimProbe claims one endpoint's earliest due deliveries.
var claimProbe = sqlstore.ClaimSQL(`(SELECT id FROM deliveries x
	WHERE endpoint_id = ? AND status = 'pending' AND next_attempt_at <= ? AND ` + sqlstore.HeadOfJob + `
	ORDER BY next_attempt_at LIMIT ?)`)

// ClaimDue runs one prepared statement per endpoint: the cheapest plan
// there is without round trips.
func (b batcher) ClaimDue(ctx context.Context, tx *sql.Tx, c sqlstore.DueClaim) ([]store.Claimed, error) {
	var out []store.Claimed
	for _, cand := range c.Candidates {
		n := min(cand.Cap, c.Limit-len(out))
		if n <= 0 {
			break
		}
		rows, err := b.stmts.query(ctx, tx, claimProbe, c.LeaseUntil, c.Owner, cand.EndpointID, c.Now, n)
		if err != nil {
			return nil, err
		}
		if out, err = sqlstore.ScanClaimed(rows, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}
