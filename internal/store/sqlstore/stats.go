package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// The portal's read queries (store.StatsReader). Each one reads a recent
// window only, through an id range: ids sort by creation time, so the
// primary key and the (tenant_id, environment, id) indexes serve "since t"
// without any index of their own, and the delivery hot path pays nothing
// for them.

// failingDelivery is a delivery the receiver is not taking: given up on,
// or waiting for a retry after a failed attempt.
const failingDelivery = `(status = 'failed' OR (status = 'pending' AND attempts > 0))`

func (db *DB) DeliveryCounts(ctx context.Context, s domain.Scope, since time.Time, bucket time.Duration, n int) ([]store.DeliveryCount, error) {
	width := bucket.Microseconds()
	if width <= 0 || n <= 0 {
		return nil, nil
	}
	until := since.Add(time.Duration(n) * bucket)
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT (created_at - ?) / ?, endpoint_id,
			sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END),
			sum(CASE WHEN `+failingDelivery+` THEN 1 ELSE 0 END),
			sum(CASE WHEN status = 'pending' AND attempts = 0 THEN 1 ELSE 0 END),
			sum(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END)
		FROM deliveries
		WHERE tenant_id = ? AND environment = ? AND id >= ? AND created_at >= ? AND created_at < ?
		GROUP BY 1, 2 ORDER BY 1, 2`),
		micros(since), width, s.TenantID, s.Environment, domain.IDFloor(domain.PrefixDelivery, since), micros(since), micros(until))
	if err != nil {
		return nil, db.wrap("delivery counts", err)
	}
	defer rows.Close()
	var out []store.DeliveryCount
	for rows.Next() {
		var c store.DeliveryCount
		if err := rows.Scan(&c.Bucket, &c.EndpointID, &c.Succeeded, &c.Failed, &c.Waiting, &c.Cancelled); err != nil {
			return nil, db.wrap("delivery counts", err)
		}
		out = append(out, c)
	}
	return out, db.wrap("delivery counts", rows.Err())
}

// healthWindow is how far back the failing endpoints are looked for.
const healthWindow = 24 * time.Hour

// maxHealthRows bounds the endpoint lists of the health page.
const maxHealthRows = 100

func (db *DB) Health(ctx context.Context, now time.Time, minutes int) (*store.Health, error) {
	h := &store.Health{}
	if minutes > 0 {
		since := now.Truncate(time.Minute).Add(-time.Duration(minutes-1) * time.Minute)
		h.Minutes = make([]store.MinuteCount, minutes)
		for i := range h.Minutes {
			h.Minutes[i].Start = since.Add(time.Duration(i) * time.Minute)
		}
		rows, err := db.read.QueryContext(ctx, db.q(`SELECT (at - ?) / ?, count(*), sum(CASE WHEN error_class <> '' THEN 1 ELSE 0 END)
			FROM attempts WHERE id >= ? AND at >= ? GROUP BY 1`),
			micros(since), time.Minute.Microseconds(), domain.IDFloor(domain.PrefixAttempt, since), micros(since))
		if err != nil {
			return nil, db.wrap("health: attempts", err)
		}
		for rows.Next() {
			var b int
			var c store.MinuteCount
			if err := rows.Scan(&b, &c.Attempts, &c.Failed); err != nil {
				rows.Close()
				return nil, db.wrap("health: attempts", err)
			}
			if b >= 0 && b < minutes {
				h.Minutes[b].Attempts, h.Minutes[b].Failed = c.Attempts, c.Failed
			}
		}
		if err := rows.Close(); err != nil {
			return nil, db.wrap("health: attempts", err)
		}
	}

	// The queue's own partial index holds exactly the pending rows.
	var pending, due sql.NullInt64
	var oldest, oldestDue sql.NullInt64
	if err := db.read.QueryRowContext(ctx, db.q(`SELECT count(*), sum(CASE WHEN next_attempt_at <= ? THEN 1 ELSE 0 END),
			min(created_at), min(CASE WHEN next_attempt_at <= ? THEN created_at END)
		FROM deliveries WHERE status = 'pending'`), micros(now), micros(now)).Scan(&pending, &due, &oldest, &oldestDue); err != nil {
		return nil, db.wrap("health: backlog", err)
	}
	h.Pending, h.Due = int(pending.Int64), int(due.Int64)
	h.OldestPending, h.OldestDue = nullMicros(oldest), nullMicros(oldestDue)

	rows, err := db.read.QueryContext(ctx, db.q(`SELECT endpoint_id,
			sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END),
			sum(CASE WHEN `+failingDelivery+` THEN 1 ELSE 0 END),
			max(last_error)
		FROM deliveries WHERE id >= ?
		GROUP BY endpoint_id
		HAVING sum(CASE WHEN `+failingDelivery+` THEN 1 ELSE 0 END) > 0
		ORDER BY 3 DESC, 1 LIMIT ?`), domain.IDFloor(domain.PrefixDelivery, now.Add(-healthWindow)), maxHealthRows)
	if err != nil {
		return nil, db.wrap("health: failing endpoints", err)
	}
	var failing []store.EndpointHealth
	for rows.Next() {
		var e store.EndpointHealth
		var lastErr sql.NullString
		if err := rows.Scan(&e.ID, &e.Succeeded, &e.Failed, &lastErr); err != nil {
			rows.Close()
			return nil, db.wrap("health: failing endpoints", err)
		}
		e.LastError = lastErr.String
		failing = append(failing, e)
	}
	if err := rows.Close(); err != nil {
		return nil, db.wrap("health: failing endpoints", err)
	}
	if len(failing) > 0 {
		ids := make([]any, len(failing))
		for i := range failing {
			ids[i] = failing[i].ID
		}
		list, err := db.endpointSummaries(ctx, `id IN (`+placeholders(len(ids))+`)`, ids...)
		if err != nil {
			return nil, err
		}
		known := make(map[string]store.EndpointHealth, len(list))
		for _, e := range list {
			known[e.ID] = e
		}
		for _, f := range failing {
			e, ok := known[f.ID]
			if !ok {
				continue // deleted since
			}
			e.Succeeded, e.Failed, e.LastError = f.Succeeded, f.Failed, f.LastError
			h.Failing = append(h.Failing, e)
		}
	}

	if h.Disabled, err = db.endpointSummaries(ctx, `status = ?`, domain.EndpointDisabled); err != nil {
		return nil, err
	}
	if h.Open, err = db.endpointSummaries(ctx, `h.circuit <> 'closed'`); err != nil {
		return nil, err
	}
	// Open circuits and disabled endpoints show the same 24-hour counts as
	// the failing list, where they are among its endpoints.
	counts := make(map[string]*store.EndpointHealth, len(failing))
	for i := range failing {
		counts[failing[i].ID] = &failing[i]
	}
	for _, list := range [][]store.EndpointHealth{h.Open, h.Disabled} {
		for i := range list {
			if f := counts[list[i].ID]; f != nil {
				list[i].Succeeded, list[i].Failed = f.Succeeded, f.Failed
			}
		}
	}
	return h, nil
}

// endpointSummaries reads the columns the health page shows, without the
// endpoints' secrets.
func (db *DB) endpointSummaries(ctx context.Context, where string, args ...any) ([]store.EndpointHealth, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id, tenant_id, environment, name, url, status, disabled_reason,
		COALESCE(h.circuit, 'closed'), COALESCE(h.last_error, '')
		FROM endpoints LEFT JOIN endpoint_health h ON h.endpoint_id = endpoints.id
		WHERE `+where+` ORDER BY id LIMIT `+strconv.Itoa(maxHealthRows)), args...)
	if err != nil {
		return nil, db.wrap("health: endpoints", err)
	}
	defer rows.Close()
	var out []store.EndpointHealth
	for rows.Next() {
		var e store.EndpointHealth
		if err := rows.Scan(&e.ID, &e.TenantID, &e.Environment, &e.Name, &e.URL, &e.Status, &e.DisabledReason,
			&e.Circuit, &e.LastError); err != nil {
			return nil, db.wrap("health: endpoints", err)
		}
		out = append(out, e)
	}
	return out, db.wrap("health: endpoints", rows.Err())
}
