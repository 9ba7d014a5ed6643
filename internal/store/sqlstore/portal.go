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

// Portal sessions (store.PortalSessions). kind is "tenant" or "operator";
// environments is a comma-separated list.

const (
	sessionTenant   = "tenant"
	sessionOperator = "operator"
	// sessionKeep is how long an expired session's row stays, so that a
	// late request sees "expired" rather than an unknown session in logs.
	sessionKeep = 24 * time.Hour
)

func (db *DB) CreatePortalSession(ctx context.Context, s *store.PortalSession, tokenHash, secretHash []byte) error {
	if (tokenHash == nil) == (secretHash == nil) {
		return errors.New("create portal session: exactly one of the token and the secret hash must be given")
	}
	kind := sessionTenant
	if s.Operator {
		kind = sessionOperator
	}
	envs := make([]string, len(s.Environments))
	for i, e := range s.Environments {
		envs[i] = string(e)
	}
	var redeemed any
	if secretHash != nil {
		redeemed = micros(s.CreatedAt)
	}
	return db.wrap("create portal session", db.write(ctx, func(tx *sql.Tx) error {
		// Sessions are few and short-lived: clearing the long-expired ones
		// here keeps the table small without a job of its own.
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM portal_sessions WHERE expires_at < ?`),
			micros(s.CreatedAt.Add(-sessionKeep))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO portal_sessions (id, kind, tenant_id, environment, environments,
			api_key_id, token_hash, secret_hash, created_at, expires_at, redeemed_at, return_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			s.ID, kind, s.TenantID, string(s.Environment), strings.Join(envs, ","), s.APIKeyID,
			nullBytes(tokenHash), nullBytes(secretHash), micros(s.CreatedAt), micros(s.ExpiresAt), redeemed, s.ReturnURL)
		if err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}

func (db *DB) RedeemPortalSession(ctx context.Context, tokenHash, secretHash []byte, now, expiresAt time.Time) (*store.PortalSession, error) {
	var out *store.PortalSession
	err := db.write(ctx, func(tx *sql.Tx) error {
		out = nil
		// One statement both checks and spends the token, so two browsers
		// racing with one link cannot both get a session.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE portal_sessions SET token_hash = NULL, secret_hash = ?, redeemed_at = ?, expires_at = ?
			WHERE token_hash = ? AND redeemed_at IS NULL AND ended_at IS NULL AND expires_at > ?`),
			secretHash, micros(now), micros(expiresAt), tokenHash, micros(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("portal sign-in link", "")
		}
		s, err := scanPortalSession(tx.QueryRowContext(ctx, db.q(`SELECT `+sessionColumns+` FROM portal_sessions s WHERE s.secret_hash = ?`), secretHash))
		if err != nil {
			return err
		}
		out = &s
		// Who signed in is known only now: the link's session.
		if e := store.AuditFrom(ctx); e != nil {
			e.TenantID, e.Environment, e.ActorID, e.ResourceID = s.TenantID, s.Environment, s.ID, s.ID
		}
		return db.audit(ctx, tx)
	})
	return out, db.wrap("redeem portal session", err)
}

func (db *DB) PortalSession(ctx context.Context, secretHash []byte, now time.Time) (*store.PortalSession, error) {
	s, err := scanPortalSession(db.read.QueryRowContext(ctx, db.q(`SELECT `+sessionColumns+` FROM portal_sessions s
		LEFT JOIN api_keys k ON k.id = s.api_key_id
		WHERE s.secret_hash = ? AND s.ended_at IS NULL AND s.expires_at > ?
		AND (s.api_key_id = '' OR (k.id IS NOT NULL AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)))`),
		secretHash, micros(now), micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("portal session", "")
	}
	if err != nil {
		return nil, db.wrap("find portal session", err)
	}
	return &s, nil
}

func (db *DB) EndPortalSession(ctx context.Context, id string, at time.Time) error {
	return db.wrap("end portal session", db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE portal_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL`), micros(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // ended already: nothing changed, nothing to record
		}
		return db.audit(ctx, tx)
	}))
}

// EndedPortalSession finds a session by its secret whether or not it is
// still live, for as long as its row is kept (a day past its expiry).
func (db *DB) EndedPortalSession(ctx context.Context, secretHash []byte) (*store.PortalSession, error) {
	s, err := scanPortalSession(db.read.QueryRowContext(ctx, db.q(`SELECT `+sessionColumns+` FROM portal_sessions s WHERE s.secret_hash = ?`), secretHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("portal session", "")
	}
	if err != nil {
		return nil, db.wrap("find ended portal session", err)
	}
	return &s, nil
}

const sessionColumns = `s.id, s.kind, s.tenant_id, s.environment, s.environments, s.api_key_id, s.created_at, s.expires_at, s.return_url`

func scanPortalSession(row interface{ Scan(...any) error }) (store.PortalSession, error) {
	var s store.PortalSession
	var kind, envs string
	var created, expires int64
	if err := row.Scan(&s.ID, &kind, &s.TenantID, &s.Environment, &envs, &s.APIKeyID, &created, &expires, &s.ReturnURL); err != nil {
		return s, err
	}
	s.Operator = kind == sessionOperator
	for _, e := range strings.Split(envs, ",") {
		if e != "" {
			s.Environments = append(s.Environments, domain.Environment(e))
		}
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return s, nil
}

// nullBytes stores an absent hash as NULL, which UNIQUE lets repeat.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
