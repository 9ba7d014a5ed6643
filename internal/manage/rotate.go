package manage

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Grace periods of a rotation: how long the replaced secret or key keeps
// working, so its users can switch without failing.
const (
	DefaultGrace = 24 * time.Hour
	MaxGrace     = 720 * time.Hour
)

// ParseGrace reads a rotation's grace period (grace_period): a duration up
// to MaxGrace, DefaultGrace when empty.
func ParseGrace(s string) (time.Duration, error) {
	if s == "" {
		return DefaultGrace, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxGrace {
		return 0, domain.Invalid("grace_period", "%q is not a duration between 0s and 720h, such as 24h", s)
	}
	return d, nil
}

// RotateEndpointSecret gives an endpoint a new signing secret, returned
// once: given, when the caller brings one, or minted. For grace the old one
// signs beside it (two entries of webhook-signature; the other schemes sign
// with the new one only). It returns when the old one stops signing.
func (m *Manager) RotateEndpointSecret(ctx context.Context, sc domain.Scope, endpointID, given string, grace time.Duration) (secret string, previousExpiresAt time.Time, err error) {
	if secret, err = credential.SigningSecret(given); err != nil {
		return "", time.Time{}, err
	}
	e, err := m.store.GetEndpoint(ctx, sc, endpointID)
	if err != nil {
		return "", time.Time{}, err
	}
	e.RotateSecret(secret, domain.Now(), grace)
	if err := m.store.UpdateEndpoint(ctx, e); err != nil {
		return "", time.Time{}, err
	}
	return secret, *e.PreviousSecretExpiresAt, nil
}

// MaxAPIKeys is how many usable (neither revoked nor expired) API keys one
// tenant's environment may have: enough for every service and a rotation
// of each, few enough that a leaked key cannot mint keys without end.
// Concurrent issues may pass it by the number of them in flight.
const MaxAPIKeys = 50

// IssueAPIKey makes another API key for a scope. The key is returned once;
// Herald keeps its hash.
func (m *Manager) IssueAPIKey(ctx context.Context, sc domain.Scope) (string, *domain.APIKey, error) {
	if err := m.roomForKey(ctx, sc); err != nil {
		return "", nil, err
	}
	key, k, hash, err := newAPIKey(sc, domain.Now())
	if err != nil {
		return "", nil, err
	}
	if e := store.AuditFrom(ctx); e != nil {
		e.ResourceID = k.ID
		e.Changes = map[string]domain.FieldChange{"prefix": {To: k.Prefix}}
	}
	if err := m.store.CreateAPIKey(ctx, k, hash); err != nil {
		return "", nil, err
	}
	return key, k, nil
}

// RotateAPIKey replaces an API key with a new one, returned once; the old
// one keeps working for grace. A caller that caches keys must forget them.
func (m *Manager) RotateAPIKey(ctx context.Context, sc domain.Scope, keyID string, grace time.Duration) (string, *domain.APIKey, error) {
	if err := m.roomForKey(ctx, sc); err != nil {
		return "", nil, err
	}
	now := domain.Now()
	key, k, hash, err := newAPIKey(sc, now)
	if err != nil {
		return "", nil, err
	}
	if e := store.AuditFrom(ctx); e != nil {
		if e.Changes == nil {
			e.Changes = map[string]domain.FieldChange{}
		}
		e.Changes["expires_at"] = domain.FieldChange{To: now.Add(grace)}
		e.Changes["replaced_by"] = domain.FieldChange{To: k.ID}
	}
	if err := m.store.RotateAPIKey(ctx, sc, keyID, now.Add(grace), k, hash); err != nil {
		return "", nil, err
	}
	return key, k, nil
}

// newAPIKey mints a key for a scope: the key itself, its record and the
// hash that is all the record keeps of it.
func newAPIKey(sc domain.Scope, now time.Time) (string, *domain.APIKey, []byte, error) {
	key, label, hash, err := credential.NewAPIKey(sc.Environment)
	if err != nil {
		return "", nil, nil, err
	}
	k := &domain.APIKey{
		ID: domain.NewIDAt("key", now), TenantID: sc.TenantID, Environment: sc.Environment,
		Prefix: label, CreatedAt: now,
	}
	return key, k, hash, nil
}

// roomForKey refuses a new key when the scope has MaxAPIKeys usable ones.
func (m *Manager) roomForKey(ctx context.Context, sc domain.Scope) error {
	keys, err := m.store.ListAPIKeys(ctx, sc)
	if err != nil {
		return err
	}
	now := domain.Now()
	usable := 0
	for i := range keys {
		if keys[i].Usable(now) {
			usable++
		}
	}
	if usable >= MaxAPIKeys {
		return &domain.ConflictError{Msg: fmt.Sprintf("this environment has %d usable API keys, the most it may have; revoke one first", usable)}
	}
	return nil
}
