package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// eraseBatch is the most events (and jobs) one erasure transaction
// rewrites: a selector matching a million events takes many short turns
// at the writer rather than one long one.
const eraseBatch = 500

// eraser is one erasure under way: its scope, its instant and the receipt
// it fills in.
type eraser struct {
	db  *DB
	s   domain.Scope
	now int64
	r   *domain.Erasure
}

func (db *DB) Erase(ctx context.Context, s domain.Scope, sel domain.ErasureSelector, r *domain.Erasure) error {
	r.TenantID, r.Environment = s.TenantID, s.Environment
	e := &eraser{db: db, s: s, now: micros(time.Now()), r: r}
	var err error
	switch {
	case sel.JobID != "":
		err = e.jobs(ctx, []string{sel.JobID})
	case sel.PartnerParamKey != "":
		err = e.byPartnerParam(ctx, sel.PartnerParamKey, sel.PartnerParamValue)
	default:
		err = e.events(ctx, sel.EventIDs)
	}
	if err != nil {
		return db.wrap("erase", err)
	}
	if db.dialect.AfterErase != nil {
		truncated, err := db.dialect.AfterErase(ctx)
		if err != nil {
			return db.wrap("erase: checkpoint", err)
		}
		r.WALTruncated = &truncated
	}
	r.At = domain.Now()
	return db.wrap("erase: keep the receipt", db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO erasures (id, tenant_id, environment, at, receipt) VALUES (?, ?, ?, ?, ?)`),
			r.ID, s.TenantID, string(s.Environment), micros(r.At), marshal(r)); err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}

// byPartnerParam erases the jobs whose partner params hold value under
// key. Partner params are a JSON document stored as given, so they are
// read a page at a time and matched here, the same way on both databases.
func (e *eraser) byPartnerParam(ctx context.Context, key, value string) error {
	cursor := ""
	for {
		rows, err := e.db.read.QueryContext(ctx, e.db.q(`SELECT id, partner_params FROM jobs
			WHERE tenant_id = ? AND environment = ? AND id > ? AND partner_params IS NOT NULL ORDER BY id LIMIT ?`),
			e.s.TenantID, string(e.s.Environment), cursor, eraseBatch)
		if err != nil {
			return fmt.Errorf("read jobs: %w", err)
		}
		var matched []string
		n := 0
		for rows.Next() {
			var id string
			var params []byte
			if err := rows.Scan(&id, &params); err != nil {
				rows.Close()
				return err
			}
			n, cursor = n+1, id
			if paramMatches(params, key, value) {
				matched = append(matched, id)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(matched) > 0 {
			if err := e.jobs(ctx, matched); err != nil {
				return err
			}
		}
		if n < eraseBatch {
			return nil
		}
	}
}

// paramMatches reports whether a partner params object holds value under
// key: as a string, or as a number or boolean whose JSON text is value.
func paramMatches(params []byte, key, value string) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(params, &obj) != nil {
		return false
	}
	raw, ok := obj[key]
	if !ok {
		return false
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str == value
	}
	return string(bytes.TrimSpace(raw)) == value
}

// jobs erases the named jobs of the scope (those that exist) and every
// event of theirs.
func (e *eraser) jobs(ctx context.Context, ids []string) error {
	existing, err := e.strings(ctx, `SELECT id FROM jobs WHERE tenant_id = ? AND environment = ? AND id IN (`+placeholders(len(ids))+`)`,
		append([]any{e.s.TenantID, string(e.s.Environment)}, anys(ids)...)...)
	if err != nil {
		return fmt.Errorf("read jobs: %w", err)
	}
	e.r.Matched.Jobs += len(existing)
	// Events may name a job that was never stored (a test send's).
	err = e.jobEvents(ctx, ids, func(events []string) error {
		e.r.Matched.Events += len(events)
		return e.eventBatch(ctx, events)
	})
	if err != nil {
		return err
	}
	return e.jobRows(ctx, existing)
}

// jobEvents calls fn with the scope's events of the named jobs, a batch at
// a time, oldest first.
func (e *eraser) jobEvents(ctx context.Context, jobs []string, fn func(events []string) error) error {
	if len(jobs) == 0 {
		return nil
	}
	cursor := ""
	for {
		events, err := e.strings(ctx, `SELECT id FROM events WHERE tenant_id = ? AND environment = ? AND id > ?
			AND job_id IN (`+placeholders(len(jobs))+`) ORDER BY id LIMIT `+fmt.Sprint(eraseBatch),
			append([]any{e.s.TenantID, string(e.s.Environment), cursor}, anys(jobs)...)...)
		if err != nil {
			return fmt.Errorf("read job events: %w", err)
		}
		if len(events) > 0 {
			cursor = events[len(events)-1]
			if err := fn(events); err != nil {
				return err
			}
		}
		if len(events) < eraseBatch {
			return nil
		}
	}
}

// events erases the named events of the scope and their jobs.
func (e *eraser) events(ctx context.Context, ids []string) error {
	seen := make(map[string]bool, len(ids))
	var unique []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			unique = append(unique, id)
		}
	}
	for len(unique) > 0 {
		n := min(len(unique), eraseBatch)
		batch := unique[:n]
		unique = unique[n:]
		rows, err := e.db.read.QueryContext(ctx, e.db.q(`SELECT id, job_id FROM events WHERE tenant_id = ? AND environment = ?
			AND id IN (`+placeholders(len(batch))+`)`), append([]any{e.s.TenantID, string(e.s.Environment)}, anys(batch)...)...)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		var found, jobs []string
		jobSeen := map[string]bool{}
		for rows.Next() {
			var id string
			var job sql.NullString
			if err := rows.Scan(&id, &job); err != nil {
				rows.Close()
				return err
			}
			found = append(found, id)
			if job.Valid && job.String != "" && !jobSeen[job.String] {
				jobSeen[job.String] = true
				jobs = append(jobs, job.String)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		e.r.Matched.Events += len(found)
		if len(found) == 0 {
			continue
		}
		if err := e.eventBatch(ctx, found); err != nil {
			return err
		}
		// An event's job carries its partner params: they go too, from
		// the job and from its other events' copies (whose own data stays).
		if err := e.jobRows(ctx, jobs); err != nil {
			return err
		}
		if err := e.jobCopies(ctx, jobs); err != nil {
			return err
		}
	}
	return nil
}

// jobCopies removes the partner params from every copy the scope's
// events of the named jobs carry, a batch of events per transaction.
func (e *eraser) jobCopies(ctx context.Context, jobs []string) error {
	return e.jobEvents(ctx, jobs, func(events []string) error {
		if err := e.db.write(ctx, func(tx *sql.Tx) error { return e.eventJobs(ctx, tx, events) }); err != nil {
			return fmt.Errorf("erase job copies: %w", err)
		}
		return nil
	})
}

// jobRows erases the personal fields of the scope's named jobs, in one
// transaction per batch.
func (e *eraser) jobRows(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), eraseBatch)
		batch := ids[:n]
		ids = ids[n:]
		var count int64
		err := e.db.write(ctx, func(tx *sql.Tx) error {
			var err error
			count, err = e.db.execCount(ctx, tx, `UPDATE jobs SET partner_params = NULL, callback_url = '', erased_at = COALESCE(erased_at, ?)
				WHERE tenant_id = ? AND environment = ? AND id IN (`+placeholders(len(batch))+`)
				AND (partner_params IS NOT NULL OR callback_url <> '' OR erased_at IS NULL)`,
				append([]any{e.now, e.s.TenantID, string(e.s.Environment)}, anys(batch)...)...)
			return err
		})
		if err != nil {
			return fmt.Errorf("erase jobs: %w", err)
		}
		e.r.Erased.Jobs += int(count)
	}
	return nil
}

// eventBatch erases, in one transaction, what Herald keeps of a batch of
// the scope's events: their data and their copy of the job's partner
// params, their idempotency keys, their deliveries' callback URLs and last
// errors (pending ones are cancelled), and their attempts' headers, bodies
// and error texts. Ids, types, times and outcomes stay.
func (e *eraser) eventBatch(ctx context.Context, ids []string) error {
	in := `(` + placeholders(len(ids)) + `)`
	scoped := func(first ...any) []any {
		return append(append(first, e.s.TenantID, string(e.s.Environment)), anys(ids)...)
	}
	var c domain.ErasureCounts
	err := e.db.write(ctx, func(tx *sql.Tx) error {
		c = domain.ErasureCounts{}
		n, err := e.db.execCount(ctx, tx, `UPDATE events SET data = ?, erased_at = ?
			WHERE tenant_id = ? AND environment = ? AND id IN `+in+` AND erased_at IS NULL`, scoped(domain.Erased, e.now)...)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		c.Events = int(n)
		if err := e.eventJobs(ctx, tx, ids); err != nil {
			return fmt.Errorf("events' jobs: %w", err)
		}
		// Cancelled as an endpoint's deletion cancels them: the rest of an
		// ordered job go on without them, marked.
		cancelled, err := e.db.cancelPending(ctx, tx, `SELECT id FROM deliveries WHERE tenant_id = ? AND environment = ?
			AND event_id IN `+in+` AND status = 'pending'`, domain.ErasedReason, fromMicros(e.now), scoped()...)
		if err != nil {
			return fmt.Errorf("cancel deliveries: %w", err)
		}
		c.CancelledDeliveries = cancelled
		// last_error may name a callback URL (a session link) or quote the
		// receiver; a delivery that just lost its pending state says why.
		if n, err = e.db.execCount(ctx, tx, `UPDATE deliveries SET erased_at = COALESCE(erased_at, ?), target_url = '',
			last_error = CASE WHEN last_error = '' AND status <> 'cancelled' THEN '' ELSE ? END
			WHERE tenant_id = ? AND environment = ? AND event_id IN `+in+`
			AND (erased_at IS NULL OR target_url <> '' OR (last_error <> '' AND last_error <> ?))`,
			append(scoped(e.now, domain.ErasedReason), domain.ErasedReason)...); err != nil {
			return fmt.Errorf("deliveries: %w", err)
		}
		c.Deliveries = int(n)
		if n, err = e.db.execCount(ctx, tx, `UPDATE attempts SET `+erasedAttempt+`
			WHERE delivery_id IN (SELECT id FROM deliveries WHERE tenant_id = ? AND environment = ? AND event_id IN `+in+`)
			AND `+attemptHolds, scoped()...); err != nil {
			return fmt.Errorf("attempts: %w", err)
		}
		c.Attempts = int(n)
		if n, err = e.db.execCount(ctx, tx, `DELETE FROM idempotency_keys WHERE tenant_id = ? AND environment = ? AND event_id IN `+in,
			scoped()...); err != nil {
			return fmt.Errorf("idempotency keys: %w", err)
		}
		c.IdempotencyKeys = int(n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("erase events: %w", err)
	}
	t := &e.r.Erased
	t.Events += c.Events
	t.CancelledDeliveries += c.CancelledDeliveries
	t.Deliveries += c.Deliveries
	t.Attempts += c.Attempts
	t.IdempotencyKeys += c.IdempotencyKeys
	return nil
}

// erasedAttempt empties what an attempt kept that may be personal: the
// headers both ways, the receiver's answer and the error text (which may
// name the callback URL). Its status, times and error class stay.
const erasedAttempt = `request_headers = NULL, response_headers = NULL, response_body = NULL, error = ''`

// attemptHolds selects the attempts that still hold any of it.
const attemptHolds = `(request_headers IS NOT NULL OR response_headers IS NOT NULL OR response_body IS NOT NULL OR error <> '')`

// eventJobs rewrites the events' copy of their job without its partner
// params: one statement per distinct copy, usually one per job.
func (e *eraser) eventJobs(ctx context.Context, tx *sql.Tx, ids []string) error {
	rows, err := tx.QueryContext(ctx, e.db.q(`SELECT id, job FROM events WHERE tenant_id = ? AND environment = ?
		AND id IN (`+placeholders(len(ids))+`) AND job IS NOT NULL`), append([]any{e.s.TenantID, string(e.s.Environment)}, anys(ids)...)...)
	if err != nil {
		return err
	}
	byJob := map[string][]any{}
	var order []string
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			rows.Close()
			return err
		}
		var j domain.Job
		if err := json.Unmarshal(raw, &j); err != nil {
			rows.Close()
			return fmt.Errorf("event %s job: %w", id, err)
		}
		if len(j.PartnerParams) == 0 {
			continue
		}
		key := string(marshal(domain.Job{ID: j.ID, Kind: j.Kind}))
		if _, ok := byJob[key]; !ok {
			order = append(order, key)
		}
		byJob[key] = append(byJob[key], id)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, job := range order {
		evs := byJob[job]
		if _, err := tx.ExecContext(ctx, e.db.q(`UPDATE events SET job = ? WHERE tenant_id = ? AND environment = ?
			AND id IN (`+placeholders(len(evs))+`)`),
			append([]any{[]byte(job), e.s.TenantID, string(e.s.Environment)}, evs...)...); err != nil {
			return err
		}
	}
	return nil
}

// eraseLate empties the attempts just recorded for deliveries an erasure
// marked while they were in flight: the erasure could not see an attempt
// that was not yet written.
func (db *DB) eraseLate(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	ids := make([]string, len(outcomes))
	for i := range outcomes {
		ids[i] = outcomes[i].DeliveryID
	}
	return db.inChunks("id", ids, func(in string, args []any) error {
		_, err := db.execStmt(ctx, tx, `UPDATE attempts SET `+erasedAttempt+` WHERE delivery_id IN
			(SELECT id FROM deliveries WHERE `+in+` AND erased_at IS NOT NULL) AND `+attemptHolds, db.listArgs(args...)...)
		return err
	})
}

// strings runs a query of one text column on the readers.
func (e *eraser) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	return collect(ctx, e.db, "erase", func(r row) (string, error) {
		var s string
		err := r.Scan(&s)
		return s, err
	}, query, args...)
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (db *DB) ListErasures(ctx context.Context, f store.ErasureFilter) ([]domain.Erasure, error) {
	f.Page = f.Page.Clamp()
	where, args := `1 = 1`, []any{}
	if f.TenantID != "" {
		where += ` AND tenant_id = ?`
		args = append(args, f.TenantID)
	}
	if f.Environment != "" {
		where += ` AND environment = ?`
		args = append(args, string(f.Environment))
	}
	if f.Cursor != "" {
		where += ` AND id < ?`
		args = append(args, f.Cursor)
	}
	return collect(ctx, db, "list erasures", func(r row) (domain.Erasure, error) {
		var raw []byte
		var e domain.Erasure
		if err := r.Scan(&raw); err != nil {
			return e, err
		}
		return e, json.Unmarshal(raw, &e)
	}, `SELECT receipt FROM erasures WHERE `+where+` ORDER BY id DESC LIMIT ?`, append(args, f.Limit)...)
}
