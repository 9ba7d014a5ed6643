package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// brandingTests prove the portal's branding and where a portal session
// sends the browser when it ends.
var brandingTests = []conformanceTest{
	{"BrandingIsEmptyUntilSetAndKeepsItsLogoUntilReplacedOrRemoved", testBranding},
	{"PortalSessionsKeepTheirReturnURLAfterTheyEnd", testSessionReturnURL},
}

func brandings(t *testing.T, s store.Store) store.Brandings {
	t.Helper()
	b, ok := s.(store.Brandings)
	if !ok {
		t.Fatalf("%T does not implement store.Brandings", s)
	}
	return b
}

func testBranding(t *testing.T, s store.Store) {
	setup(t, s)
	bs := brandings(t, s)
	if _, err := bs.Branding(ctx, "nobody"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("branding of an unknown tenant: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := bs.PutBranding(ctx, &domain.Branding{TenantID: "nobody", UpdatedAt: &now}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("branding put for an unknown tenant: %v", err)
	}
	b, err := bs.Branding(ctx, "acme")
	must(t, err)
	if b.Name != "acme" || b.DisplayName != "" || b.Logo != nil || b.UpdatedAt != nil || len(b.FrameAncestors) != 0 {
		t.Fatalf("branding never set = %+v", b)
	}
	if _, err := bs.BrandingLogo(ctx, "acme"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("logo never set: %v", err)
	}

	image := []byte("\x89PNG stand-in: the store keeps bytes as given")
	entry := auditEntry(domain.Scope{TenantID: "acme"}, "tenant.branding_updated", "tenant", "acme", now)
	must(t, bs.PutBranding(store.WithAudit(ctx, entry), &domain.Branding{
		TenantID: "acme", DisplayName: "Acme Bank", AccentColor: "#0f766e", UpdatedAt: &now,
		FrameAncestors: []string{"https://dashboard.example.com", "http://localhost:3000"},
		Logo:           &domain.Logo{ContentType: "image/png", Width: 2, Height: 1, SHA256: "abc", Data: image},
	}))
	b, err = bs.Branding(ctx, "acme")
	must(t, err)
	if b.Shown() != "Acme Bank" || b.AccentColor != "#0f766e" || !slices.Equal(b.FrameAncestors, []string{"https://dashboard.example.com", "http://localhost:3000"}) ||
		b.Logo == nil || b.Logo.ContentType != "image/png" || b.Logo.Size != len(image) || b.Logo.Width != 2 || b.Logo.Height != 1 ||
		b.Logo.SHA256 != "abc" || b.Logo.Data != nil ||
		b.UpdatedAt == nil || !b.UpdatedAt.Equal(now) {
		t.Fatalf("branding after put = %+v (logo %+v)", b, b.Logo)
	}
	if es := listAudit(t, s, store.AuditFilter{Page: store.Page{Limit: 10}, Action: "tenant.branding_updated"}); len(es) != 1 || es[0].ResourceID != "acme" {
		t.Fatalf("audit entries of the change: %+v", es)
	}
	// Another tenant's branding is its own.
	if g, err := bs.Branding(ctx, "globex"); err != nil || g.DisplayName != "" || g.Logo != nil {
		t.Fatalf("globex's branding = %+v, %v", g, err)
	}

	// Described but without bytes: the stored logo stays.
	b.DisplayName, b.FrameAncestors = "Acme", nil
	must(t, bs.PutBranding(ctx, b))
	l, err := bs.BrandingLogo(ctx, "acme")
	must(t, err)
	if !bytes.Equal(l.Data, image) || l.ContentType != "image/png" || l.Size != len(image) || l.SHA256 != "abc" {
		t.Fatalf("logo kept = %+v", l)
	}
	b, err = bs.Branding(ctx, "acme")
	must(t, err)
	if b.DisplayName != "Acme" || len(b.FrameAncestors) != 0 || b.Logo == nil {
		t.Fatalf("branding after the second put = %+v", b)
	}
	// Without a logo: removed.
	b.Logo = nil
	must(t, bs.PutBranding(ctx, b))
	if _, err := bs.BrandingLogo(ctx, "acme"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("removed logo: %v", err)
	}
	if b, err = bs.Branding(ctx, "acme"); err != nil || b.Logo != nil || b.AccentColor != "#0f766e" {
		t.Fatalf("branding without its logo = %+v, %v", b, err)
	}
}

func testSessionReturnURL(t *testing.T, s store.Store) {
	setup(t, s)
	ps := sessions(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	const back = "https://dashboard.example.com/webhooks?tab=1"
	sess := &store.PortalSession{
		ID: domain.NewID("pss"), TenantID: "acme", Environment: domain.Sandbox, Environments: []domain.Environment{domain.Sandbox},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), ReturnURL: back,
	}
	must(t, ps.CreatePortalSession(ctx, sess, hash("link"), nil))
	got, err := ps.RedeemPortalSession(ctx, hash("link"), hash("secret"), now, now.Add(time.Hour))
	must(t, err)
	if got.ReturnURL != back {
		t.Fatalf("redeemed session's return URL %q", got.ReturnURL)
	}
	if live, err := ps.PortalSession(ctx, hash("secret"), now); err != nil || live.ReturnURL != back {
		t.Fatalf("live session = %+v, %v", live, err)
	}
	// Expired, then ended: no longer live, but still found for its return URL.
	if _, err := ps.PortalSession(ctx, hash("secret"), now.Add(2*time.Hour)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("an expired session is live: %v", err)
	}
	must(t, ps.EndPortalSession(ctx, sess.ID, now))
	ended, err := ps.EndedPortalSession(ctx, hash("secret"))
	must(t, err)
	if ended.ID != sess.ID || ended.ReturnURL != back {
		t.Fatalf("ended session = %+v", ended)
	}
	if _, err := ps.EndedPortalSession(ctx, hash("unknown")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("an unknown secret: %v", err)
	}
	// A session without one says so.
	plain := &store.PortalSession{ID: domain.NewID("pss"), TenantID: "acme", Environment: domain.Sandbox, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, ps.CreatePortalSession(ctx, plain, nil, hash("plain")))
	if got, err := ps.EndedPortalSession(ctx, hash("plain")); err != nil || got.ReturnURL != "" {
		t.Fatalf("session without a return URL = %+v, %v", got, err)
	}
}
