package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

const operatorTokenKey = "operator_token_sha256"

func (db *DB) OperatorTokenHash(ctx context.Context) ([]byte, error) {
	var v []byte
	err := db.read.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE key = ?`), operatorTokenKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return v, db.wrap("read operator token", err)
}

func (db *DB) SetOperatorTokenHash(ctx context.Context, hash []byte) error {
	return db.wrap("store operator token", db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`), operatorTokenKey, hash)
		return err
	}))
}

func (db *DB) CreateTenant(ctx context.Context, t *domain.Tenant) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO tenants (id, name, rate_limit_per_minute, rate_limit_burst, created_at)
			VALUES (?, ?, ?, ?, ?)`), t.ID, t.Name, t.RateLimitPerMinute, t.RateLimitBurst, micros(t.CreatedAt))
		if err != nil && db.dialect.IsUniqueViolation(err) {
			return &domain.ConflictError{Msg: "tenant " + t.ID + " already exists"}
		}
		if err != nil {
			return err
		}
		return db.audit(ctx, tx)
	})
	return db.wrap("create tenant", err)
}

const tenantColumns = `id, name, rate_limit_per_minute, rate_limit_burst, created_at`

func scanTenant(r row) (domain.Tenant, error) {
	var t domain.Tenant
	var created int64
	err := r.Scan(&t.ID, &t.Name, &t.RateLimitPerMinute, &t.RateLimitBurst, &created)
	t.CreatedAt = fromMicros(created)
	return t, err
}

func (db *DB) GetTenant(ctx context.Context, id string) (*domain.Tenant, error) {
	t, err := scanTenant(db.read.QueryRowContext(ctx, db.q(`SELECT `+tenantColumns+` FROM tenants WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("tenant", id)
	}
	if err != nil {
		return nil, db.wrap("get tenant", err)
	}
	return &t, nil
}

func (db *DB) UpdateTenant(ctx context.Context, t *domain.Tenant) error {
	return db.wrap("update tenant", db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE tenants SET name = ?, rate_limit_per_minute = ?, rate_limit_burst = ? WHERE id = ?`),
			t.Name, t.RateLimitPerMinute, t.RateLimitBurst, t.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("tenant", t.ID)
		}
		return db.audit(ctx, tx)
	}))
}

func (db *DB) ListTenants(ctx context.Context, p store.Page) ([]domain.Tenant, error) {
	p = p.Clamp()
	return collect(ctx, db, "list tenants", scanTenant, `SELECT `+tenantColumns+` FROM tenants WHERE id > ? ORDER BY id LIMIT ?`, p.Cursor, p.Limit)
}

func (db *DB) PutEventType(ctx context.Context, t *domain.EventType) (bool, error) {
	var created bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		created = false // a write may be run again (PostgreSQL retries)
		var existing int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT created_at FROM event_types WHERE name = ?`), t.Name).Scan(&existing)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			_, err = tx.ExecContext(ctx, db.q(`INSERT INTO event_types (name, description, schema, example, sensitive, ttl_seconds, created_at, updated_at,
				retry_policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), t.Name, t.Description, nullJSON(t.Schema), nullJSON(t.Example), t.Sensitive, t.TTLSeconds,
				micros(t.UpdatedAt), micros(t.UpdatedAt), typeRetryPolicy(t))
			t.CreatedAt = t.UpdatedAt
			if err != nil {
				return err
			}
			return db.audit(ctx, tx)
		case err != nil:
			return err
		}
		t.CreatedAt = fromMicros(existing)
		_, err = tx.ExecContext(ctx, db.q(`UPDATE event_types SET description = ?, schema = ?, example = ?, sensitive = ?, ttl_seconds = ?, updated_at = ?,
			retry_policy = ? WHERE name = ?`), t.Description, nullJSON(t.Schema), nullJSON(t.Example), t.Sensitive, t.TTLSeconds, micros(t.UpdatedAt),
			typeRetryPolicy(t), t.Name)
		if err != nil {
			return err
		}
		return db.audit(ctx, tx)
	})
	return created, db.wrap("put event type", err)
}

const eventTypeColumns = `name, description, schema, example, sensitive, ttl_seconds, created_at, updated_at, retry_policy`

func scanEventType(r row) (domain.EventType, error) {
	var t domain.EventType
	var created, updated int64
	var schema, example, policy []byte
	err := r.Scan(&t.Name, &t.Description, &schema, &example, &t.Sensitive, &t.TTLSeconds, &created, &updated, &policy)
	if err != nil {
		return t, err
	}
	t.Schema, t.Example = schema, example
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	if len(policy) > 0 {
		t.RetryPolicy = new(domain.RetryPolicy)
		if err := json.Unmarshal(policy, t.RetryPolicy); err != nil {
			return t, fmt.Errorf("event type %s retry policy: %w", t.Name, err)
		}
		if err := t.RetryPolicy.Normalize(); err != nil {
			return t, fmt.Errorf("event type %s retry policy: %w", t.Name, err)
		}
	}
	return t, nil
}

// typeRetryPolicy is the retry_policy column of an event type: NULL when it
// has none.
func typeRetryPolicy(t *domain.EventType) any {
	if t.RetryPolicy == nil {
		return nil
	}
	return marshal(t.RetryPolicy)
}

func (db *DB) GetEventType(ctx context.Context, name string) (*domain.EventType, error) {
	t, err := scanEventType(db.read.QueryRowContext(ctx, db.q(`SELECT `+eventTypeColumns+` FROM event_types WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("event type", name)
	}
	if err != nil {
		return nil, db.wrap("get event type", err)
	}
	return &t, nil
}

func (db *DB) ListEventTypes(ctx context.Context) ([]domain.EventType, error) {
	return collect(ctx, db, "list event types", scanEventType, `SELECT `+eventTypeColumns+` FROM event_types ORDER BY name`)
}
