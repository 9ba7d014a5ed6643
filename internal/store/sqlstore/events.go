package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
		var err error
		results, err = db.publish(ctx, tx, s, pubs)
		return err
	})
	if err != nil {
		return nil, db.wrap("publish", err)
	}
	return results, nil
}

// publish stores a batch in a few statements per table, whatever its size:
// the batch's idempotency keys are looked up together, then its keys, events
// and deliveries are inserted together. Only job upserts go one per event
// (with a job), in the batch's order, since each may echo what the one
// before it stored.
func (db *DB) publish(ctx context.Context, tx *sql.Tx, s domain.Scope, pubs []store.Publication) ([]store.PublishResult, error) {
	subs, err := db.subscribers(ctx, tx, s)
	if err != nil {
		return nil, fmt.Errorf("read endpoints: %w", err)
	}
	used, err := db.usedKeys(ctx, tx, s, pubs)
	if err != nil {
		return nil, fmt.Errorf("look up idempotency keys: %w", err)
	}
	results := make([]store.PublishResult, len(pubs))
	var events []*domain.Event
	var keys []usedKey
	var targets []target
	for i := range pubs {
		p := &pubs[i]
		if p.IdempotencyKey != "" {
			if k, ok := used[p.IdempotencyKey]; ok {
				if !bytes.Equal(k.hash, p.RequestHash) {
					return nil, &domain.ConflictError{Msg: "idempotency key " + p.IdempotencyKey + " was already used with a different request body"}
				}
				results[i] = store.PublishResult{EventID: k.eventID, Deliveries: k.deliveries, Replayed: true}
				continue
			}
		}
		ev := &p.Event
		if ev.Job != nil && !ev.Test {
			if err := db.upsertJob(ctx, tx, s, ev.Job, ev.Type, ev.Final, true, micros(ev.CreatedAt)); err != nil {
				return nil, fmt.Errorf("upsert job %s: %w", ev.Job.ID, err)
			}
		}
		matched := fanOut(p, subs, &targets)
		results[i] = store.PublishResult{EventID: ev.ID, Deliveries: matched}
		events = append(events, ev)
		if p.IdempotencyKey != "" {
			k := usedKey{key: p.IdempotencyKey, hash: p.RequestHash, eventID: ev.ID, deliveries: matched, createdAt: micros(ev.CreatedAt)}
			// A later publication of the batch with the same key sees
			// this one as published before it: it replays this result,
			// or conflicts with it.
			used[k.key] = k
			keys = append(keys, k)
		}
	}
	if err := db.insertKeys(ctx, tx, s, keys); err != nil {
		return nil, fmt.Errorf("insert idempotency keys: %w", err)
	}
	if err := db.insertEvents(ctx, tx, s, events); err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	if err := db.insertDeliveries(ctx, tx, s, targets); err != nil {
		return nil, fmt.Errorf("insert deliveries: %w", err)
	}
	for _, t := range targets {
		if t.due != nil {
			if err := db.notifyDue(ctx, tx); err != nil {
				return nil, fmt.Errorf("notify: %w", err)
			}
			break
		}
	}
	return results, nil
}

// subscribers reads the endpoints that take new deliveries: paused ones do
// (held until resumed), disabled ones do not.
func (db *DB) subscribers(ctx context.Context, tx *sql.Tx, s domain.Scope) ([]subscriber, error) {
	rows, err := db.queryStmt(ctx, tx, `SELECT id, event_types, default_callback FROM endpoints
		WHERE tenant_id = ? AND environment = ? AND status <> 'disabled'`, s.TenantID, s.Environment)
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

// fanOut adds an event's deliveries to targets and returns how many.
func fanOut(p *store.Publication, subs []subscriber, targets *[]target) int {
	ev := &p.Event
	// A test send's delivery is held (no due time) for the request that
	// sends it at once; the dispatcher leaves it alone.
	var due any = micros(ev.CreatedAt)
	if p.OnlyEndpoint != "" {
		due = nil
	}
	matched := 0
	for _, sub := range subs {
		if p.OnlyEndpoint != "" && sub.id != p.OnlyEndpoint || !ev.Test && !domain.MatchesFilter(sub.filter, ev.Type) {
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
	return matched
}

// usedKey is an idempotency key and the result it remembers.
type usedKey struct {
	key        string
	hash       []byte
	eventID    string
	deliveries int
	createdAt  int64
}

// usedKeys reads the stored keys among those of pubs, by key.
func (db *DB) usedKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, pubs []store.Publication) (map[string]usedKey, error) {
	used := make(map[string]usedKey)
	var keys []string
	for i := range pubs {
		if k := pubs[i].IdempotencyKey; k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) == 0 {
		return used, nil
	}
	if db.dialect.ArrayParams {
		rows, err := tx.QueryContext(ctx, `SELECT key, request_hash, event_id, deliveries FROM idempotency_keys
			WHERE tenant_id = $1 AND environment = $2 AND key = ANY($3::text[])`, s.TenantID, s.Environment, keys)
		if err != nil {
			return nil, err
		}
		return used, scanKeys(rows, used)
	}
	for len(keys) > 0 {
		// The last statement is padded with repeats of its last key, so
		// that it too has one of the fixed sizes.
		n := statementRows(len(keys), true)
		args := make([]any, 0, 2+n)
		args = append(args, s.TenantID, s.Environment)
		for i := range n {
			args = append(args, keys[min(i, len(keys)-1)])
		}
		rows, err := db.queryStmt(ctx, tx, `SELECT key, request_hash, event_id, deliveries FROM idempotency_keys
			WHERE tenant_id = ? AND environment = ? AND key IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		if err := scanKeys(rows, used); err != nil {
			return nil, err
		}
		keys = keys[min(n, len(keys)):]
	}
	return used, nil
}

func scanKeys(rows *sql.Rows, used map[string]usedKey) error {
	defer rows.Close()
	for rows.Next() {
		var k usedKey
		if err := rows.Scan(&k.key, &k.hash, &k.eventID, &k.deliveries); err != nil {
			return err
		}
		used[k.key] = k
	}
	return rows.Err()
}

// insertKeys stores the batch's new idempotency keys. On PostgreSQL a
// concurrent publish with one of them makes this fail on
// idempotency_keys_pkey once that publish commits, and the store runs the
// transaction again, which then replays it. The keys go in sorted, so two
// batches that share several keys lock them in the same order and wait for
// each other rather than deadlock.
func (db *DB) insertKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, keys []usedKey) error {
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b usedKey) int { return strings.Compare(a.key, b.key) })
	if db.dialect.ArrayParams {
		n := len(keys)
		names, hashes, eventIDs := make([]string, n), make([][]byte, n), make([]string, n)
		deliveries, created := make([]int32, n), make([]int64, n)
		for i, k := range keys {
			names[i], hashes[i], eventIDs[i], deliveries[i], created[i] = k.key, k.hash, k.eventID, int32(k.deliveries), k.createdAt
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (tenant_id, environment, key, request_hash, event_id, deliveries, created_at)
			SELECT $1::text, $2::text, * FROM unnest($3::text[], $4::bytea[], $5::text[], $6::integer[], $7::bigint[])`,
			s.TenantID, s.Environment, names, hashes, eventIDs, deliveries, created)
		return err
	}
	args := make([]any, 0, len(keys)*7)
	for _, k := range keys {
		args = append(args, s.TenantID, s.Environment, k.key, k.hash, k.eventID, k.deliveries, k.createdAt)
	}
	return db.insertRows(ctx, tx, `INSERT INTO idempotency_keys (tenant_id, environment, key, request_hash, event_id, deliveries, created_at) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?)`, "", 7, args)
}

// insertEvents stores the batch's new events.
func (db *DB) insertEvents(ctx context.Context, tx *sql.Tx, s domain.Scope, events []*domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	// A test event records no job: its job was not upserted.
	job := func(ev *domain.Event) (id *string, doc []byte) {
		if ev.Job == nil || ev.Test {
			return nil, nil
		}
		return &ev.Job.ID, ev.Job.AppendJSON(nil, true)
	}
	if db.dialect.ArrayParams {
		n := len(events)
		ids, types, jobIDs, jobs := make([]string, n), make([]string, n), make([]*string, n), make([][]byte, n)
		finals, tests, sensitive := make([]bool, n), make([]bool, n), make([]bool, n)
		expires, created := make([]*int64, n), make([]int64, n)
		data := make([][]byte, n)
		for i, ev := range events {
			ids[i], types[i], finals[i], tests[i], sensitive[i] = ev.ID, ev.Type, ev.Final, ev.Test, ev.Sensitive
			jobIDs[i], jobs[i] = job(ev)
			if ev.ExpiresAt != nil {
				exp := micros(*ev.ExpiresAt)
				expires[i] = &exp
			}
			data[i], created[i] = ev.Data, micros(ev.CreatedAt)
		}
		// A nil element (job id, job, expiry) is a NULL.
		_, err := tx.ExecContext(ctx, `INSERT INTO events (tenant_id, environment, id, type, job_id, job, final, test, sensitive, expires_at, data, created_at)
			SELECT $1::text, $2::text, * FROM unnest($3::text[], $4::text[], $5::text[], $6::bytea[], $7::boolean[], $8::boolean[], $9::boolean[],
				$10::bigint[], $11::bytea[], $12::bigint[])`,
			s.TenantID, s.Environment, ids, types, jobIDs, jobs, finals, tests, sensitive, expires, data, created)
		return err
	}
	tenant, env := any(s.TenantID), any(s.Environment)
	args := make([]any, 0, len(events)*12)
	for _, ev := range events {
		var jobID any
		id, doc := job(ev)
		if id != nil {
			jobID = *id
		}
		args = append(args, ev.ID, tenant, env, ev.Type, jobID, nullJSON(doc), ev.Final, ev.Test, ev.Sensitive,
			optionalMicros(ev.ExpiresAt), []byte(ev.Data), micros(ev.CreatedAt))
	}
	return db.insertRows(ctx, tx, `INSERT INTO events (id, tenant_id, environment, type, job_id, job, final, test, sensitive, expires_at, data, created_at) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, "", 12, args)
}

// target is one delivery to make: an event to an endpoint, maybe at a
// job's URL, due now or held (due nil).
type target struct {
	ev              *domain.Event
	endpointID, url string
	due             any
}

// insertDeliveries stores the deliveries of every event of the batch.
func (db *DB) insertDeliveries(ctx context.Context, tx *sql.Tx, s domain.Scope, targets []target) error {
	if len(targets) == 0 {
		return nil
	}
	if db.dialect.ArrayParams {
		n := len(targets)
		ids, eventIDs, types, endpoints, urls := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tests, created := make([]bool, n), make([]int64, n)
		// A nil element is a NULL: a held test send is due never.
		due := make([]*int64, n)
		for i, t := range targets {
			ids[i] = domain.NewIDAt(domain.PrefixDelivery, t.ev.CreatedAt)
			eventIDs[i], types[i], endpoints[i], urls[i] = t.ev.ID, t.ev.Type, t.endpointID, t.url
			tests[i], created[i] = t.ev.Test, micros(t.ev.CreatedAt)
			if t.due != nil {
				due[i] = &created[i]
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (tenant_id, environment, status, id, event_id, event_type, endpoint_id, target_url, test,
			next_attempt_at, created_at, updated_at)
			SELECT $1::text, $2::text, 'pending', *, created_at FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[],
				$9::bigint[], $10::bigint[]) AS t(id, event_id, event_type, endpoint_id, target_url, test, next_attempt_at, created_at)`,
			s.TenantID, s.Environment, ids, eventIDs, types, endpoints, urls, tests, due, created)
		return err
	}
	// Values shared by many rows are boxed once: an event's deliveries are
	// next to each other in targets.
	tenant, env := any(s.TenantID), any(s.Environment)
	var ev *domain.Event
	var eventID, eventType, now any
	args := make([]any, 0, len(targets)*11)
	for _, t := range targets {
		if t.ev != ev {
			ev = t.ev
			eventID, eventType, now = ev.ID, ev.Type, micros(ev.CreatedAt)
		}
		args = append(args, domain.NewIDAt(domain.PrefixDelivery, ev.CreatedAt), tenant, env, eventID, eventType,
			t.endpointID, t.url, ev.Test, t.due, now, now)
	}
	return db.insertRows(ctx, tx, `INSERT INTO deliveries (id, tenant_id, environment, event_id, event_type, endpoint_id, target_url, test,
		status, next_attempt_at, created_at, updated_at) VALUES `, `(?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`, "", 11, args)
}

// rowsPerStatement are the sizes, largest first, of SQLite's multi-row
// statements. A batch goes in statements of these sizes only (600 rows:
// 9 × 64, 3 × 8), so their SQL repeats and each shape is prepared once per
// transaction. Larger statements measured no faster (256 and 32 rows: the
// same events/s and CPU within the noise) and cost more to prepare; 64 rows
// of 12 columns stay far under SQLite's limit of 32,766 parameters.
var rowsPerStatement = [...]int{64, 8, 1}

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
func (db *DB) insertRows(ctx context.Context, tx *sql.Tx, head, row, tail string, width int, args []any) error {
	for len(args) > 0 {
		n := statementRows(len(args)/width, false)
		if _, err := db.execStmt(ctx, tx, head+strings.Repeat(row+", ", n-1)+row+tail, args[:n*width]...); err != nil {
			return err
		}
		args = args[n*width:]
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
