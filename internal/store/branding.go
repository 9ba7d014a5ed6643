package store

import (
	"context"

	"github.com/heraldhq/herald/internal/domain"
)

// Brandings keeps each tenant's portal branding (domain.Branding), its
// logo's bytes included.
type Brandings interface {
	// Branding returns a tenant's branding, its logo described but without
	// its bytes; a tenant that never set one has an empty branding with
	// its name. An unknown tenant is a domain.NotFoundError.
	Branding(ctx context.Context, tenantID string) (*domain.Branding, error)
	// PutBranding stores a tenant's branding (the audit entry in ctx with
	// it). The logo is replaced when b.Logo carries Data, removed when
	// b.Logo is nil, and kept as stored otherwise.
	PutBranding(ctx context.Context, b *domain.Branding) error
	// BrandingLogo returns a tenant's logo with its bytes; no logo is a
	// domain.NotFoundError.
	BrandingLogo(ctx context.Context, tenantID string) (*domain.Logo, error)
}
