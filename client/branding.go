package client

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"
)

// Branding is how the tenant portal presents itself to a tenant's people.
type Branding struct {
	TenantID string `json:"tenant_id"`
	// Name is the tenant's name, shown when no display name is set.
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	// AccentColor is #rrggbb.
	AccentColor string `json:"accent_color,omitempty"`
	// FrameAncestors are the origins whose pages may frame the portal.
	FrameAncestors []string   `json:"frame_ancestors,omitempty"`
	Logo           *Logo      `json:"logo,omitempty"`
	UpdatedAt      *time.Time `json:"updated_at,omitempty"`
}

// Logo describes a tenant's stored logo image.
type Logo struct {
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	SHA256      string `json:"sha256"`
}

// BrandingUpdate changes the fields that are not nil; an empty value
// removes one.
type BrandingUpdate struct {
	DisplayName *string `json:"display_name,omitempty"`
	// AccentColor is #rrggbb.
	AccentColor *string `json:"accent_color,omitempty"`
	// Logo is the image, base64-encoded (LogoData encodes one): PNG or
	// JPEG, at most 64 KiB and 1024 pixels a side.
	Logo *string `json:"logo,omitempty"`
}

// TenantBrandingUpdate is the operator's change to a tenant's branding:
// also which origins may frame the portal (scheme://host[:port], https
// unless loopback).
type TenantBrandingUpdate struct {
	BrandingUpdate
	FrameAncestors *[]string `json:"frame_ancestors,omitempty"`
}

// LogoData is an image's bytes as BrandingUpdate.Logo takes them.
func LogoData(image []byte) *string {
	s := base64.StdEncoding.EncodeToString(image)
	return &s
}

var (
	getTenantBranding    = newRoute[none, none, Branding]("get-tenant-branding", http.MethodGet, "/v1/tenants/{id}/branding")
	updateTenantBranding = newRoute[none, TenantBrandingUpdate, Branding]("update-tenant-branding", http.MethodPatch, "/v1/tenants/{id}/branding")
	getBranding          = newRoute[none, none, Branding]("get-branding", http.MethodGet, "/v1/branding")
	updateBranding       = newRoute[none, BrandingUpdate, Branding]("update-branding", http.MethodPatch, "/v1/branding")
)

// GetTenantBranding reads a tenant's portal branding. Operator only.
func (c *Client) GetTenantBranding(ctx context.Context, tenantID string) (*Branding, error) {
	return getTenantBranding.call(ctx, c, nil, nil, tenantID)
}

// UpdateTenantBranding changes a tenant's portal branding. Operator only.
func (c *Client) UpdateTenantBranding(ctx context.Context, tenantID string, in *TenantBrandingUpdate) (*Branding, error) {
	return updateTenantBranding.call(ctx, c, nil, in, tenantID)
}

// GetBranding reads the portal branding of the key's tenant.
func (c *Client) GetBranding(ctx context.Context) (*Branding, error) {
	return getBranding.call(ctx, c, nil, nil)
}

// UpdateBranding changes the display name, accent colour or logo of the
// key's tenant's portal.
func (c *Client) UpdateBranding(ctx context.Context, in *BrandingUpdate) (*Branding, error) {
	return updateBranding.call(ctx, c, nil, in)
}
