package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Tenants' portal branding (store.Brandings). frame_ancestors is a
// newline-separated list; a tenant without a row has an empty branding.

var _ store.Brandings = (*DB)(nil)

func (db *DB) Branding(ctx context.Context, tenantID string) (*domain.Branding, error) {
	var (
		b                       = domain.Branding{TenantID: tenantID}
		display, accent, frames sql.NullString
		logoType, logoSum       sql.NullString
		logoSize, width, height sql.NullInt64
		updated                 sql.NullInt64
	)
	err := db.read.QueryRowContext(ctx, db.q(`SELECT t.name, b.display_name, b.accent_color, b.frame_ancestors,
		b.logo_type, LENGTH(b.logo), b.logo_width, b.logo_height, b.logo_sha256, b.updated_at
		FROM tenants t LEFT JOIN tenant_branding b ON b.tenant_id = t.id WHERE t.id = ?`), tenantID).Scan(
		&b.Name, &display, &accent, &frames, &logoType, &logoSize, &width, &height, &logoSum, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("tenant", tenantID)
	}
	if err != nil {
		return nil, db.wrap("get branding", err)
	}
	b.DisplayName, b.AccentColor = display.String, accent.String
	if frames.String != "" {
		b.FrameAncestors = strings.Split(frames.String, "\n")
	}
	if logoSize.Valid && logoSize.Int64 > 0 {
		b.Logo = &domain.Logo{ContentType: logoType.String, Size: int(logoSize.Int64), Width: int(width.Int64), Height: int(height.Int64), SHA256: logoSum.String}
	}
	if updated.Valid {
		at := fromMicros(updated.Int64)
		b.UpdatedAt = &at
	}
	return &b, nil
}

func (db *DB) PutBranding(ctx context.Context, b *domain.Branding) error {
	if b.UpdatedAt == nil {
		return errors.New("put branding: UpdatedAt is required")
	}
	frames := strings.Join(b.FrameAncestors, "\n")
	return db.wrap("put branding", db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM tenants WHERE id = ?`), b.TenantID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("tenant", b.TenantID)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO tenant_branding (tenant_id, display_name, accent_color, frame_ancestors, updated_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET display_name = excluded.display_name,
			accent_color = excluded.accent_color, frame_ancestors = excluded.frame_ancestors, updated_at = excluded.updated_at`),
			b.TenantID, b.DisplayName, b.AccentColor, frames, micros(*b.UpdatedAt))
		if err != nil {
			return err
		}
		switch {
		case b.Logo == nil:
			_, err = tx.ExecContext(ctx, db.q(`UPDATE tenant_branding SET logo = NULL, logo_type = '', logo_width = 0, logo_height = 0,
				logo_sha256 = '' WHERE tenant_id = ?`), b.TenantID)
		case b.Logo.Data != nil:
			_, err = tx.ExecContext(ctx, db.q(`UPDATE tenant_branding SET logo = ?, logo_type = ?, logo_width = ?, logo_height = ?,
				logo_sha256 = ? WHERE tenant_id = ?`), b.Logo.Data, b.Logo.ContentType, b.Logo.Width, b.Logo.Height, b.Logo.SHA256, b.TenantID)
		}
		if err != nil {
			return err
		}
		return db.audit(ctx, tx)
	}))
}

func (db *DB) BrandingLogo(ctx context.Context, tenantID string) (*domain.Logo, error) {
	var l domain.Logo
	err := db.read.QueryRowContext(ctx, db.q(`SELECT logo, logo_type, logo_width, logo_height, logo_sha256
		FROM tenant_branding WHERE tenant_id = ? AND logo IS NOT NULL`), tenantID).Scan(&l.Data, &l.ContentType, &l.Width, &l.Height, &l.SHA256)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("logo of tenant", tenantID)
	}
	if err != nil {
		return nil, db.wrap("get logo", err)
	}
	l.Size = len(l.Data)
	return &l, nil
}
