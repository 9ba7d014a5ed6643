package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

const apiKeyColumns = `id, tenant_id, environment, prefix, created_at, last_used_at, expires_at, revoked_at`

func scanAPIKey(r row) (domain.APIKey, error) {
	var k domain.APIKey
	var created int64
	var used, expires, revoked sql.NullInt64
	err := r.Scan(&k.ID, &k.TenantID, &k.Environment, &k.Prefix, &created, &used, &expires, &revoked)
	k.CreatedAt = fromMicros(created)
	k.LastUsedAt, k.ExpiresAt, k.RevokedAt = nullMicros(used), nullMicros(expires), nullMicros(revoked)
	return k, err
}

func (db *DB) insertAPIKey(ctx context.Context, tx *sql.Tx, k *domain.APIKey, hash []byte) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO api_keys (id, tenant_id, environment, prefix, hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`), k.ID, k.TenantID, k.Environment, k.Prefix, hash, micros(k.CreatedAt))
	return err
}

func (db *DB) CreateAPIKey(ctx context.Context, k *domain.APIKey, hash []byte) error {
	return db.wrap("create api key", db.write(ctx, func(tx *sql.Tx) error {
		if err := db.insertAPIKey(ctx, tx, k, hash); err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}

func (db *DB) APIKeyByHash(ctx context.Context, hash []byte) (*domain.APIKey, error) {
	k, err := scanAPIKey(db.read.QueryRowContext(ctx, db.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("api key", "")
	}
	if err != nil {
		return nil, db.wrap("find api key", err)
	}
	return &k, nil
}

func (db *DB) ListAPIKeys(ctx context.Context, s domain.Scope) ([]domain.APIKey, error) {
	return collect(ctx, db, "list api keys", scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE tenant_id = ? AND environment = ? ORDER BY id`, s.TenantID, s.Environment)
}

// changeKey updates a usable key of the scope, or reports it missing.
func (db *DB) changeKey(ctx context.Context, tx *sql.Tx, s domain.Scope, id, set string, value, now time.Time) error {
	res, err := tx.ExecContext(ctx, db.q(`UPDATE api_keys SET `+set+` = ?
		WHERE tenant_id = ? AND environment = ? AND id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`),
		micros(value), s.TenantID, s.Environment, id, micros(now))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("api key", id)
	}
	return nil
}

func (db *DB) RotateAPIKey(ctx context.Context, s domain.Scope, oldID string, oldExpiresAt time.Time, next *domain.APIKey, nextHash []byte) error {
	return db.wrap("rotate api key", db.write(ctx, func(tx *sql.Tx) error {
		if err := db.changeKey(ctx, tx, s, oldID, "expires_at", oldExpiresAt, next.CreatedAt); err != nil {
			return err
		}
		if err := db.insertAPIKey(ctx, tx, next, nextHash); err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}

func (db *DB) RevokeAPIKey(ctx context.Context, s domain.Scope, id string, at time.Time) error {
	return db.wrap("revoke api key", db.write(ctx, func(tx *sql.Tx) error {
		if err := db.changeKey(ctx, tx, s, id, "revoked_at", at, at); err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}

func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return db.wrap("touch api key", db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`), micros(at), id)
		return err
	}))
}
