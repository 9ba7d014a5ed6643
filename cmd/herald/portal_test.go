package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The portal's tests: plain HTTP for the security properties (CSRF,
// cookies, expiry, isolation through the API), and a real headless
// Chromium for what a person does in it. Screenshots go to each test's
// artifact directory: go test -run Portal -artifacts -outputdir DIR.

// portalLink asks the API, as the operator, for a tenant's sign-in link.
func (h *herald) portalLink(tenant, env string, extra ...map[string]any) string {
	h.t.Helper()
	body := map[string]any{"environment": env}
	for _, e := range extra {
		for k, v := range e {
			body[k] = v
		}
	}
	var l struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	h.must(http.StatusCreated, call{method: "POST", path: "/v1/tenants/" + tenant + "/portal-sessions", body: body}).json(h.t, &l)
	if !strings.HasPrefix(l.URL, h.base+"/portal/start?token=hpt_") || time.Until(l.ExpiresAt) > time.Hour+time.Minute {
		h.t.Fatalf("portal link %q expiring %s", l.URL, l.ExpiresAt)
	}
	return l.URL
}

// catalog registers the event types the tests send.
func (h *herald) catalog() {
	h.t.Helper()
	for name, ex := range map[string]string{
		"webhook.test":          `{"message":"hello from Herald"}`,
		"verification.approved": `{"status":"approved","score":0.98}`,
	} {
		h.do(call{method: "PUT", path: "/v1/event-types/" + name, body: `{"description":"` + name + `","example":` + ex + `}`})
	}
}

// browserClient is a cookie-keeping HTTP client that does not follow
// redirects, so the tests see each answer.
type browserClient struct {
	t *testing.T
	*http.Client
	base string
}

func newBrowserClient(t *testing.T, base string) *browserClient {
	jar, _ := cookiejar.New(nil)
	return &browserClient{t: t, base: base, Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browserClient) send(method, path string, form url.Values, headers map[string]string) page {
	b.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = b.base + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browserClient) get(path string) page { return b.send("GET", path, nil, nil) }

// post sends a form as a same-origin browser would.
func (b *browserClient) post(path string, form url.Values) page {
	return b.send("POST", path, form, map[string]string{"Origin": b.base, "Sec-Fetch-Site": "same-origin"})
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browserClient) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfPattern.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token: %.300s", path, p.status, p.body)
	}
	return m[1]
}

func (b *browserClient) signIn(link string) {
	b.t.Helper()
	p := b.get(link)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/endpoints" {
		b.t.Fatalf("sign-in link: %d to %q: %.300s", p.status, p.header.Get("Location"), p.body)
	}
}

func cookieNamed(t *testing.T, h http.Header, name string) *http.Cookie {
	t.Helper()
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", name, h.Values("Set-Cookie"))
	return nil
}

func TestPortalSignInLinkSetsAStrictCookieOnceAndDropsTheToken(t *testing.T) {
	h := startHerald(t)
	h.tenant("acme")
	link := h.portalLink("acme", "sandbox")
	b := newBrowserClient(t, h.base)
	p := b.get(link)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/endpoints" {
		t.Fatalf("link answered %d to %q", p.status, p.header.Get("Location"))
	}
	c := cookieNamed(t, p.header, "herald_portal")
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/portal/" || c.MaxAge <= 0 || !strings.HasPrefix(c.Value, "hps_") {
		t.Fatalf("cookie over http: %+v", c)
	}
	if p.header.Get("Referrer-Policy") != "same-origin" || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers: %v", p.header)
	}
	if got := b.get("/portal/endpoints"); got.status != http.StatusOK || !strings.Contains(got.body, "No endpoints in this environment") {
		t.Fatalf("endpoints page: %d %.300s", got.status, got.body)
	}
	// The link works once.
	again := newBrowserClient(t, h.base).get(link)
	if again.status != http.StatusNotFound || !strings.Contains(again.body, "used already or has expired") {
		t.Fatalf("second use of the link: %d %.300s", again.status, again.body)
	}
	// Behind a TLS-terminating proxy the cookie is Secure.
	tls := newBrowserClient(t, h.base).send("GET", h.portalLink("acme", "sandbox"), nil, map[string]string{"X-Forwarded-Proto": "https"})
	if c := cookieNamed(t, tls.header, "herald_portal"); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie over https: %+v", c)
	}
	// The API's link honours the proxy too.
	var l struct{ URL string }
	h.must(http.StatusCreated, call{method: "POST", path: "/v1/tenants/acme/portal-sessions", body: map[string]any{"environment": "production"},
		headers: map[string]string{"X-Forwarded-Proto": "https"}}).json(t, &l)
	if !strings.HasPrefix(l.URL, "https://") {
		t.Fatalf("link behind https proxy: %s", l.URL)
	}
	// Only the operator may open a portal, and only for a tenant that exists.
	key := h.apiKey("acme", "sandbox")
	h.must(http.StatusForbidden, call{method: "POST", path: "/v1/tenants/acme/portal-sessions", token: &key, body: map[string]any{"environment": "sandbox"}})
	h.must(http.StatusNotFound, call{method: "POST", path: "/v1/tenants/nobody/portal-sessions", body: map[string]any{"environment": "sandbox"}})
	r := h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/tenants/acme/portal-sessions", body: map[string]any{"environment": "sandbox", "expires_in": "48h"}})
	if !strings.Contains(string(r.body), "body.expires_in") {
		t.Fatalf("expires_in refusal: %s", r.body)
	}
}

func TestPortalLinksAndSessionsExpireAndLogoutEndsTheSession(t *testing.T) {
	h := startHerald(t)
	h.tenant("acme")
	short := h.portalLink("acme", "sandbox", map[string]any{"expires_in": "1s"})
	time.Sleep(1100 * time.Millisecond)
	if p := newBrowserClient(t, h.base).get(short); p.status != http.StatusNotFound {
		t.Fatalf("expired link answered %d", p.status)
	}
	b := newBrowserClient(t, h.base)
	b.signIn(h.portalLink("acme", "sandbox"))
	u, _ := url.Parse(h.base + "/portal/")
	stolen := b.Jar.Cookies(u)
	token := b.csrf("/portal/endpoints")
	if p := b.post("/portal/logout", url.Values{"csrf": {token}}); p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/login" {
		t.Fatalf("logout: %d %q", p.status, p.header.Get("Location"))
	}
	// The old cookie, replayed, is worth nothing: the session ended server-side.
	replay := newBrowserClient(t, h.base)
	replay.Jar.SetCookies(u, stolen)
	if p := replay.get("/portal/endpoints"); p.status != http.StatusFound || p.header.Get("Location") != "/portal/login" {
		t.Fatalf("replayed cookie after logout: %d %q", p.status, p.header.Get("Location"))
	}
	// Nor as a bearer token on the API.
	secret := stolen[0].Value
	h.must(http.StatusUnauthorized, call{method: "GET", path: "/v1/endpoints", token: &secret})

	// A session opened with an API key ends with the key.
	key := h.apiKey("acme", "sandbox")
	k := newBrowserClient(t, h.base)
	p := k.send("POST", "/portal/login", url.Values{"api_key": {key}}, map[string]string{"Origin": h.base})
	if p.status != http.StatusSeeOther {
		t.Fatalf("API-key sign-in: %d %.300s", p.status, p.body)
	}
	if got := k.get("/portal/keys"); got.status != http.StatusOK {
		t.Fatalf("keys page: %d", got.status)
	}
	// That session cannot switch to production: the key is sandbox's.
	if got := k.post("/portal/environment", url.Values{"csrf": {k.csrf("/portal/keys")}, "environment": {"production"}}); got.status != http.StatusForbidden {
		t.Fatalf("switch with a sandbox key's session: %d", got.status)
	}
	var keys struct{ Data []struct{ ID string } }
	h.must(http.StatusOK, call{method: "GET", path: "/v1/api-keys", token: &key}).json(t, &keys)
	h.must(http.StatusNoContent, call{method: "DELETE", path: "/v1/api-keys/" + keys.Data[0].ID, token: &key})
	if got := k.get("/portal/keys"); got.status != http.StatusFound {
		t.Fatalf("session of a revoked key: %d", got.status)
	}
	// A wrong key is refused with a message.
	if got := newBrowserClient(t, h.base).send("POST", "/portal/login", url.Values{"api_key": {"hk_sandbox_nope"}}, nil); got.status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", got.status)
	}
}

func TestPortalRefusesCrossSiteAndTokenlessForms(t *testing.T) {
	h := startHerald(t)
	h.tenant("acme")
	b := newBrowserClient(t, h.base)
	b.signIn(h.portalLink("acme", "sandbox"))
	token := b.csrf("/portal/keys")
	cases := []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no token", url.Values{}, map[string]string{"Origin": h.base}},
		{"wrong token", url.Values{"csrf": {"x" + token}}, map[string]string{"Origin": h.base}},
		{"another site's origin", url.Values{"csrf": {token}}, map[string]string{"Origin": "https://evil.example"}},
		{"opaque origin", url.Values{"csrf": {token}}, map[string]string{"Origin": "null"}},
		{"cross-site fetch", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site fetch", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "same-site"}},
	}
	for _, c := range cases {
		if p := b.send("POST", "/portal/keys", c.form, c.headers); p.status != http.StatusForbidden {
			t.Errorf("%s: POST answered %d, want 403", c.name, p.status)
		}
	}
	var keys struct{ Data []any }
	key := h.apiKey("acme", "sandbox")
	h.must(http.StatusOK, call{method: "GET", path: "/v1/api-keys", token: &key}).json(t, &keys)
	if len(keys.Data) != 1 {
		t.Fatalf("a refused form created keys: %d keys", len(keys.Data))
	}
	if p := b.post("/portal/keys", url.Values{"csrf": {token}}); p.status != http.StatusOK || !strings.Contains(p.body, "hk_sandbox_") {
		t.Fatalf("the same form with its token: %d", p.status)
	}
	// Sign-in forms have no session yet; the origin check still applies.
	if p := newBrowserClient(t, h.base).send("POST", "/console/login", url.Values{"token": {testToken}}, map[string]string{"Origin": "https://evil.example"}); p.status != http.StatusForbidden {
		t.Fatalf("cross-site console sign-in: %d", p.status)
	}
	// The console's session is not the portal's and vice versa.
	if p := b.get("/console/tenants"); p.status != http.StatusFound {
		t.Fatalf("a portal session opened the console: %d", p.status)
	}
	op := newBrowserClient(t, h.base)
	if p := op.send("POST", "/console/login", url.Values{"token": {testToken}}, map[string]string{"Origin": h.base}); p.status != http.StatusSeeOther {
		t.Fatalf("console sign-in: %d", p.status)
	}
	if c := cookieNamed(t, op.send("POST", "/console/login", url.Values{"token": {testToken}}, nil).header, "herald_console"); !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" {
		t.Fatalf("console cookie: %+v", c)
	}
	if p := op.get("/portal/endpoints"); p.status != http.StatusFound {
		t.Fatalf("a console session opened the portal: %d", p.status)
	}
	if p := newBrowserClient(t, h.base).send("POST", "/console/login", url.Values{"token": {"wrong"}}, nil); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong operator token: %d", p.status)
	}
}

// Validation, scope and rate limits are the API's: the portal shows the
// API's own field errors, and a session is limited like a key.
func TestPortalFormsGoThroughTheAPIRules(t *testing.T) {
	h := startHerald(t, func(c *serveCmd) { c.AllowPrivateDestinations = false })
	h.tenant("acme")
	h.must(http.StatusOK, call{method: "PATCH", path: "/v1/tenants/acme", body: map[string]any{"rate_limit_per_minute": 60, "rate_limit_burst": 8}})
	b := newBrowserClient(t, h.base)
	b.signIn(h.portalLink("acme", "sandbox"))
	token := b.csrf("/portal/endpoints/new")
	p := b.post("/portal/endpoints", url.Values{"csrf": {token}, "url": {"http://10.0.0.5/hook"}, "retry_preset": {"custom"}, "retry_delays": {"5s"}})
	if p.status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="url-error">[^<]*private address`).MatchString(p.body) {
		t.Fatalf("private URL: %d %s", p.status, p.body)
	}
	p = b.post("/portal/endpoints", url.Values{"csrf": {token}, "url": {"https://example.com/hook"}, "retry_preset": {"custom"}, "retry_delays": {"5s, soon"}})
	if p.status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="retry-error">[^<]*soon`).MatchString(p.body) {
		t.Fatalf("bad delay: %d %s", p.status, p.body)
	}
	// The session's bucket is the tenant's limit: 8 at once.
	limited := false
	for range 20 {
		if p := b.get("/portal/keys"); p.status == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("a portal session was never rate limited")
	}
}

func TestPortalASecondTenantSeesNothingOfTheFirst(t *testing.T) {
	h := startHerald(t)
	rc := newReceiver(t)
	h.tenant("acme")
	h.tenant("globex")
	ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL + "/acme-secret-path", "name": "acme receiver"})
	h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{"n": 1}, "job": map[string]any{"id": "job-acme-1"}})
	rc.next(5 * time.Second)
	var ds []deliveryView
	eventually(t, 5*time.Second, "the delivery", func() bool {
		ds = h.deliveries("acme", "sandbox", "")
		return len(ds) == 1 && ds[0].Status == "succeeded"
	})
	key := h.apiKey("acme", "sandbox")
	var keys struct{ Data []struct{ ID string } }
	h.must(http.StatusOK, call{method: "GET", path: "/v1/api-keys", token: &key}).json(t, &keys)

	g := newBrowserClient(t, h.base)
	g.signIn(h.portalLink("globex", "sandbox"))
	// A refusal may name the id it was asked for (the API's does); any
	// answer showing acme's data, or a success showing any of its ids, leaks.
	data := []string{rc.URL, "acme-secret-path", "acme receiver", "hk_sandbox_"}
	ids := []string{ep.ID, ds[0].ID, "job-acme-1"}
	leaks := func(what string, p page) {
		t.Helper()
		check := data
		if p.status < 300 && !strings.Contains(p.body, "No job job-acme-1") {
			check = append(check, ids...)
		}
		for _, s := range check {
			if strings.Contains(p.body, s) {
				t.Errorf("%s shows acme's %q", what, s)
			}
		}
	}
	for _, path := range []string{
		"/portal/endpoints/" + ep.ID, "/portal/endpoints/" + ep.ID + "/edit", "/portal/endpoints/" + ep.ID + "/delete",
		"/portal/logs/" + ds[0].ID, "/portal/jobs?id=job-acme-1",
	} {
		p := g.get(path)
		if p.status != http.StatusNotFound && !(path == "/portal/jobs?id=job-acme-1" && strings.Contains(p.body, "No job")) {
			t.Errorf("GET %s as globex: %d", path, p.status)
		}
		leaks(path, p)
	}
	for _, path := range []string{"/portal/endpoints", "/portal/logs", "/portal/logs?endpoint=" + ep.ID, "/portal/logs?job=job-acme-1", "/portal/test", "/portal/keys", "/portal/verify"} {
		p := g.get(path)
		if p.status != http.StatusOK {
			t.Errorf("GET %s as globex: %d", path, p.status)
		}
		leaks(path, p)
	}
	token := g.csrf("/portal/keys")
	for _, path := range []string{
		"/portal/endpoints/" + ep.ID, "/portal/endpoints/" + ep.ID + "/status", "/portal/endpoints/" + ep.ID + "/rotate",
		"/portal/endpoints/" + ep.ID + "/delete", "/portal/endpoints/" + ep.ID + "/recover", "/portal/logs/" + ds[0].ID + "/resend",
		"/portal/keys/" + keys.Data[0].ID + "/rotate", "/portal/keys/" + keys.Data[0].ID + "/revoke", "/portal/default-callback", "/portal/test",
	} {
		p := g.post(path, url.Values{"csrf": {token}, "status": {"paused"}, "endpoint_id": {ep.ID}, "endpoint": {ep.ID},
			"event_type": {"a.b"}, "since": {"2020-01-01T00:00"}, "url": {"https://evil.example/"}})
		if p.status < 400 {
			t.Errorf("POST %s as globex: %d", path, p.status)
		}
		leaks("POST "+path, p)
	}
	var e struct{ Status, URL string }
	h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints/" + ep.ID, tenant: "acme", env: "sandbox"}).json(t, &e)
	if e.Status != "active" || !strings.HasSuffix(e.URL, "/acme-secret-path") {
		t.Fatalf("acme's endpoint changed: %+v", e)
	}
	h.must(http.StatusOK, call{method: "GET", path: "/v1/api-keys", token: &key})
}

// Browser tests.

// chromium finds Debian's Chromium; without it the browser tests skip,
// except under CI, where they must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed, and CI=true requires the browser tests: apt-get install -y chromium")
	}
	t.Skip("Chromium is not installed; the browser tests need it (apt-get install -y chromium)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// do runs browser steps, each within a bound, and on failure reports where
// the browser was and what it showed.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := chromedp.Do(sctx, step)
		cancel()
		if err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("browser step %d of %d failed: %v\nat %s showing:\n%.2000s", i+1, len(steps), err, loc, txt)
		}
	}
}

// waitFor waits until a JavaScript expression is true, across navigations
// (which make a single evaluation fail).
func waitFor(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s (last error %v)", expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// screenshot saves the whole page under the test's artifact directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := run(t, ctx, chromedp.FullScreenshot(100)) // 100: PNG; below it Chromium encodes JPEG
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[string](`document.body.innerText`))
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, chromedp.Location())
}

func TestPortalBrowserEndpointTestSendLogsResendAndEnvironments(t *testing.T) {
	ctx := newBrowser(t)
	h := startHerald(t)
	h.catalog()
	h.tenant("acme")
	rc := newReceiver(t)
	// Production already has an endpoint of its own, which sandbox must not show.
	prodEP := h.endpoint("acme", "production", map[string]any{"url": rc.URL + "/production", "name": "production receiver"})

	// Sign in through the link; the token leaves the address bar.
	do(t, ctx, chromedp.Navigate(h.portalLink("acme", "sandbox")), chromedp.WaitVisible(chromedp.ID("new-endpoint")))
	if loc := location(t, ctx); loc != h.base+"/portal/endpoints" {
		t.Fatalf("after sign-in the address is %s", loc)
	}
	screenshot(t, ctx, "01-signed-in")

	// Create an endpoint pointing at the receiver; the secret shows once.
	do(t, ctx,
		chromedp.Click(chromedp.ID("new-endpoint")),
		chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("url"), rc.URL+"/hooks"),
		chromedp.SendKeys(chromedp.ID("name"), "Acme sandbox receiver"),
		chromedp.Click(chromedp.CSS(`input[name="event_types"][value="webhook.test"]`)),
		chromedp.Click(chromedp.CSS(`input[name="event_types"][value="verification.approved"]`)),
		chromedp.SendKeys(chromedp.ID("headers"), "X-Team: kyc"),
	)
	screenshot(t, ctx, "02-new-endpoint-form")
	do(t, ctx, chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("secret")))
	secret := run(t, ctx, chromedp.Value(chromedp.ID("secret")))
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret field holds %q", secret)
	}
	screenshot(t, ctx, "03-secret-shown-once")
	rc.trust(secret)
	epURL := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("a.button").href`))
	epID := epURL[strings.LastIndex(epURL, "/")+1:]
	do(t, ctx, chromedp.Navigate(epURL), chromedp.WaitVisible(chromedp.ID("endpoint-status")))
	if html := run(t, ctx, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) {
		t.Fatal("the endpoint page shows the secret again")
	}
	do(t, ctx, chromedp.Navigate(h.base+"/portal/endpoints"), chromedp.WaitVisible(chromedp.ID("endpoints")))
	if html := run(t, ctx, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) || !strings.Contains(html, "Acme sandbox receiver") {
		t.Fatal("the endpoint list shows the secret, or not the endpoint")
	}

	// Send a test and see the receiver's answer in the page.
	do(t, ctx,
		chromedp.Navigate(h.base+"/portal/test?endpoint="+epID+"&event_type=verification.approved"),
		chromedp.WaitVisible(chromedp.ID("example")),
	)
	if ex := run(t, ctx, chromedp.Text(chromedp.ID("example"))); !strings.Contains(ex, `"score": 0.98`) {
		t.Fatalf("example payload shown: %q", ex)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("send-test")), chromedp.WaitVisible(chromedp.ID("test-result")))
	got := rc.next(5 * time.Second)
	if got.Valid != nil || got.Event.Type != "verification.approved" || got.Header.Get("X-Team") != "kyc" {
		t.Fatalf("the receiver got %+v", got)
	}
	if s := run(t, ctx, chromedp.Text(chromedp.ID("result-status"))); s != "200" {
		t.Fatalf("result status shown %q", s)
	}
	if b := run(t, ctx, chromedp.Text(chromedp.ID("result-body"))); !strings.Contains(b, `"received":true`) {
		t.Fatalf("result body shown %q", b)
	}
	screenshot(t, ctx, "04-test-sent")

	// A real event too, then find the test delivery in the logs and resend it.
	h.publish("acme", "sandbox", map[string]any{"type": "verification.approved", "data": map[string]any{"status": "approved", "score": 0.5},
		"job": map[string]any{"id": "job_7f3a", "partner_params": map[string]any{"user_id": "u-123"}}})
	rc.next(5 * time.Second)
	eventually(t, 5*time.Second, "both deliveries to succeed", func() bool {
		ds := h.deliveries("acme", "sandbox", "")
		return len(ds) == 2 && ds[0].Status == "succeeded" && ds[1].Status == "succeeded"
	})
	do(t, ctx,
		chromedp.Navigate(h.base+"/portal/logs"),
		chromedp.WaitVisible(chromedp.ID("log")),
	)
	rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log tbody tr").length`))
	if rows != 2 {
		t.Fatalf("%d rows in the log", rows)
	}
	screenshot(t, ctx, "05-logs")
	// Filter by job id.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("job"), "job_7f3a"), chromedp.Click(chromedp.ID("filter")))
	waitFor(t, ctx, `location.search.includes("job=job_7f3a") && document.readyState === "complete" && document.getElementById("log") !== null`)
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log tbody tr").length`)); n != 1 {
		t.Fatalf("%d rows for the job: %s", n, bodyText(t, ctx))
	}
	do(t, ctx, chromedp.Navigate(h.base+"/portal/logs?status=succeeded"), chromedp.WaitVisible(chromedp.ID("log")))
	testRow := run(t, ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#log tbody tr")].find(r => r.innerText.includes("test")).querySelector("a").href`))
	do(t, ctx, chromedp.Navigate(testRow), chromedp.WaitVisible(chromedp.ID("resend")))
	if body := run(t, ctx, chromedp.Text(chromedp.ID("event-body"))); !strings.Contains(body, `"test": true`) {
		t.Fatalf("the delivery's event: %q", body)
	}
	if page := bodyText(t, ctx); !strings.Contains(page, "webhook-signature") || !strings.Contains(page, "X-Team") {
		t.Fatalf("the attempt's request headers are missing: %s", page)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("resend")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	again := rc.next(5 * time.Second)
	if again.ID != got.ID || again.Valid != nil {
		t.Fatalf("resend delivered %s (valid: %v), want the same webhook-id %s", again.ID, again.Valid, got.ID)
	}
	eventually(t, 5*time.Second, "the resend to be recorded", func() bool {
		do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("resend")))
		return run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("details.attempt").length`)) == 2
	})
	screenshot(t, ctx, "06-delivery-resent")

	// The chart counts them.
	do(t, ctx, chromedp.Navigate(h.base+"/portal/endpoints/"+epID), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	if label := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("svg.chart").getAttribute("aria-label")`)); !strings.HasPrefix(label, "2 deliveries: 2 succeeded") {
		t.Fatalf("chart label %q", label)
	}
	screenshot(t, ctx, "07-endpoint")

	// Switch to production: none of sandbox's endpoints, but its own.
	do(t, ctx, chromedp.Navigate(h.base+"/portal/endpoints"), chromedp.WaitVisible(chromedp.ID("env-production")),
		chromedp.Click(chromedp.ID("env-production")), chromedp.WaitVisible(chromedp.CSS(`#env-production[aria-pressed="true"]`)))
	html := run(t, ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if strings.Contains(html, epID) || strings.Contains(html, "Acme sandbox receiver") || !strings.Contains(html, prodEP.ID) {
		t.Fatal("production shows sandbox's endpoint, or not its own")
	}
	do(t, ctx, chromedp.Navigate(h.base+"/portal/endpoints/"+epID), chromedp.WaitVisible(chromedp.CSS("p.message")))
	if txt := bodyText(t, ctx); !strings.Contains(txt, "not found") {
		t.Fatalf("sandbox's endpoint from production: %s", txt)
	}
	do(t, ctx, chromedp.Navigate(h.base+"/portal/logs"), chromedp.WaitVisible(chromedp.ID("no-deliveries")))
	do(t, ctx, chromedp.Navigate(h.base+"/portal/endpoints"), chromedp.WaitVisible(chromedp.ID("endpoints")))
	screenshot(t, ctx, "08-production")
}

func TestPortalBrowserSecondTenantCannotReachTheFirst(t *testing.T) {
	ctx := newBrowser(t)
	h := startHerald(t)
	rc := newReceiver(t)
	h.tenant("acme")
	h.tenant("globex")
	ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL + "/acme-only", "name": "acme receiver"})
	h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
	rc.next(5 * time.Second)
	var ds []deliveryView
	eventually(t, 5*time.Second, "the delivery", func() bool { ds = h.deliveries("acme", "sandbox", ""); return len(ds) == 1 })

	do(t, ctx, chromedp.Navigate(h.portalLink("globex", "sandbox")), chromedp.WaitVisible(chromedp.ID("no-endpoints")))
	for _, path := range []string{"/portal/endpoints/" + ep.ID, "/portal/endpoints/" + ep.ID + "/edit", "/portal/logs/" + ds[0].ID} {
		do(t, ctx, chromedp.Navigate(h.base+path), chromedp.WaitVisible(chromedp.CSS("p.message")))
		txt := bodyText(t, ctx)
		if !strings.Contains(txt, "not found") || strings.Contains(txt, "acme") {
			t.Fatalf("%s as globex: %s", path, txt)
		}
	}
	screenshot(t, ctx, "01-foreign-delivery-not-found")
	do(t, ctx, chromedp.Navigate(h.base+"/portal/logs?endpoint="+ep.ID), chromedp.WaitVisible(chromedp.ID("no-deliveries")))
	if txt := bodyText(t, ctx); strings.Contains(txt, "acme") || strings.Contains(txt, ds[0].ID) {
		t.Fatalf("globex's logs filtered by acme's endpoint: %s", txt)
	}
}

func TestPortalBrowserConsoleOpensAPortalAndShowsHealth(t *testing.T) {
	ctx := newBrowser(t)
	h := startHerald(t)
	h.catalog()
	rc := newReceiver(t)
	rc.respond(func(n int, _ *http.Request) int {
		if n%3 == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	do(t, ctx,
		chromedp.Navigate(h.base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("create-tenant")),
		chromedp.SendKeys(chromedp.ID("tenant-id"), "Not Valid"),
		chromedp.SendKeys(chromedp.ID("tenant-name"), "Acme Bank"),
		chromedp.Click(chromedp.ID("create-tenant")),
		chromedp.WaitVisible(chromedp.ID("id-error")),
	)
	screenshot(t, ctx, "01-tenant-field-error")
	do(t, ctx,
		chromedp.SetValue(chromedp.ID("tenant-id"), "acme"),
		chromedp.Click(chromedp.ID("create-tenant")),
		chromedp.WaitVisible(chromedp.ID("tenants")),
	)
	// Traffic for the health page and the chart.
	h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "name": "acme receiver", "retry_policy": map[string]any{"preset": "none"}})
	for i := range 9 {
		h.publish("acme", "sandbox", map[string]any{"type": "verification.approved", "data": map[string]any{"status": "approved", "score": 0.9}, "job": map[string]any{"id": "job-" + string(rune('a'+i))}})
	}
	for range 9 {
		rc.next(5 * time.Second)
	}
	eventually(t, 5*time.Second, "the outcomes", func() bool {
		n := 0
		for _, d := range h.deliveries("acme", "sandbox", "") {
			if d.Status != "pending" {
				n++
			}
		}
		return n == 9
	})
	do(t, ctx, chromedp.Navigate(h.base+"/console/health"), chromedp.WaitVisible(chromedp.ID("failure-rate")))
	if rate := run(t, ctx, chromedp.Text(chromedp.ID("failure-rate"))); rate != "33%" {
		t.Fatalf("failure rate shown %q", rate)
	}
	if txt := bodyText(t, ctx); !strings.Contains(txt, "acme receiver") {
		t.Fatalf("the failing endpoint is not listed: %s", txt)
	}
	screenshot(t, ctx, "02-health")
	do(t, ctx, chromedp.Navigate(h.base+"/console/event-types"), chromedp.WaitVisible(chromedp.CSS(`[id="type-webhook.test"]`)))
	screenshot(t, ctx, "03-event-types")

	// Open the tenant's portal from the console and follow the link.
	do(t, ctx,
		chromedp.Navigate(h.base+"/console/tenants"),
		chromedp.WaitVisible(chromedp.ID("tenants")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Open a portal session for acme"]`)),
		chromedp.WaitVisible(chromedp.ID("portal-link")),
	)
	screenshot(t, ctx, "04-portal-link")
	do(t, ctx, chromedp.Click(chromedp.ID("open-portal")), chromedp.WaitVisible(chromedp.ID("endpoints")))
	if label := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("svg.chart").getAttribute("aria-label")`)); !strings.HasPrefix(label, "9 deliveries: 6 succeeded, 3 failing") {
		t.Fatalf("chart label %q", label)
	}
	screenshot(t, ctx, "05-endpoints-with-chart")
	// On a phone.
	do(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("endpoints")))
	if w := run(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 400 {
		t.Fatalf("the page is %d px wide on a 390 px phone", w)
	}
	screenshot(t, ctx, "06-phone")
	// Every form control has a label.
	unlabelled := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("input:not([type=hidden]), select, textarea")].filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")).map(e => e.name)`))
	if len(unlabelled) > 0 {
		t.Fatalf("controls without a label: %v", unlabelled)
	}
}
