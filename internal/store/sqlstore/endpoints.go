package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

const endpointColumns = `id, tenant_id, environment, url, name, status, disabled_reason, event_types, headers,
	retry_policy, timeout_ms, max_concurrency, success, default_callback, payload_mode, signing, signing_public_key,
	secret, previous_secret, previous_secret_expires_at, credentials, success_false_fails, identical_retries,
	thin_partner_params, profile, profile_fields, transform, created_at, updated_at, ordering, rate_limit, response_body`

// credentials are an endpoint's secrets besides its signing secrets,
// stored as one sealed document.
type credentials struct {
	// Headers are the endpoint's custom headers: they often carry the
	// receiver's API key, so they are sealed with the rest. (The headers
	// column holds only what was written before they were.)
	Headers map[string]string    `json:"headers,omitempty"`
	Auth    *domain.EndpointAuth `json:"auth,omitempty"`
	TLS     *domain.EndpointTLS  `json:"tls,omitempty"`
	// Signatures carry their secrets (a text HMAC key, Smile's API key,
	// a body API key), so the whole list is sealed.
	Signatures []domain.Signature `json:"signatures,omitempty"`
	// CompatSignature is the older form, written before Signatures: it
	// is read into the list.
	CompatSignature   *domain.CompatSignature `json:"compat_signature,omitempty"`
	SigningPrivateKey string                  `json:"signing_private_key,omitempty"`
	// ProfileOptions may hold secrets (an API key, say), so they are
	// sealed whole.
	ProfileOptions map[string]json.RawMessage `json:"profile_options,omitempty"`
}

func (db *DB) scanEndpoint(r row) (domain.Endpoint, error) {
	var e domain.Endpoint
	var types, headers, policy []byte
	var created, updated int64
	var prevExpires sql.NullInt64
	var secret, previous, creds, profileFields string
	err := r.Scan(&e.ID, &e.TenantID, &e.Environment, &e.URL, &e.Name, &e.Status, &e.DisabledReason, &types, &headers,
		&policy, &e.TimeoutMS, &e.MaxConcurrency, &e.Success, &e.DefaultCallback, &e.PayloadMode, &e.Signing, &e.SigningPublicKey,
		&secret, &previous, &prevExpires, &creds, &e.SuccessFalseFails, &e.IdenticalRetries, &e.ThinPartnerParams,
		&e.Profile, &profileFields, &e.Transform, &created, &updated, &e.Ordering, &e.RateLimit, &e.ResponseBody)
	if err != nil {
		return e, err
	}
	if e.Secret, err = db.open(secret); err != nil {
		return e, fmt.Errorf("endpoint %s secret: %w", e.ID, err)
	}
	if e.PreviousSecret, err = db.open(previous); err != nil {
		return e, fmt.Errorf("endpoint %s previous secret: %w", e.ID, err)
	}
	if creds, err = db.open(creds); err != nil {
		return e, fmt.Errorf("endpoint %s credentials: %w", e.ID, err)
	}
	if creds != "" {
		var c credentials
		if err := json.Unmarshal([]byte(creds), &c); err != nil {
			return e, fmt.Errorf("endpoint %s credentials: %w", e.ID, err)
		}
		e.Auth, e.TLS, e.Signatures, e.SigningPrivateKey = c.Auth, c.TLS, c.Signatures, c.SigningPrivateKey
		e.Headers, e.ProfileOptions = c.Headers, c.ProfileOptions
		if c.CompatSignature != nil && len(c.Signatures) == 0 {
			e.ApplyCompatSignature(c.CompatSignature)
		}
	}
	e.PreviousSecretExpiresAt = nullMicros(prevExpires)
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal(types, &e.EventTypes); err != nil {
		return e, err
	}
	if e.Headers == nil {
		if err := json.Unmarshal(headers, &e.Headers); err != nil {
			return e, err
		}
	}
	if err := json.Unmarshal([]byte(profileFields), &e.ProfileFields); err != nil {
		return e, err
	}
	if err := json.Unmarshal(policy, &e.RetryPolicy); err != nil {
		return e, err
	}
	return e, e.RetryPolicy.Normalize()
}

func endpointTypes(e *domain.Endpoint) []byte {
	if e.EventTypes == nil {
		return []byte("[]")
	}
	return marshal(e.EventTypes)
}

// endpointProfile is the profile column: standard when none is named.
func endpointProfile(e *domain.Endpoint) string {
	if e.Profile == "" {
		return domain.ProfileStandard
	}
	return e.Profile
}

// endpointOrdering is the ordering column: none when none is named.
func endpointOrdering(e *domain.Endpoint) string {
	if e.Ordering == "" {
		return domain.OrderingNone
	}
	return e.Ordering
}

// responseBody stores an endpoint that names no response_body setting as full.
func responseBody(e *domain.Endpoint) string {
	if e.ResponseBody == "" {
		return domain.ResponseBodyFull
	}
	return e.ResponseBody
}

func profileFields(e *domain.Endpoint) string {
	if e.ProfileFields == nil {
		return "[]"
	}
	return string(marshal(e.ProfileFields))
}

// emptyHeaders is what the headers column holds now that custom headers
// are sealed in the credentials.
var emptyHeaders = []byte("{}")

// sealedSecrets seals an endpoint's secret, previous secret and credentials.
func (db *DB) sealedSecrets(e *domain.Endpoint) (secret, previous, creds string, err error) {
	if secret, err = db.seal(e.Secret); err != nil {
		return
	}
	if previous, err = db.seal(e.PreviousSecret); err != nil {
		return
	}
	c := credentials{Headers: e.Headers, Auth: e.Auth, TLS: e.TLS, Signatures: e.Signatures, SigningPrivateKey: e.SigningPrivateKey,
		ProfileOptions: e.ProfileOptions}
	if len(c.Headers) > 0 || c.Auth != nil || c.TLS != nil || len(c.Signatures) > 0 || c.SigningPrivateKey != "" ||
		len(c.ProfileOptions) > 0 {
		creds, err = db.seal(string(marshal(c)))
	}
	return
}

func (db *DB) CreateEndpoint(ctx context.Context, e *domain.Endpoint) error {
	secret, previous, creds, err := db.sealedSecrets(e)
	if err != nil {
		return db.wrap("create endpoint", err)
	}
	return db.wrap("create endpoint", db.write(ctx, func(tx *sql.Tx) error {
		if err := db.unmarkDefault(ctx, tx, e); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO endpoints (`+endpointColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.ID, e.TenantID, e.Environment, e.URL, e.Name, e.Status, e.DisabledReason, endpointTypes(e), emptyHeaders,
			marshal(e.RetryPolicy), e.TimeoutMS, e.MaxConcurrency, e.Success, e.DefaultCallback, e.PayloadMode, e.Signing,
			e.SigningPublicKey, secret, previous, optionalMicros(e.PreviousSecretExpiresAt), creds, e.SuccessFalseFails,
			e.IdenticalRetries, e.ThinPartnerParams, endpointProfile(e), profileFields(e), e.Transform, micros(e.CreatedAt), micros(e.UpdatedAt),
			endpointOrdering(e), e.RateLimit, responseBody(e))
		if err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}

// unmarkDefault clears the scope's default callback before e takes the role.
func (db *DB) unmarkDefault(ctx context.Context, tx *sql.Tx, e *domain.Endpoint) error {
	if !e.DefaultCallback {
		return nil
	}
	_, err := tx.ExecContext(ctx, db.q(`UPDATE endpoints SET default_callback = ?, updated_at = ?
		WHERE tenant_id = ? AND environment = ? AND default_callback = ? AND id <> ?`),
		false, micros(e.UpdatedAt), e.TenantID, e.Environment, true, e.ID)
	return err
}

func (db *DB) DefaultCallback(ctx context.Context, s domain.Scope) (*domain.Endpoint, error) {
	e, err := db.scanEndpoint(db.read.QueryRowContext(ctx, db.q(`SELECT `+endpointColumns+` FROM endpoints
		WHERE tenant_id = ? AND environment = ? AND default_callback = ?`), s.TenantID, s.Environment, true))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("default callback of "+s.TenantID, string(s.Environment))
	}
	if err != nil {
		return nil, db.wrap("get default callback", err)
	}
	return &e, nil
}

func (db *DB) RecoverDeliveries(ctx context.Context, s domain.Scope, endpointID string, since, until, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM endpoints WHERE tenant_id = ? AND environment = ? AND id = ?`),
			s.TenantID, s.Environment, endpointID).Scan(&exists)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("endpoint", endpointID)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?,
			signed_at = NULL WHERE endpoint_id = ? AND status = 'failed' AND created_at >= ? AND created_at < ?`),
			micros(now), micros(now), endpointID, micros(since), micros(until))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if n > 0 {
			if err := db.notifyDue(ctx, tx); err != nil {
				return err
			}
		}
		return db.audit(ctx, tx)
	})
	return int(n), db.wrap("recover deliveries", err)
}

func (db *DB) GetEndpoint(ctx context.Context, s domain.Scope, id string) (*domain.Endpoint, error) {
	e, err := db.scanEndpoint(db.read.QueryRowContext(ctx, db.q(`SELECT `+endpointColumns+` FROM endpoints
		WHERE tenant_id = ? AND environment = ? AND id = ?`), s.TenantID, s.Environment, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("endpoint", id)
	}
	if err != nil {
		return nil, db.wrap("get endpoint", err)
	}
	return &e, nil
}

func (db *DB) ListEndpoints(ctx context.Context, s domain.Scope, p store.Page) ([]domain.Endpoint, error) {
	p = p.Clamp()
	return collect(ctx, db, "list endpoints", db.scanEndpoint, `SELECT `+endpointColumns+` FROM endpoints
		WHERE tenant_id = ? AND environment = ? AND id > ? ORDER BY id LIMIT ?`, s.TenantID, s.Environment, p.Cursor, p.Limit)
}

func (db *DB) EndpointsByID(ctx context.Context, ids []string) ([]domain.Endpoint, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	// The dispatcher's read: on its own connections (see Conns).
	return collectOn(ctx, db, db.queueRead, "endpoints by id", db.scanEndpoint, `SELECT `+endpointColumns+` FROM endpoints WHERE id IN (`+placeholders(len(ids))+`)`, args...)
}

func (db *DB) UpdateEndpoint(ctx context.Context, e *domain.Endpoint) error {
	secret, previous, creds, err := db.sealedSecrets(e)
	if err != nil {
		return db.wrap("update endpoint", err)
	}
	return db.wrap("update endpoint", db.write(ctx, func(tx *sql.Tx) error {
		if err := db.unmarkDefault(ctx, tx, e); err != nil {
			return err
		}
		was, err := db.endpointStatus(ctx, tx, e.ID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE endpoints SET url = ?, name = ?, status = ?, disabled_reason = ?,
			event_types = ?, headers = ?, retry_policy = ?, timeout_ms = ?, max_concurrency = ?, success = ?,
			default_callback = ?, payload_mode = ?, signing = ?, signing_public_key = ?, secret = ?, previous_secret = ?,
			previous_secret_expires_at = ?, credentials = ?, success_false_fails = ?, identical_retries = ?,
			thin_partner_params = ?, profile = ?, profile_fields = ?, transform = ?, updated_at = ?, ordering = ?, rate_limit = ?,
			response_body = ?
			WHERE tenant_id = ? AND environment = ? AND id = ?`),
			e.URL, e.Name, e.Status, e.DisabledReason, endpointTypes(e), emptyHeaders, marshal(e.RetryPolicy),
			e.TimeoutMS, e.MaxConcurrency, e.Success, e.DefaultCallback, e.PayloadMode, e.Signing, e.SigningPublicKey,
			secret, previous, optionalMicros(e.PreviousSecretExpiresAt), creds, e.SuccessFalseFails, e.IdenticalRetries,
			e.ThinPartnerParams, endpointProfile(e), profileFields(e), e.Transform, micros(e.UpdatedAt), endpointOrdering(e),
			e.RateLimit, responseBody(e), e.TenantID, e.Environment, e.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("endpoint", e.ID)
		}
		if err := db.statusChanged(ctx, tx, e, was); err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}

func (db *DB) DeleteEndpoint(ctx context.Context, s domain.Scope, id string) error {
	return db.wrap("delete endpoint", db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM endpoints WHERE tenant_id = ? AND environment = ? AND id = ?`),
			s.TenantID, s.Environment, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("endpoint", id)
		}
		_, err = db.cancelPending(ctx, tx, `SELECT id FROM deliveries WHERE endpoint_id = ? AND status = 'pending'`,
			cancelledDeleted, time.Now(), id)
		if err != nil {
			return err
		}
		// Its rate limit's bucket, if it had one, goes with it.
		if _, err = tx.ExecContext(ctx, db.q(`DELETE FROM rate_buckets WHERE id = ?`), id); err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}
