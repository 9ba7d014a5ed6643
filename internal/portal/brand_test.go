package portal_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The tenant's branding as the portal shows it: framing, cookies, the
// logo and the colours, over plain HTTP. brand_browser_test.go has what a
// browser makes of them.

// logoPNG is a small two-colour logo.
func logoPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 96, 32))
	for y := range 32 {
		for x := range 96 {
			c := color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff}
			if (x/16+y/16)%2 == 1 {
				c = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// brand gives a tenant Acme Bank's name, colour and logo, framed by
// origins (none: by no other site).
func brand(h *servertest.Herald, tenant, accent string, origins ...string) *client.Branding {
	h.T.Helper()
	return servertest.Must(h.Client.UpdateTenantBranding(h.T.Context(), tenant, &client.TenantBrandingUpdate{
		BrandingUpdate: client.BrandingUpdate{DisplayName: client.Ptr("Acme Bank"), AccentColor: client.Ptr(accent), Logo: client.LogoData(logoPNG(h.T))},
		FrameAncestors: &origins,
	}))(h.T)
}

// linkBack is a sign-in link whose session returns to back when it ends.
func linkBack(h *servertest.Herald, tenant, back string) string {
	h.T.Helper()
	return servertest.Must(h.Client.CreatePortalSession(h.T.Context(), tenant, &client.PortalSessionCreate{Environment: "sandbox", ReturnURL: back}))(h.T).URL
}

func TestPortalFramingAndCookiesFollowTheTenantsBranding(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	h.Tenant("globex")
	const dashboard = "http://localhost:3000"
	brand(h, "acme", "#0f766e", dashboard)

	// acme's pages may be framed by the dashboard; the cookie works there.
	acme := newBrowserClient(t, h.URL)
	p := acme.get(portalLink(h, "acme", "sandbox", ""))
	c := cookieNamed(t, p.Header, "herald_portal")
	if c.SameSite != http.SameSiteNoneMode || !c.Secure || !c.Partitioned || !c.HttpOnly {
		t.Fatalf("embeddable tenant's cookie over loopback http: %+v", c)
	}
	page := acme.get("/portal/endpoints")
	if csp := page.Header.Get("Content-Security-Policy"); page.Status != http.StatusOK ||
		!strings.Contains(csp, "frame-ancestors 'self' "+dashboard+";") || page.Header.Get("X-Frame-Options") != "" {
		t.Fatalf("acme's page: %d, CSP %q, X-Frame-Options %q", page.Status, csp, page.Header.Get("X-Frame-Options"))
	}
	// A cookie sent from inside another site's page does not make its forms
	// count: the origin check and the CSRF token do not rest on SameSite.
	token := acme.csrf("/portal/keys")
	for _, headers := range []map[string]string{
		{"Origin": dashboard},
		{"Sec-Fetch-Site": "cross-site"},
	} {
		if p := acme.send("POST", "/portal/keys", url.Values{"csrf": {token}}, headers); p.Status != http.StatusForbidden {
			t.Errorf("a form posted with %v: %d", headers, p.Status)
		}
	}

	// globex allows no framing: the defaults.
	globex := newBrowserClient(t, h.URL)
	c = cookieNamed(t, globex.get(portalLink(h, "globex", "sandbox", "")).Header, "herald_portal")
	if c.SameSite != http.SameSiteStrictMode || c.Partitioned {
		t.Fatalf("globex's cookie: %+v", c)
	}
	page = globex.get("/portal/endpoints")
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || page.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("globex's page: CSP %q, X-Frame-Options %q", csp, page.Header.Get("X-Frame-Options"))
	}

	// Over plain http on a public name a Secure cookie would be dropped:
	// Strict as before; behind a TLS proxy, embeddable.
	for _, tc := range []struct {
		headers map[string]string
		embed   bool
	}{{map[string]string{}, false}, {map[string]string{"X-Forwarded-Proto": "https"}, true}} {
		req, _ := http.NewRequest("GET", portalLink(h, "acme", "sandbox", ""), nil)
		req.Host = "herald.example.com"
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		resp, err := newBrowserClient(t, h.URL).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c := cookieNamed(t, resp.Header, "herald_portal"); (c.SameSite == http.SameSiteNoneMode) != tc.embed || c.Secure != tc.embed {
			t.Errorf("cookie for herald.example.com with %v: %+v", tc.headers, c)
		}
	}
}

func TestPortalServesTheTenantsOwnLogoAndColoursFromItsOrigin(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	h.Tenant("globex")
	b := brand(h, "acme", "#ffcc00")
	acme := newBrowserClient(t, h.URL)
	acme.signIn(portalLink(h, "acme", "sandbox", ""))
	page := acme.get("/portal/keys")
	logoPath := fmt.Sprintf("/portal/brand/logo?v=%s", b.Logo.SHA256)
	for _, want := range []string{`src="` + logoPath + `"`, `id="brand-name">Acme Bank<`, `<title>API keys · Acme Bank</title>`, `href="/portal/brand.css?v=%23ffcc00"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the keys page lacks %s", want)
		}
	}
	if strings.Contains(page.Body, ">acme<") {
		t.Error("the page shows the tenant's id")
	}
	logo := acme.get(logoPath)
	if logo.Status != http.StatusOK || logo.Header.Get("Content-Type") != "image/png" || logo.Body != string(logoPNG(t)) ||
		!strings.Contains(logo.Header.Get("Content-Security-Policy"), "sandbox") || logo.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("logo: %d %v", logo.Status, logo.Header)
	}
	css := acme.get("/portal/brand.css?v=%23ffcc00")
	// #ffcc00 on white is unreadable (1.6:1): links and buttons get it darkened.
	if css.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(css.Body, "--brand-accent: #ffcc00;") || strings.Contains(css.Body, "--accent: #ffcc00") {
		t.Fatalf("brand.css: %v %s", css.Header, css.Body)
	}
	// Another tenant gets its own (none), and a browser without a session nothing.
	globex := newBrowserClient(t, h.URL)
	globex.signIn(portalLink(h, "globex", "sandbox", ""))
	if p := globex.get(logoPath); p.Status != http.StatusNotFound {
		t.Fatalf("globex asking for the logo: %d", p.Status)
	}
	if p := globex.get("/portal/keys"); strings.Contains(p.Body, "Acme Bank") || strings.Contains(p.Body, "brand.css") || !strings.Contains(p.Body, ">globex Inc<") {
		t.Fatalf("globex's page shows acme's branding, or not its name: %.500s", p.Body)
	}
	if p := newBrowserClient(t, h.URL).get(logoPath); p.Status != http.StatusFound {
		t.Fatalf("the logo without a session: %d", p.Status)
	}
	// The API-key sign-in is branded too.
	k := newBrowserClient(t, h.URL)
	if p := k.send("POST", "/portal/login", url.Values{"api_key": {h.APIKey("acme", "sandbox").Key}}, map[string]string{"Origin": h.URL}); p.Status != http.StatusSeeOther {
		t.Fatalf("API-key sign-in: %d", p.Status)
	}
	if p := k.get("/portal/endpoints"); !strings.Contains(p.Body, "Acme Bank") {
		t.Fatal("a session opened with a key is not branded")
	}
}

func TestPortalSignOutAndEndedSessionsGoToTheReturnURL(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	back := "http://127.0.0.1:9/dashboard?tab=webhooks"
	b := newBrowserClient(t, h.URL)
	b.signIn(linkBack(h, "acme", back))
	u, _ := url.Parse(h.URL + "/portal/")
	cookies := b.Jar.Cookies(u)
	// Browsers hold a form's redirects to form-action: sign-out may lead there.
	if csp := b.get("/portal/keys").Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9;") {
		t.Fatalf("CSP of a session with a return URL: %q", csp)
	}
	if p := b.post("/portal/logout", url.Values{"csrf": {b.csrf("/portal/endpoints")}}); p.Status != http.StatusSeeOther || p.Header.Get("Location") != back {
		t.Fatalf("sign-out: %d to %q", p.Status, p.Header.Get("Location"))
	}
	// The ended session's cookie, replayed, leads back too, and opens nothing.
	replay := newBrowserClient(t, h.URL)
	replay.Jar.SetCookies(u, cookies)
	for _, method := range []string{"GET", "POST"} {
		if p := replay.send(method, "/portal/keys", url.Values{}, nil); p.Status != http.StatusSeeOther || p.Header.Get("Location") != back {
			t.Fatalf("%s with the ended session: %d to %q", method, p.Status, p.Header.Get("Location"))
		}
	}
	// Without a return URL: Herald's sign-in, as before.
	plain := newBrowserClient(t, h.URL)
	plain.signIn(portalLink(h, "acme", "sandbox", ""))
	if p := plain.post("/portal/logout", url.Values{"csrf": {plain.csrf("/portal/endpoints")}}); p.Header.Get("Location") != "/portal/login" {
		t.Fatalf("sign-out without a return URL goes to %q", p.Header.Get("Location"))
	}
}
