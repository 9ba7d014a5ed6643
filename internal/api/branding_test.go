package api_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// pngOf encodes a w×h image; noisy makes it incompressible (large).
func pngOf(t *testing.T, w, h int, noisy bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = 0xff
		if noisy {
			img.Pix[i] = byte(rng.IntN(256))
		}
	}
	img.Set(0, 0, color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTheOperatorBrandsATenantsPortalAndBadFieldsChangeNothing(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		h.Tenant("acme")
		b := servertest.Must(h.Client.GetTenantBranding(ctx, "acme"))(t)
		if b.Name != "acme Inc" || b.DisplayName != "" || b.Logo != nil {
			t.Fatalf("branding never set: %+v", b)
		}
		logo := pngOf(t, 40, 20, false)
		set := &client.TenantBrandingUpdate{
			BrandingUpdate: client.BrandingUpdate{DisplayName: client.Ptr(" Acme Bank "), AccentColor: client.Ptr("#0F766E"), Logo: client.LogoData(logo)},
			FrameAncestors: &[]string{"https://Dashboard.Example.com", "http://localhost:3000", "https://dashboard.example.com/"},
		}
		b = servertest.Must(h.Client.UpdateTenantBranding(ctx, "acme", set))(t)
		if b.DisplayName != "Acme Bank" || b.AccentColor != "#0f766e" || !slices.Equal(b.FrameAncestors, []string{"https://dashboard.example.com", "http://localhost:3000"}) ||
			b.Logo == nil || b.Logo.ContentType != "image/png" || b.Logo.Width != 40 || b.Logo.Height != 20 || b.Logo.Size != len(logo) {
			t.Fatalf("branding set: %+v (logo %+v)", b, b.Logo)
		}
		audit := servertest.Must(h.Client.ListAuditLog(ctx, &client.AuditLogParams{Tenant: "acme", Action: "tenant.branding_updated"}))(t)
		if len(audit.Data) != 1 || string(audit.Data[0].Changes["display_name"].To) != `"Acme Bank"` || audit.Data[0].ResourceID != "acme" {
			t.Fatalf("audit of the change: %+v", audit.Data)
		}

		bad := []struct {
			field string
			in    client.TenantBrandingUpdate
		}{
			{"body.accent_color", client.TenantBrandingUpdate{BrandingUpdate: client.BrandingUpdate{AccentColor: client.Ptr("teal")}}},
			{"body.display_name", client.TenantBrandingUpdate{BrandingUpdate: client.BrandingUpdate{DisplayName: client.Ptr("Acme\nBank")}}},
			{"body.frame_ancestors[1]", client.TenantBrandingUpdate{FrameAncestors: &[]string{"https://ok.example", "http://plain.example"}}},
			{"body.frame_ancestors[0]", client.TenantBrandingUpdate{FrameAncestors: &[]string{"https://dashboard.example.com/path"}}},
			{"body.frame_ancestors[0]", client.TenantBrandingUpdate{FrameAncestors: &[]string{"https://x.example; script-src *"}}},
			{"body.frame_ancestors[0]", client.TenantBrandingUpdate{FrameAncestors: &[]string{"https://x.example;script-src"}}},
			{"body.logo", client.TenantBrandingUpdate{BrandingUpdate: client.BrandingUpdate{Logo: client.LogoData([]byte("<svg onload=alert(1)/>"))}}},
			{"body.logo", client.TenantBrandingUpdate{BrandingUpdate: client.BrandingUpdate{Logo: client.LogoData(pngOf(t, 2000, 1, false))}}},
			{"body.logo", client.TenantBrandingUpdate{BrandingUpdate: client.BrandingUpdate{Logo: client.LogoData(pngOf(t, 200, 200, true))}}},
			{"body.logo", client.TenantBrandingUpdate{BrandingUpdate: client.BrandingUpdate{Logo: client.Ptr("not base64!")}}},
		}
		for _, c := range bad {
			_, err := h.Client.UpdateTenantBranding(ctx, "acme", &c.in)
			if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !names(e, c.field) {
				t.Errorf("%+v: refused without naming %s: %v", c.in, c.field, e)
			}
		}
		if after := servertest.Must(h.Client.GetTenantBranding(ctx, "acme"))(t); after.DisplayName != "Acme Bank" || after.AccentColor != "#0f766e" ||
			len(after.FrameAncestors) != 2 || after.Logo == nil || after.Logo.SHA256 != b.Logo.SHA256 {
			t.Fatalf("refused changes changed the branding: %+v", after)
		}
		_, err := h.Client.UpdateTenantBranding(ctx, "nobody", &client.TenantBrandingUpdate{})
		servertest.Refused(t, err, http.StatusNotFound)

		// Empty values remove.
		b = servertest.Must(h.Client.UpdateTenantBranding(ctx, "acme", &client.TenantBrandingUpdate{
			BrandingUpdate: client.BrandingUpdate{Logo: client.Ptr("")}, FrameAncestors: &[]string{},
		}))(t)
		if b.Logo != nil || len(b.FrameAncestors) != 0 || b.DisplayName != "Acme Bank" {
			t.Fatalf("after removing the logo and the origins: %+v", b)
		}
	})
}

func TestATenantSetsItsOwnNameColourAndLogoButNotWhoMayFrameIt(t *testing.T) {
	h := servertest.Start(t)
	ctx := t.Context()
	h.Tenant("acme")
	h.Tenant("globex")
	key := h.APIKey("acme", "sandbox").Key
	kc := h.Client.WithToken(key)
	b := servertest.Must(kc.UpdateBranding(ctx, &client.BrandingUpdate{DisplayName: client.Ptr("Acme"), AccentColor: client.Ptr("#ffcc00"), Logo: client.LogoData(pngOf(t, 8, 8, false))}))(t)
	if b.TenantID != "acme" || b.DisplayName != "Acme" || b.Logo == nil {
		t.Fatalf("tenant's own change: %+v", b)
	}
	if got := servertest.Must(kc.GetBranding(ctx))(t); got.DisplayName != "Acme" || got.AccentColor != "#ffcc00" {
		t.Fatalf("tenant reads %+v", got)
	}
	if g := servertest.Must(h.Client.GetTenantBranding(ctx, "globex"))(t); g.DisplayName != "" {
		t.Fatalf("globex's branding changed: %+v", g)
	}
	// Which sites may frame the portal is the operator's.
	r := h.Do(servertest.Call{Method: "PATCH", Path: "/v1/branding", Token: &key, Body: map[string]any{"frame_ancestors": []string{"https://evil.example"}}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "frame_ancestors") {
		t.Fatalf("a tenant setting frame_ancestors: %d %s", r.Status, r.Body)
	}
	_, err := kc.UpdateTenantBranding(ctx, "acme", &client.TenantBrandingUpdate{FrameAncestors: &[]string{"https://evil.example"}})
	servertest.Refused(t, err, http.StatusForbidden)
	if got := servertest.Must(h.Client.GetTenantBranding(ctx, "acme"))(t); len(got.FrameAncestors) != 0 {
		t.Fatalf("frame ancestors after the tenant's attempts: %v", got.FrameAncestors)
	}
	// The operator has no tenant of its own to brand.
	_, err = h.Client.GetBranding(ctx)
	servertest.Refused(t, err, http.StatusForbidden)
	audit := servertest.Must(h.Client.ListAuditLog(ctx, &client.AuditLogParams{Tenant: "acme", Action: "tenant.branding_updated"}))(t)
	if len(audit.Data) != 1 || audit.Data[0].ActorType != "api_key" {
		t.Fatalf("audit of the tenant's change: %+v", audit.Data)
	}
}

func TestAPortalSessionsReturnURLIsAnHTTPSOrLoopbackURL(t *testing.T) {
	h := servertest.Start(t)
	ctx := t.Context()
	h.Tenant("acme")
	for _, bad := range []string{"javascript:alert(1)", "http://dashboard.example.com/", "/relative", "https://user:pw@dashboard.example.com/", "ftp://x.example/"} {
		_, err := h.Client.CreatePortalSession(ctx, "acme", &client.PortalSessionCreate{Environment: "sandbox", ReturnURL: bad})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !names(e, "body.return_url") {
			t.Errorf("return_url %q: %v", bad, e)
		}
	}
	for _, ok := range []string{"https://dashboard.example.com/webhooks?tab=2", "http://127.0.0.1:3000/back", "http://localhost/x"} {
		servertest.Must(h.Client.CreatePortalSession(ctx, "acme", &client.PortalSessionCreate{Environment: "sandbox", ReturnURL: ok}))(t)
	}
	audit := servertest.Must(h.Client.ListAuditLog(ctx, &client.AuditLogParams{Tenant: "acme", Action: "portal_session.created"}))(t)
	if len(audit.Data) != 3 || string(audit.Data[0].Changes["return_url"].To) != `"http://localhost/x"` {
		t.Fatalf("audit of the links: %+v", audit.Data)
	}
}
