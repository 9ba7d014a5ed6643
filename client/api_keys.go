package client

import (
	"context"
	"net/http"
	"time"
)

// APIKey is a tenant's key for one environment, without the key itself.
type APIKey struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenant_id"`
	Environment string `json:"environment"`
	// Prefix is the key's first characters, to recognise it.
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// ExpiresAt is set on a rotated key: it works until then.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// APIKeyWithSecret is a new API key; Key is shown only once. Use it with
// New or WithToken.
type APIKeyWithSecret struct {
	APIKey
	Key string `json:"key"`
}

type keyEnvironment struct {
	Environment string `json:"environment"`
}

var (
	createTenantAPIKey = newRoute[none, keyEnvironment, APIKeyWithSecret]("create-tenant-api-key", http.MethodPost, "/v1/tenants/{id}/api-keys")
	createAPIKey       = newRoute[none, none, APIKeyWithSecret]("create-api-key", http.MethodPost, "/v1/api-keys")
	listAPIKeys        = newRoute[none, none, List[APIKey]]("list-api-keys", http.MethodGet, "/v1/api-keys")
	rotateAPIKey       = newRoute[none, Rotation, APIKeyWithSecret]("rotate-api-key", http.MethodPost, "/v1/api-keys/{id}/rotate")
	revokeAPIKey       = newRoute[none, none, none]("revoke-api-key", http.MethodDelete, "/v1/api-keys/{id}")
)

// CreateTenantAPIKey issues an API key for a tenant's environment
// (sandbox or production). Operator only.
func (c *Client) CreateTenantAPIKey(ctx context.Context, tenantID, environment string) (*APIKeyWithSecret, error) {
	return createTenantAPIKey.call(ctx, c, nil, &keyEnvironment{Environment: environment}, tenantID)
}

// CreateAPIKey issues another API key for the scope.
func (c *Client) CreateAPIKey(ctx context.Context) (*APIKeyWithSecret, error) {
	return createAPIKey.call(ctx, c, nil, nil)
}

// ListAPIKeys lists the scope's API keys; the list has one page.
func (c *Client) ListAPIKeys(ctx context.Context) (*List[APIKey], error) {
	return listAPIKeys.call(ctx, c, nil, nil)
}

// RotateAPIKey replaces an API key: the old one keeps working for the
// grace period. in may be nil for the default grace period.
func (c *Client) RotateAPIKey(ctx context.Context, id string, in *Rotation) (*APIKeyWithSecret, error) {
	return rotateAPIKey.call(ctx, c, nil, in, id)
}

// RevokeAPIKey revokes an API key at once.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	_, err := revokeAPIKey.call(ctx, c, nil, nil, id)
	return err
}
