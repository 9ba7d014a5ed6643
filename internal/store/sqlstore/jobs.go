package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	var id string
	var params []byte
	err := db.scanStmt(ctx, tx, UpsertJobsSQL+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`+JobConflictSQL(fromEvent),
		[]any{s.TenantID, s.Environment, j.ID, j.Kind, nullJSON(j.PartnerParams), j.CallbackURL, eventType, final, now, now},
		&id, &j.Kind, &params, &j.CallbackURL)
	j.PartnerParams = params
	return err
}

// upsertJobs upserts the jobs of a publish's new events (test events have
// none), each event in turn, and fills each event's job with what its job
// held after it. It goes in rounds: the first upserts the first event of
// every job, the second the second of each job that has one, and so on,
// each round one statement of distinct jobs in ascending order. A job's
// events thus apply in their order, each round sees the one before, and
// two publishes lock shared jobs in the same order.
func (db *DB) upsertJobs(ctx context.Context, tx *sql.Tx, s domain.Scope, events []*domain.Event) error {
	var byJob map[string][]*domain.Event
	var ids []string
	for _, ev := range events {
		if ev.Job == nil || ev.Test {
			continue
		}
		if byJob == nil {
			byJob = make(map[string][]*domain.Event)
		}
		if _, ok := byJob[ev.Job.ID]; !ok {
			ids = append(ids, ev.Job.ID)
		}
		byJob[ev.Job.ID] = append(byJob[ev.Job.ID], ev)
	}
	slices.Sort(ids)
	rows := make([]JobRow, 0, len(ids))
	round := make([]*domain.Event, 0, len(ids))
	for r := 0; len(ids) > 0; r++ {
		rows, round = rows[:0], round[:0]
		for _, id := range ids {
			ev := byJob[id][r]
			round = append(round, ev)
			row := JobRow{ID: id, Kind: ev.Job.Kind, CallbackURL: ev.Job.CallbackURL, EventType: ev.Type, Final: ev.Final,
				Now: micros(ev.CreatedAt)}
			if len(ev.Job.PartnerParams) > 0 {
				row.PartnerParams = ev.Job.PartnerParams
			}
			rows = append(rows, row)
		}
		held, err := db.dialect.Batcher.UpsertJobs(ctx, tx, s, rows)
		if err != nil {
			return fmt.Errorf("upsert jobs: %w", err)
		}
		now := make(map[string]*JobRow, len(held))
		for i := range held {
			now[held[i].ID] = &held[i]
		}
		for _, ev := range round {
			h, ok := now[ev.Job.ID]
			if !ok {
				return fmt.Errorf("upsert jobs: job %s was not returned", ev.Job.ID)
			}
			ev.Job.Kind, ev.Job.PartnerParams, ev.Job.CallbackURL = h.Kind, h.PartnerParams, h.CallbackURL
		}
		// The jobs with events left go on to the next round.
		next := ids[:0]
		for _, id := range ids {
			if len(byJob[id]) > r+1 {
				next = append(next, id)
			}
		}
		ids = next
	}
	return nil
}

// ScanJobs appends the jobs an upsert (JobConflictSQL) returned to held,
// and closes rows.
func ScanJobs(rows *sql.Rows, held []JobRow) ([]JobRow, error) {
	defer rows.Close()
	for rows.Next() {
		var j JobRow
		if err := rows.Scan(&j.ID, &j.Kind, &j.PartnerParams, &j.CallbackURL); err != nil {
			return held, err
		}
		held = append(held, j)
	}
	return held, rows.Err()
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
