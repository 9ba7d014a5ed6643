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
	"sync"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// subscriber is the part of an endpoint that publish needs.
type subscriber struct {
	id              string
	filter          []string
	defaultCallback bool
	ordering        string
	// handoff: its new deliveries may be handed to a dispatcher at publish
	// (active, no rate limit, circuit closed); concurrency and updatedAt
	// are what the dispatcher is told of it, as a claim tells it.
	handoff     bool
	concurrency int
	updatedAt   int64
}

func (db *DB) Publish(ctx context.Context, s domain.Scope, pubs []store.Publication) ([]store.PublishResult, error) {
	var results []store.PublishResult
	hd := db.beginHanding()
	err := db.write(ctx, func(tx *sql.Tx) error {
		hd.reset()
		var err error
		results, err = db.publish(ctx, tx, s, pubs, hd)
		return err
	})
	hd.finish(err)
	if err != nil {
		return nil, db.wrap("publish", err)
	}
	return results, nil
}

// SharedPublish is one caller's publications in a commit shared with other
// callers' (see PublishShared); Results are set when it succeeds.
type SharedPublish struct {
	Scope   domain.Scope
	Pubs    []store.Publication
	Results []store.PublishResult
}

// PublishShared stores several callers' publications in one transaction,
// one commit for all of them: a store whose every commit waits for a disk
// flush gathers concurrent publishes into it. The publications of a scope
// are stored as one batch, in the callers' order, so a later one with an
// earlier one's idempotency key replays it (or conflicts with it) as if
// published just after it. An error fails them all and is wrapped as
// Publish wraps it; the caller may then publish each alone to learn whose
// it was.
func (db *DB) PublishShared(ctx context.Context, calls []*SharedPublish) error {
	hd := db.beginHanding()
	err := db.write(ctx, func(tx *sql.Tx) error {
		hd.reset()
		done := make([]bool, len(calls))
		for i, c := range calls {
			if done[i] {
				continue
			}
			// The rest of this scope's calls join this one's batch.
			group := []*SharedPublish{c}
			for j := i + 1; j < len(calls); j++ {
				if !done[j] && calls[j].Scope == c.Scope {
					group, done[j] = append(group, calls[j]), true
				}
			}
			pubs := c.Pubs
			if len(group) > 1 {
				pubs = nil
				for _, g := range group {
					pubs = append(pubs, g.Pubs...)
				}
			}
			results, err := db.publish(ctx, tx, c.Scope, pubs, hd)
			if err != nil {
				return err
			}
			for _, g := range group {
				g.Results, results = results[:len(g.Pubs):len(g.Pubs)], results[len(g.Pubs):]
			}
		}
		return nil
	})
	hd.finish(err)
	return db.wrap("publish", err)
}

// publish stores a batch in a few statements per table, whatever its size:
// the batch's idempotency keys are looked up together, then its jobs are
// upserted (a statement for each event of the job with the most events in
// the batch: see upsertJobs), then its keys, events and deliveries are
// inserted together.
func (db *DB) publish(ctx context.Context, tx *sql.Tx, s domain.Scope, pubs []store.Publication, hd *handing) ([]store.PublishResult, error) {
	subs, err := db.subscribers(ctx, tx, s, hd != nil)
	if err != nil {
		return nil, fmt.Errorf("read endpoints: %w", err)
	}
	used, err := db.usedKeys(ctx, tx, s, pubs)
	if err != nil {
		return nil, fmt.Errorf("look up idempotency keys: %w", err)
	}
	results := make([]store.PublishResult, len(pubs))
	// First which publications are new: a key stored, or used by an
	// earlier publication of the batch, replays that one (or conflicts
	// with it) as if published just after it.
	var events []*domain.Event
	var replays map[int]int // publication → the earlier one of the batch it replays
	var firstOfKey map[string]int
	for i := range pubs {
		p := &pubs[i]
		if p.IdempotencyKey != "" {
			hash, ok := []byte(nil), false
			if k, stored := used[p.IdempotencyKey]; stored {
				hash, ok = k.RequestHash, true
				results[i] = store.PublishResult{EventID: k.EventID, Deliveries: k.Deliveries, Replayed: true}
			} else if j, earlier := firstOfKey[p.IdempotencyKey]; earlier {
				hash, ok = pubs[j].RequestHash, true
				replays[i] = j
			}
			if ok {
				if !bytes.Equal(hash, p.RequestHash) {
					return nil, &domain.ConflictError{Msg: "idempotency key " + p.IdempotencyKey + " was already used with a different request body"}
				}
				continue
			}
			if firstOfKey == nil {
				firstOfKey, replays = make(map[string]int), make(map[int]int)
			}
			firstOfKey[p.IdempotencyKey] = i
		}
		events = append(events, &p.Event)
	}
	// The jobs before the deliveries: a job's callback URL, stored or
	// given, is where its default callback's delivery goes.
	if err := db.upsertJobs(ctx, tx, s, events); err != nil {
		return nil, err
	}
	var keys []KeyRow
	// An event goes to each subscriber at most once: room for all of them
	// at once spares the slice growing, which allocates and copies about
	// five times the rows' size. Filters may leave much of it unused, so
	// past maxPresized rows it grows as it fills.
	deliveries := make([]DeliveryRow, 0, min(len(events)*len(subs), maxPresized))
	for i := range pubs {
		p := &pubs[i]
		if results[i].Replayed {
			continue
		}
		if j, ok := replays[i]; ok {
			results[i] = store.PublishResult{EventID: results[j].EventID, Deliveries: results[j].Deliveries, Replayed: true}
			continue
		}
		ev := &p.Event
		matched := fanOut(p, subs, &deliveries)
		results[i] = store.PublishResult{EventID: ev.ID, Deliveries: matched}
		if p.IdempotencyKey != "" {
			keys = append(keys, KeyRow{Key: p.IdempotencyKey, RequestHash: p.RequestHash, EventID: ev.ID, Deliveries: matched, CreatedAt: micros(ev.CreatedAt)})
		}
	}
	handed, err := db.handOver(ctx, tx, hd, subs, deliveries)
	if err != nil {
		return nil, fmt.Errorf("hand deliveries over: %w", err)
	}
	if handed != nil {
		for i := range results {
			if !results[i].Replayed {
				results[i].HandedOff = handed[results[i].EventID]
			}
		}
	}
	if err := db.insertKeys(ctx, tx, s, keys); err != nil {
		return nil, fmt.Errorf("insert idempotency keys: %w", err)
	}
	rows, err := db.insertEvents(ctx, tx, s, events)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	if err := hd.keepEvents(s, rows); err != nil {
		return nil, fmt.Errorf("hand deliveries over: %w", err)
	}
	if len(deliveries) > 0 {
		keepJobOrder(deliveries)
		if err := db.dialect.Batcher.InsertDeliveries(ctx, tx, s, deliveries); err != nil {
			return nil, fmt.Errorf("insert deliveries: %w", err)
		}
		if err := db.holdBehindJobs(ctx, tx, deliveries); err != nil {
			return nil, fmt.Errorf("hold ordered deliveries: %w", err)
		}
	}
	// Deliveries handed over are nobody else's to claim: no process
	// needs waking for them.
	for _, d := range deliveries {
		if !d.Held && d.LeaseOwner == "" {
			if err := db.notifyDue(ctx, tx); err != nil {
				return nil, fmt.Errorf("notify: %w", err)
			}
			break
		}
	}
	return results, nil
}

// maxPresized bounds the deliveries publish makes room for up front
// (1.5 MB of rows).
const maxPresized = 1 << 14

// subscribers reads the endpoints that take new deliveries: paused ones do
// (held until resumed), disabled ones do not.
//
// With handoff set it also says which may take deliveries at publish, and
// on PostgreSQL takes the handoff lock first (Dialect.HandoffLock).
func (db *DB) subscribers(ctx context.Context, tx *sql.Tx, s domain.Scope, handoff bool) ([]subscriber, error) {
	lock := ""
	if handoff {
		lock = db.dialect.HandoffLock
	}
	rows, err := db.queryStmt(ctx, tx, `SELECT e.id, e.event_types, e.default_callback, e.ordering,
		e.status = 'active' AND COALESCE(e.rate_limit, 0) = 0 AND (h.circuit IS NULL OR h.circuit = 'closed'),
		e.max_concurrency, e.updated_at
		FROM endpoints e LEFT JOIN endpoint_health h ON h.endpoint_id = e.id
		WHERE e.tenant_id = ? AND e.environment = ? AND e.status <> 'disabled'`+lock, s.TenantID, s.Environment)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var subs []subscriber
	for rows.Next() {
		var sub subscriber
		var types sql.RawBytes
		var concurrency sql.NullInt64
		if err := rows.Scan(&sub.id, &types, &sub.defaultCallback, &sub.ordering, &sub.handoff, &concurrency, &sub.updatedAt); err != nil {
			return nil, err
		}
		sub.concurrency = max(1, int(concurrency.Int64))
		if sub.filter, err = db.filters.parse(types); err != nil {
			return nil, err
		}
		subs = append(subs, sub)
	}
	return subs, rows.Err()
}

// filterCache keeps endpoints' event type filters decoded, by their JSON:
// every publish reads its scope's subscribers, and decoding the same few
// filters again was a tenth of a single publish's store work. The decoded
// filters are shared and only read.
type filterCache struct {
	mu sync.Mutex
	m  map[string][]string
}

// maxFilters bounds the cache; past it, it starts again empty.
const maxFilters = 4096

func (c *filterCache) parse(raw []byte) ([]string, error) {
	c.mu.Lock()
	f, ok := c.m[string(raw)]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxFilters {
		c.m = make(map[string][]string)
	}
	c.m[string(raw)] = f
	c.mu.Unlock()
	return f, nil
}

// fanOut adds an event's deliveries to deliveries and returns how many.
func fanOut(p *store.Publication, subs []subscriber, deliveries *[]DeliveryRow) int {
	ev := &p.Event
	created := micros(ev.CreatedAt)
	matched := 0
	for _, sub := range subs {
		if p.OnlyEndpoint != "" && sub.id != p.OnlyEndpoint || !ev.Test && !domain.MatchesFilter(sub.filter, ev.Type) {
			continue
		}
		d := DeliveryRow{
			ID: domain.NewIDAt(domain.PrefixDelivery, ev.CreatedAt), EventID: ev.ID, EventType: ev.Type, EndpointID: sub.id,
			Test: ev.Test, CreatedAt: created,
			// A test send's delivery is held for the request that
			// sends it at once; the dispatcher leaves it alone.
			Held:       p.OnlyEndpoint != "",
			OrderedJob: domain.OrderedJob(sub.ordering, ev),
		}
		// A job with its own callback URL takes the default callback's
		// delivery: same secret and settings, the job's URL.
		if sub.defaultCallback && ev.Job != nil && ev.Job.CallbackURL != "" {
			d.TargetURL = ev.Job.CallbackURL
		}
		*deliveries = append(*deliveries, d)
		matched++
	}
	return matched
}

// insertEvents stores the batch's new events, their jobs as the upserts
// left them.
func (db *DB) insertEvents(ctx context.Context, tx *sql.Tx, s domain.Scope, events []*domain.Event) ([]EventRow, error) {
	if len(events) == 0 {
		return nil, nil
	}
	rows := make([]EventRow, len(events))
	for i, ev := range events {
		r := &rows[i]
		*r = EventRow{
			ID: ev.ID, Type: ev.Type, Final: ev.Final, Test: ev.Test, Sensitive: ev.Sensitive,
			Data: ev.Data, CreatedAt: micros(ev.CreatedAt), TraceParent: ev.TraceParent,
		}
		// A test event carries its job to its body only: the job record
		// was not upserted, and the job's events do not list it.
		if ev.Job != nil {
			r.Job = ev.Job.AppendJSON(nil, true)
			if !ev.Test {
				r.JobID = &ev.Job.ID
			}
		}
		if ev.ExpiresAt != nil {
			exp := micros(*ev.ExpiresAt)
			r.ExpiresAt = &exp
		}
	}
	return rows, db.dialect.Batcher.InsertEvents(ctx, tx, s, rows)
}

// usedKeys reads the stored keys among those of pubs, by key.
func (db *DB) usedKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, pubs []store.Publication) (map[string]KeyRow, error) {
	used := make(map[string]KeyRow)
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
	found, err := db.dialect.Batcher.UsedKeys(ctx, tx, s, keys)
	if err != nil {
		return nil, err
	}
	for _, k := range found {
		used[k.Key] = k
	}
	return used, nil
}

// insertKeys stores the batch's new idempotency keys. On PostgreSQL a
// concurrent publish with one of them makes this fail on
// idempotency_keys_pkey once that publish commits, and the store runs the
// transaction again, which then replays it. The keys go in sorted, so two
// batches that share several keys lock them in the same order and wait for
// each other rather than deadlock.
func (db *DB) insertKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, keys []KeyRow) error {
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b KeyRow) int { return strings.Compare(a.Key, b.Key) })
	return db.dialect.Batcher.InsertKeys(ctx, tx, s, keys)
}

const eventColumns = `id, tenant_id, environment, type, job, final, test, sensitive, expires_at, data, created_at, traceparent, erased_at`

func scanEvent(r row) (domain.Event, error) {
	var s domain.Scope
	var ev EventRow
	var expires, erased sql.NullInt64
	if err := r.Scan(&ev.ID, &s.TenantID, &s.Environment, &ev.Type, &ev.Job, &ev.Final, &ev.Test, &ev.Sensitive, &expires, &ev.Data,
		&ev.CreatedAt, &ev.TraceParent, &erased); err != nil {
		return domain.Event{}, err
	}
	if expires.Valid {
		ev.ExpiresAt = &expires.Int64
	}
	e, err := ev.event(s)
	e.ErasedAt = nullMicros(erased)
	return e, err
}

// event is the event the row holds, in scope s: as it is read back, and
// as a delivery handed over at publish carries it.
func (r *EventRow) event(s domain.Scope) (domain.Event, error) {
	e := domain.Event{
		ID: r.ID, TenantID: s.TenantID, Environment: s.Environment, Type: r.Type, Final: r.Final, Test: r.Test,
		Sensitive: r.Sensitive, Data: r.Data, CreatedAt: fromMicros(r.CreatedAt), TraceParent: r.TraceParent,
	}
	if r.ExpiresAt != nil {
		t := fromMicros(*r.ExpiresAt)
		e.ExpiresAt = &t
	}
	if len(r.Job) > 0 {
		e.Job = new(domain.Job)
		if err := json.Unmarshal(r.Job, e.Job); err != nil {
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
