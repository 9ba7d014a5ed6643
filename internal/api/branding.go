package api

import (
	"context"
	"encoding/base64"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Branding: how the tenant portal presents itself to a tenant's people.
// The operator sets all of it on /v1/tenants/{id}/branding; the tenant,
// with any of its API keys or portal sessions, sets its display name,
// accent colour and logo on /v1/branding, but not which sites may frame
// the portal: that is the platform's decision, since a frame is how a
// click is stolen.

// BrandingPatch is what a tenant may change of its own branding. It is
// exported so that the operator's patch can embed it: huma flattens only
// exported embedded structs into a schema.
type BrandingPatch struct {
	DisplayName *string `json:"display_name,omitempty" maxLength:"100" doc:"Shown in the portal's header and titles instead of the tenant's name; empty removes it." example:"Acme Bank"`
	AccentColor *string `json:"accent_color,omitempty" maxLength:"7" doc:"#rrggbb; the portal darkens it where text on it or in it would be hard to read. Empty removes it." example:"#0f766e"`
	Logo        *string `json:"logo,omitempty" maxLength:"87384" doc:"The logo image, base64-encoded: PNG or JPEG, at most 64 KiB and 1024 pixels a side. Empty removes it."`
}

// tenantBrandingPatch is what the operator may change.
type tenantBrandingPatch struct {
	BrandingPatch
	FrameAncestors *[]string `json:"frame_ancestors,omitempty" maxItems:"10" doc:"The origins (scheme://host[:port]) whose pages may show the portal in a frame: https, or http on localhost and loopback addresses. Empty: none."`
}

type updateTenantBrandingInput struct {
	ID   string `path:"id"`
	Body tenantBrandingPatch
}

type updateBrandingInput struct {
	Body BrandingPatch
}

// branding reads a tenant's branding, and the store that keeps it.
func (s *Server) branding(ctx context.Context, tenantID string) (store.Brandings, *domain.Branding, error) {
	bs, ok := s.store.(store.Brandings)
	if !ok {
		return nil, nil, huma.Error501NotImplemented("this store keeps no branding")
	}
	b, err := bs.Branding(ctx, tenantID)
	if err != nil {
		return nil, nil, s.problem(err)
	}
	return bs, b, nil
}

// ownTenant is the tenant of the calling key or portal session.
func ownTenant(ctx context.Context) (string, error) {
	k := principalFrom(ctx).key
	if k == nil {
		return "", huma.Error403Forbidden("the operator reads and sets a tenant's branding at /v1/tenants/{id}/branding")
	}
	return k.TenantID, nil
}

func (s *Server) getTenantBranding(ctx context.Context, in *tenantID) (*Body[*domain.Branding], error) {
	return s.readBranding(ctx, in.ID)
}

func (s *Server) getBranding(ctx context.Context, _ *noParams) (*Body[*domain.Branding], error) {
	id, err := ownTenant(ctx)
	if err != nil {
		return nil, err
	}
	return s.readBranding(ctx, id)
}

func (s *Server) readBranding(ctx context.Context, tenantID string) (*Body[*domain.Branding], error) {
	_, b, err := s.branding(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return &Body[*domain.Branding]{Body: b}, nil
}

func (s *Server) updateTenantBranding(ctx context.Context, in *updateTenantBrandingInput) (*Body[*domain.Branding], error) {
	return s.changeBranding(ctx, in.ID, &in.Body.BrandingPatch, in.Body.FrameAncestors)
}

func (s *Server) updateBranding(ctx context.Context, in *updateBrandingInput) (*Body[*domain.Branding], error) {
	id, err := ownTenant(ctx)
	if err != nil {
		return nil, err
	}
	return s.changeBranding(ctx, id, &in.Body, nil)
}

// changeBranding applies a patch (frames nil: left as they are) to a
// tenant's branding, checked field by field before anything is stored.
func (s *Server) changeBranding(ctx context.Context, tenantID string, p *BrandingPatch, frames *[]string) (*Body[*domain.Branding], error) {
	bs, b, err := s.branding(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	before := snap(b)
	if p.DisplayName != nil {
		if b.DisplayName, err = domain.ParseDisplayName(*p.DisplayName); err != nil {
			return nil, s.problem(err)
		}
	}
	if p.AccentColor != nil {
		if b.AccentColor, err = domain.ParseAccentColor(*p.AccentColor); err != nil {
			return nil, s.problem(err)
		}
	}
	if frames != nil {
		if b.FrameAncestors, err = domain.ParseFrameAncestors(*frames); err != nil {
			return nil, s.problem(err)
		}
	}
	if p.Logo != nil {
		b.Logo = nil
		if *p.Logo != "" {
			raw, err := base64.StdEncoding.DecodeString(*p.Logo)
			if err != nil {
				return nil, s.problem(domain.Invalid("logo", "is not base64: %v", err))
			}
			if b.Logo, err = domain.ParseLogo(raw); err != nil {
				return nil, s.problem(err)
			}
		}
	}
	now := domain.Now()
	b.UpdatedAt = &now
	ctx = s.audited(ctx, domain.Scope{TenantID: tenantID}, "tenant.branding_updated", "tenant", tenantID, before, snap(b))
	if err := bs.PutBranding(ctx, b); err != nil {
		return nil, s.problem(err)
	}
	return &Body[*domain.Branding]{Body: b}, nil
}
