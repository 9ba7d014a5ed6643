package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// upsertJob creates or updates a job and fills j with what the job now
// holds: the partner params and callback URL it was given last, so an event
// that names the job without them echoes the stored ones. fromEvent says
// whether the job's status moves on (an event) or not (a job registered
// ahead of its events).
func (db *DB) upsertJob(ctx context.Context, tx *sql.Tx, s domain.Scope, j *domain.Job, eventType string, final, fromEvent bool, now int64) error {
	status := `jobs.last_event_type`
	finalSQL := `jobs.final`
	if fromEvent {
		// A job that has ended stays ended: a later correction
		// (decision_updated, say) does not reopen it.
		status, finalSQL = `excluded.last_event_type`, `(jobs.final OR excluded.final)`
	}
	var params []byte
	err := db.scanStmt(ctx, tx, `INSERT INTO jobs (tenant_id, environment, id, kind, partner_params, callback_url, last_event_type, final, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, environment, id) DO UPDATE SET
			kind = CASE WHEN excluded.kind <> '' THEN excluded.kind ELSE jobs.kind END,
			partner_params = COALESCE(excluded.partner_params, jobs.partner_params),
			callback_url = CASE WHEN excluded.callback_url <> '' THEN excluded.callback_url ELSE jobs.callback_url END,
			last_event_type = `+status+`,
			final = `+finalSQL+`,
			updated_at = excluded.updated_at
		RETURNING kind, partner_params, callback_url`,
		[]any{s.TenantID, s.Environment, j.ID, j.Kind, nullJSON(j.PartnerParams), j.CallbackURL, eventType, final, now, now},
		&j.Kind, &params, &j.CallbackURL)
	j.PartnerParams = params
	return err
}

func (db *DB) PutJob(ctx context.Context, s domain.Scope, j *domain.Job, now time.Time) (*domain.JobRecord, error) {
	err := db.write(ctx, func(tx *sql.Tx) error {
		return db.upsertJob(ctx, tx, s, j, "", false, false, micros(now))
	})
	if err != nil {
		return nil, db.wrap("put job", err)
	}
	return db.GetJob(ctx, s, j.ID)
}

const jobColumns = `id, tenant_id, environment, kind, partner_params, callback_url, last_event_type, final, created_at, updated_at, erased_at`

func scanJob(r row) (domain.JobRecord, error) {
	var j domain.JobRecord
	var params []byte
	var created, updated int64
	var erased sql.NullInt64
	err := r.Scan(&j.ID, &j.TenantID, &j.Environment, &j.Kind, &params, &j.CallbackURL, &j.Status, &j.Final, &created, &updated, &erased)
	j.ErasedAt = nullMicros(erased)
	j.PartnerParams = params
	j.CreatedAt, j.UpdatedAt = fromMicros(created), fromMicros(updated)
	return j, err
}

func (db *DB) GetJob(ctx context.Context, s domain.Scope, id string) (*domain.JobRecord, error) {
	j, err := scanJob(db.read.QueryRowContext(ctx, db.q(`SELECT `+jobColumns+` FROM jobs
		WHERE tenant_id = ? AND environment = ? AND id = ?`), s.TenantID, s.Environment, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("job", id)
	}
	if err != nil {
		return nil, db.wrap("get job", err)
	}
	return &j, nil
}

// ListJobs pages by (updated_at, id), forwards or (Newest) backwards: the
// cursor is the last job's id, and the page continues after that job's
// place.
func (db *DB) ListJobs(ctx context.Context, s domain.Scope, f store.JobFilter) ([]domain.JobRecord, error) {
	f.Page = f.Page.Clamp()
	var where strings.Builder
	where.WriteString(`tenant_id = ? AND environment = ?`)
	args := []any{s.TenantID, s.Environment}
	add := func(cond string, arg any) {
		where.WriteString(` AND ` + cond)
		args = append(args, arg)
	}
	if !f.UpdatedSince.IsZero() {
		add(`updated_at >= ?`, micros(f.UpdatedSince))
	}
	if !f.UpdatedBefore.IsZero() {
		add(`updated_at < ?`, micros(f.UpdatedBefore))
	}
	if f.Final != nil {
		add(`final = ?`, *f.Final)
	}
	if f.Kind != "" {
		add(`kind = ?`, f.Kind)
	}
	if f.Status != "" {
		add(`last_event_type = ?`, f.Status)
	}
	if f.PartnerParam != "" {
		add(db.dialect.PartnerParamMatch, f.PartnerParam)
	}
	after, order := `>`, `updated_at, id`
	if f.Newest {
		after, order = `<`, `updated_at DESC, id DESC`
	}
	if f.Cursor != "" {
		where.WriteString(` AND (updated_at, id) ` + after + ` (SELECT updated_at, id FROM jobs WHERE tenant_id = ? AND environment = ? AND id = ?)`)
		args = append(args, s.TenantID, s.Environment, f.Cursor)
	}
	args = append(args, f.Limit)
	return collect(ctx, db, "list jobs", scanJob, `SELECT `+jobColumns+` FROM jobs WHERE `+where.String()+` ORDER BY `+order+` LIMIT ?`, args...)
}

func (db *DB) JobEvents(ctx context.Context, s domain.Scope, jobID string, p store.Page) ([]domain.Event, error) {
	p = p.Clamp()
	return collect(ctx, db, "job events", scanEvent, `SELECT `+eventColumns+` FROM events
		WHERE tenant_id = ? AND environment = ? AND job_id = ? AND id > ? ORDER BY id LIMIT ?`,
		s.TenantID, s.Environment, jobID, p.Cursor, p.Limit)
}
