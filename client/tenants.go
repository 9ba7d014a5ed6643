package client

import (
	"context"
	"net/http"
	"time"
)

// Tenant is one of the operator's customers.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// RateLimitPerMinute and RateLimitBurst bound each of the tenant's API
	// keys; 0 means Herald's defaults (100 a minute, bursts of 200).
	RateLimitPerMinute int       `json:"rate_limit_per_minute,omitempty"`
	RateLimitBurst     int       `json:"rate_limit_burst,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
}

// TenantCreate is a new tenant.
type TenantCreate struct {
	// ID is lower-case letters, digits, - and _; generated when empty.
	ID                 string `json:"id,omitempty"`
	Name               string `json:"name"`
	RateLimitPerMinute int    `json:"rate_limit_per_minute,omitempty"`
	RateLimitBurst     int    `json:"rate_limit_burst,omitempty"`
}

// TenantUpdate changes the fields that are not nil.
type TenantUpdate struct {
	Name               *string `json:"name,omitempty"`
	RateLimitPerMinute *int    `json:"rate_limit_per_minute,omitempty"`
	RateLimitBurst     *int    `json:"rate_limit_burst,omitempty"`
}

// PortalSessionCreate asks for a sign-in link to the tenant portal.
type PortalSessionCreate struct {
	// Environment is where the portal opens; the tenant can switch.
	Environment string `json:"environment"`
	// ExpiresIn is how long the link works, as a duration such as 1h
	// (default 1h, at most 24h).
	ExpiresIn string `json:"expires_in,omitempty"`
	// ReturnURL is where the browser goes when the person signs out or the
	// session ends (absolute https; http only on loopback): the
	// platform's own pages. Empty: Herald's sign-in page.
	ReturnURL string `json:"return_url,omitempty"`
}

// PortalSession is a sign-in link to hand to a tenant; it works once.
type PortalSession struct {
	URL         string    `json:"url"`
	ExpiresAt   time.Time `json:"expires_at"`
	TenantID    string    `json:"tenant_id"`
	Environment string    `json:"environment"`
}

var (
	createTenant        = newRoute[none, TenantCreate, Tenant]("create-tenant", http.MethodPost, "/v1/tenants")
	listTenants         = newRoute[ListParams, none, List[Tenant]]("list-tenants", http.MethodGet, "/v1/tenants")
	getTenant           = newRoute[none, none, Tenant]("get-tenant", http.MethodGet, "/v1/tenants/{id}")
	updateTenant        = newRoute[none, TenantUpdate, Tenant]("update-tenant", http.MethodPatch, "/v1/tenants/{id}")
	createPortalSession = newRoute[none, PortalSessionCreate, PortalSession]("create-portal-session", http.MethodPost, "/v1/tenants/{id}/portal-sessions")
)

// CreateTenant creates a tenant. Operator only.
func (c *Client) CreateTenant(ctx context.Context, in *TenantCreate) (*Tenant, error) {
	return createTenant.call(ctx, c, nil, in)
}

// ListTenants lists tenants by id. Operator only.
func (c *Client) ListTenants(ctx context.Context, p *ListParams) (*List[Tenant], error) {
	return listTenants.call(ctx, c, p, nil)
}

// GetTenant gets a tenant. Operator only.
func (c *Client) GetTenant(ctx context.Context, id string) (*Tenant, error) {
	return getTenant.call(ctx, c, nil, nil, id)
}

// UpdateTenant changes a tenant's name or rate limit. Operator only.
func (c *Client) UpdateTenant(ctx context.Context, id string, in *TenantUpdate) (*Tenant, error) {
	return updateTenant.call(ctx, c, nil, in, id)
}

// CreatePortalSession returns a sign-in link to the tenant portal. Its
// host is the one the client called. Operator only.
func (c *Client) CreatePortalSession(ctx context.Context, tenantID string, in *PortalSessionCreate) (*PortalSession, error) {
	return createPortalSession.call(ctx, c, nil, in, tenantID)
}
