package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// subscriber is the part of an endpoint that publish needs.
type subscriber struct {
	id              string
	filter          []string
	defaultCallback bool
}

func (db *DB) Publish(ctx context.Context, s domain.Scope, pubs []store.Publication) ([]store.PublishResult, error) {
	var results []store.PublishResult
	err := db.write(ctx, func(tx *sql.Tx) error {
		results = make([]store.PublishResult, len(pubs))
		subs, err := db.subscribers(ctx, tx, s)
		if err != nil {
			return err
		}
		// The deliveries of every event go in together, in a few large
		// inserts rather than one per event.
		var targets []target
		for i := range pubs {
			r, err := db.publishOne(ctx, tx, s, &pubs[i], subs, &targets)
			if err != nil {
				return err
			}
			results[i] = r
		}
		if err := db.insertDeliveries(ctx, tx, s, targets); err != nil {
			return err
		}
		for _, t := range targets {
			if t.due != nil {
				return db.notifyDue(ctx, tx)
			}
		}
		return nil
	})
	if err != nil {
		return nil, db.wrap("publish", err)
	}
	return results, nil
}

// subscribers reads the endpoints that take new deliveries: paused ones do
// (held until resumed), disabled ones do not.
func (db *DB) subscribers(ctx context.Context, tx *sql.Tx, s domain.Scope) ([]subscriber, error) {
	rows, err := tx.QueryContext(ctx, db.q(`SELECT id, event_types, default_callback FROM endpoints
		WHERE tenant_id = ? AND environment = ? AND status <> 'disabled'`), s.TenantID, s.Environment)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var subs []subscriber
	for rows.Next() {
		var sub subscriber
		var types []byte
		if err := rows.Scan(&sub.id, &types, &sub.defaultCallback); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(types, &sub.filter); err != nil {
			return nil, err
		}
		subs = append(subs, sub)
	}
	return subs, rows.Err()
}

// publishOne stores one event and adds its deliveries to targets.
func (db *DB) publishOne(ctx context.Context, tx *sql.Tx, s domain.Scope, p *store.Publication, subs []subscriber, targets *[]target) (store.PublishResult, error) {
	ev := &p.Event
	if p.IdempotencyKey != "" {
		var hash []byte
		var r store.PublishResult
		err := tx.QueryRowContext(ctx, db.q(`SELECT request_hash, event_id, deliveries FROM idempotency_keys
			WHERE tenant_id = ? AND environment = ? AND key = ?`), s.TenantID, s.Environment, p.IdempotencyKey).
			Scan(&hash, &r.EventID, &r.Deliveries)
		switch {
		case err == nil:
			if !bytes.Equal(hash, p.RequestHash) {
				return r, &domain.ConflictError{Msg: "idempotency key " + p.IdempotencyKey + " was already used with a different request body"}
			}
			r.Replayed = true
			return r, nil
		case !errors.Is(err, sql.ErrNoRows):
			return r, err
		}
	}
	now := micros(ev.CreatedAt)
	var jobID any
	var jobDoc []byte
	if ev.Job != nil && !ev.Test {
		jobID = ev.Job.ID
		if err := db.upsertJob(ctx, tx, s, ev.Job, ev.Type, ev.Final, true, now); err != nil {
			return store.PublishResult{}, err
		}
		jobDoc = marshal(ev.Job)
	}
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO events (id, tenant_id, environment, type, job_id, job, final, test, sensitive, expires_at, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ev.ID, s.TenantID, s.Environment, ev.Type, jobID, nullJSON(jobDoc), ev.Final, ev.Test, ev.Sensitive, optionalMicros(ev.ExpiresAt),
		[]byte(ev.Data), now); err != nil {
		return store.PublishResult{}, err
	}
	// A test send's delivery is held (no due time) for the request that
	// sends it at once; the dispatcher leaves it alone.
	var due any = now
	if p.OnlyEndpoint != "" {
		due = nil
	}
	matched := 0
	for _, sub := range subs {
		if p.OnlyEndpoint != "" && sub.id != p.OnlyEndpoint || !p.Event.Test && !domain.MatchesFilter(sub.filter, ev.Type) {
			continue
		}
		t := target{ev: ev, endpointID: sub.id, due: due}
		// A job with its own callback URL takes the default callback's
		// delivery: same secret and settings, the job's URL.
		if sub.defaultCallback && ev.Job != nil && ev.Job.CallbackURL != "" {
			t.url = ev.Job.CallbackURL
		}
		*targets = append(*targets, t)
		matched++
	}
	r := store.PublishResult{EventID: ev.ID, Deliveries: matched}
	if p.IdempotencyKey != "" {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO idempotency_keys (tenant_id, environment, key, request_hash, event_id, deliveries, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), s.TenantID, s.Environment, p.IdempotencyKey, p.RequestHash, r.EventID, r.Deliveries, now); err != nil {
			return r, err
		}
	}
	return r, nil
}

// deliveryInsertChunk keeps a multi-row insert under every driver's
// parameter limit.
const deliveryInsertChunk = 200

// target is one delivery to make: an event to an endpoint, maybe at a
// job's URL, due now or held (due nil).
type target struct {
	ev              *domain.Event
	endpointID, url string
	due             any
}

func (db *DB) insertDeliveries(ctx context.Context, tx *sql.Tx, s domain.Scope, targets []target) error {
	for len(targets) > 0 {
		n := min(len(targets), deliveryInsertChunk)
		var b strings.Builder
		b.WriteString(`INSERT INTO deliveries (id, tenant_id, environment, event_id, event_type, endpoint_id, target_url, test,
			status, next_attempt_at, created_at, updated_at) VALUES `)
		args := make([]any, 0, n*11)
		for i, t := range targets[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`)
			now := micros(t.ev.CreatedAt)
			args = append(args, domain.NewIDAt(domain.PrefixDelivery, t.ev.CreatedAt), s.TenantID, s.Environment, t.ev.ID, t.ev.Type,
				t.endpointID, t.url, t.ev.Test, t.due, now, now)
		}
		if _, err := tx.ExecContext(ctx, db.q(b.String()), args...); err != nil {
			return err
		}
		targets = targets[n:]
	}
	return nil
}

const eventColumns = `id, tenant_id, environment, type, job, final, test, sensitive, expires_at, data, created_at`

func scanEvent(r row) (domain.Event, error) {
	var e domain.Event
	var job, data []byte
	var created int64
	var expires sql.NullInt64
	if err := r.Scan(&e.ID, &e.TenantID, &e.Environment, &e.Type, &job, &e.Final, &e.Test, &e.Sensitive, &expires, &data, &created); err != nil {
		return e, err
	}
	e.Data = data
	e.ExpiresAt = nullMicros(expires)
	e.CreatedAt = fromMicros(created)
	if len(job) > 0 {
		e.Job = new(domain.Job)
		if err := json.Unmarshal(job, e.Job); err != nil {
			return e, err
		}
	}
	return e, nil
}

func (db *DB) GetEvent(ctx context.Context, s domain.Scope, id string) (*domain.Event, error) {
	e, err := scanEvent(db.read.QueryRowContext(ctx, db.q(`SELECT `+eventColumns+` FROM events
		WHERE tenant_id = ? AND environment = ? AND id = ?`), s.TenantID, s.Environment, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("event", id)
	}
	if err != nil {
		return nil, db.wrap("get event", err)
	}
	return &e, nil
}

func (db *DB) ListEvents(ctx context.Context, s domain.Scope, p store.Page) ([]domain.Event, error) {
	p = p.Clamp()
	return collect(ctx, db, "list events", scanEvent, `SELECT `+eventColumns+` FROM events
		WHERE tenant_id = ? AND environment = ? AND id > ? ORDER BY id LIMIT ?`, s.TenantID, s.Environment, p.Cursor, p.Limit)
}
