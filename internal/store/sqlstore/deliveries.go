package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

const deliveryColumns = `id, tenant_id, environment, event_id, event_type, endpoint_id, target_url, test, status, attempts,
	next_attempt_at, last_status, last_error, created_at, updated_at, ordered_job, follows_failed, erased_at`

func scanDelivery(r row) (domain.Delivery, error) {
	var d domain.Delivery
	var next, erased sql.NullInt64
	var created, updated int64
	var job, follows sql.NullString
	err := r.Scan(&d.ID, &d.TenantID, &d.Environment, &d.EventID, &d.EventType, &d.EndpointID, &d.TargetURL, &d.Test, &d.Status, &d.Attempts,
		&next, &d.LastStatus, &d.LastError, &created, &updated, &job, &follows, &erased)
	d.OrderedJob, d.FollowsFailed = job.String, follows.String
	d.ErasedAt = nullMicros(erased)
	if d.Status == domain.DeliveryPending {
		d.NextAttemptAt = nullMicros(next)
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return d, err
}

func (db *DB) ListDeliveries(ctx context.Context, s domain.Scope, f store.DeliveryFilter) ([]domain.Delivery, error) {
	f.Page = f.Page.Clamp()
	where, args := deliveryWhere(s, f)
	args = append(args, f.Limit)
	return collect(ctx, db, "list deliveries", scanDelivery, `SELECT `+deliveryColumns+` FROM deliveries WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
}

// deliveryWhere is the condition selecting a filter's deliveries of the
// scope, and its arguments; the cursor continues newest first.
func deliveryWhere(s domain.Scope, f store.DeliveryFilter) (string, []any) {
	var where strings.Builder
	where.WriteString(`tenant_id = ? AND environment = ?`)
	args := []any{s.TenantID, s.Environment}
	add := func(cond string, v any) {
		where.WriteString(" AND " + cond)
		args = append(args, v)
	}
	if f.Cursor != "" {
		add("id < ?", f.Cursor)
	}
	if f.EventID != "" {
		add("event_id = ?", f.EventID)
	}
	if len(f.EventIDs) > 0 {
		where.WriteString(" AND event_id IN (" + placeholders(len(f.EventIDs)) + ")")
		for _, id := range f.EventIDs {
			args = append(args, id)
		}
	}
	if f.EndpointID != "" {
		add("endpoint_id = ?", f.EndpointID)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.EventType != "" {
		add("event_type = ?", f.EventType)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", micros(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < ?", micros(f.Until))
	}
	return where.String(), args
}

func (db *DB) RetryDeliveries(ctx context.Context, s domain.Scope, f store.DeliveryFilter, now time.Time) (int, error) {
	// The caller bounds the limit: it may exceed a page.
	if f.Limit <= 0 {
		f.Limit = store.DefaultPageSize
	}
	where, args := deliveryWhere(s, f)
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		// As RetryDelivery, for each: one in flight is left to finish, one
		// whose endpoint was deleted has nowhere to go, and a manual retry
		// signs afresh. The oldest go first, so calling again with the same
		// filter (status failed) takes the next ones.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?,
			signed_at = NULL WHERE id IN (SELECT id FROM deliveries WHERE `+where+`
			AND (status <> 'pending' OR lease_owner IS NULL)
			AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id) ORDER BY id LIMIT ?)`),
			append(append([]any{micros(now), micros(now)}, args...), f.Limit)...)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return db.notifyDue(ctx, tx)
	})
	return int(n), db.wrap("retry deliveries", err)
}

func (db *DB) GetDelivery(ctx context.Context, s domain.Scope, id string) (*domain.Delivery, error) {
	d, err := scanDelivery(db.read.QueryRowContext(ctx, db.q(`SELECT `+deliveryColumns+` FROM deliveries
		WHERE tenant_id = ? AND environment = ? AND id = ?`), s.TenantID, s.Environment, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("delivery", id)
	}
	if err != nil {
		return nil, db.wrap("get delivery", err)
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id, delivery_id, number, at, duration_ms, request_headers,
		response_status, response_headers, response_body, error_class, error, trace_id
		FROM attempts WHERE delivery_id = ? ORDER BY at, number`), id)
	if err != nil {
		return nil, db.wrap("get delivery attempts", err)
	}
	defer rows.Close()
	d.AttemptLog = []domain.Attempt{}
	for rows.Next() {
		var a domain.Attempt
		var at int64
		var reqH, respH, body []byte
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.Number, &at, &a.DurationMS, &reqH, &a.ResponseStatus, &respH, &body,
			&a.ErrorClass, &a.Error, &a.TraceID); err != nil {
			return nil, db.wrap("get delivery attempts", err)
		}
		a.At = fromMicros(at)
		a.ResponseBody = string(body)
		if len(reqH) > 0 {
			if err := json.Unmarshal(reqH, &a.RequestHeaders); err != nil {
				return nil, db.wrap("get delivery attempts", err)
			}
		}
		if len(respH) > 0 {
			if err := json.Unmarshal(respH, &a.ResponseHeaders); err != nil {
				return nil, db.wrap("get delivery attempts", err)
			}
		}
		d.AttemptLog = append(d.AttemptLog, a)
	}
	return &d, db.wrap("get delivery attempts", rows.Err())
}

func (db *DB) RetryDelivery(ctx context.Context, s domain.Scope, id string, now time.Time) (*domain.Delivery, error) {
	err := db.write(ctx, func(tx *sql.Tx) error {
		// A delivery that is in flight right now is left alone: its attempt
		// is the retry. One whose endpoint was deleted has nowhere to go.
		// A manual retry signs afresh, even for identical retries.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?,
			signed_at = NULL WHERE tenant_id = ? AND environment = ? AND id = ? AND (status <> 'pending' OR lease_owner IS NULL)
			AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id)`),
			micros(now), micros(now), s.TenantID, s.Environment, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var hasEndpoint bool
			err := tx.QueryRowContext(ctx, db.q(`SELECT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = d.endpoint_id)
				FROM deliveries d WHERE d.tenant_id = ? AND d.environment = ? AND d.id = ?`),
				s.TenantID, s.Environment, id).Scan(&hasEndpoint)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("delivery", id)
			}
			if err == nil && !hasEndpoint {
				return &domain.ConflictError{Msg: "delivery " + id + " cannot be sent again: its endpoint was deleted"}
			}
			return err
		}
		return db.notifyDue(ctx, tx)
	})
	if err != nil {
		return nil, db.wrap("retry delivery", err)
	}
	return db.GetDelivery(ctx, s, id)
}
