package portal_test

import (
	"context"
	"encoding/json"
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

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"

	"github.com/chromedp/chromedp"
)

// The portal's tests: plain HTTP for the security properties (CSRF,
// cookies, expiry, isolation through the API), and a real headless
// Chromium for what a person does in it. Screenshots go to each test's
// artifact directory: go test -run Portal -artifacts -outputdir DIR.

// portalLink asks the API, as the operator, for a tenant's sign-in link
// that works for expiresIn ("" for the default hour).
func portalLink(h *servertest.Herald, tenant, env, expiresIn string) string {
	h.T.Helper()
	l := servertest.Must(h.Client.CreatePortalSession(h.T.Context(), tenant, &client.PortalSessionCreate{Environment: env, ExpiresIn: expiresIn}))(h.T)
	if !strings.HasPrefix(l.URL, h.URL+"/portal/start?token=hpt_") || time.Until(l.ExpiresAt) > time.Hour+time.Minute {
		h.T.Fatalf("portal link %q expiring %s", l.URL, l.ExpiresAt)
	}
	return l.URL
}

// catalog registers the event types the tests send.
func catalog(h *servertest.Herald) {
	h.T.Helper()
	for name, ex := range map[string]string{
		"webhook.test":          `{"message":"hello from Herald"}`,
		"verification.approved": `{"status":"approved","score":0.98}`,
	} {
		servertest.Must(h.Client.PutEventType(h.T.Context(), name, &client.EventTypePut{Description: name, Example: json.RawMessage(ex)}))(h.T)
	}
}

// browserClient is a cookie-keeping HTTP client that does not follow
// redirects, so the tests see each answer.
type browserClient struct {
	t *testing.T
	*http.Client
	URL string
}

func newBrowserClient(t *testing.T, base string) *browserClient {
	jar, _ := cookiejar.New(nil)
	return &browserClient{t: t, URL: base, Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browserClient) send(method, path string, form url.Values, headers map[string]string) page {
	b.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = b.URL + path
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
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
}

func (b *browserClient) get(path string) page { return b.send("GET", path, nil, nil) }

// post sends a form as a same-origin browser would.
func (b *browserClient) post(path string, form url.Values) page {
	return b.send("POST", path, form, map[string]string{"Origin": b.URL, "Sec-Fetch-Site": "same-origin"})
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browserClient) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfPattern.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token: %.300s", path, p.Status, p.Body)
	}
	return m[1]
}

func (b *browserClient) signIn(link string) {
	b.t.Helper()
	p := b.get(link)
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/portal/endpoints" {
		b.t.Fatalf("sign-in link: %d to %q: %.300s", p.Status, p.Header.Get("Location"), p.Body)
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
	h := servertest.Start(t)
	h.Tenant("acme")
	link := portalLink(h, "acme", "sandbox", "")
	b := newBrowserClient(t, h.URL)
	p := b.get(link)
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/portal/endpoints" {
		t.Fatalf("link answered %d to %q", p.Status, p.Header.Get("Location"))
	}
	c := cookieNamed(t, p.Header, "herald_portal")
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/portal/" || c.MaxAge <= 0 || !strings.HasPrefix(c.Value, "hps_") {
		t.Fatalf("cookie over http: %+v", c)
	}
	if p.Header.Get("Referrer-Policy") != "same-origin" || p.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers: %v", p.Header)
	}
	if got := b.get("/portal/endpoints"); got.Status != http.StatusOK || !strings.Contains(got.Body, "No endpoints in this environment") {
		t.Fatalf("endpoints page: %d %.300s", got.Status, got.Body)
	}
	// The link works once.
	again := newBrowserClient(t, h.URL).get(link)
	if again.Status != http.StatusNotFound || !strings.Contains(again.Body, "used already or has expired") {
		t.Fatalf("second use of the link: %d %.300s", again.Status, again.Body)
	}
	// Behind a TLS-terminating proxy the cookie is Secure.
	tls := newBrowserClient(t, h.URL).send("GET", portalLink(h, "acme", "sandbox", ""), nil, map[string]string{"X-Forwarded-Proto": "https"})
	if c := cookieNamed(t, tls.Header, "herald_portal"); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie over https: %+v", c)
	}
	// The API's link honours the proxy too (raw: the proxy's header).
	var l client.PortalSession
	h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/tenants/acme/portal-sessions", Body: client.PortalSessionCreate{Environment: "production"},
		Headers: map[string]string{"X-Forwarded-Proto": "https"}}).JSON(t, &l)
	if !strings.HasPrefix(l.URL, "https://") {
		t.Fatalf("link behind https proxy: %s", l.URL)
	}
	// Only the operator may open a portal, and only for a tenant that exists.
	ctx := t.Context()
	sandbox := &client.PortalSessionCreate{Environment: "sandbox"}
	_, err := h.Client.WithToken(h.APIKey("acme", "sandbox").Key).CreatePortalSession(ctx, "acme", sandbox)
	servertest.Refused(t, err, http.StatusForbidden)
	_, err = h.Client.CreatePortalSession(ctx, "nobody", sandbox)
	servertest.Refused(t, err, http.StatusNotFound)
	_, err = h.Client.CreatePortalSession(ctx, "acme", &client.PortalSessionCreate{Environment: "sandbox", ExpiresIn: "48h"})
	if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "body.expires_in") {
		t.Fatalf("expires_in refusal: %v", e)
	}
}

func TestPortalLinksAndSessionsExpireAndLogoutEndsTheSession(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	short := portalLink(h, "acme", "sandbox", "1s")
	time.Sleep(1100 * time.Millisecond)
	if p := newBrowserClient(t, h.URL).get(short); p.Status != http.StatusNotFound {
		t.Fatalf("expired link answered %d", p.Status)
	}
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	u, _ := url.Parse(h.URL + "/portal/")
	stolen := b.Jar.Cookies(u)
	token := b.csrf("/portal/endpoints")
	if p := b.post("/portal/logout", url.Values{"csrf": {token}}); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/portal/login" {
		t.Fatalf("logout: %d %q", p.Status, p.Header.Get("Location"))
	}
	// The old cookie, replayed, is worth nothing: the session ended server-side.
	replay := newBrowserClient(t, h.URL)
	replay.Jar.SetCookies(u, stolen)
	if p := replay.get("/portal/endpoints"); p.Status != http.StatusFound || p.Header.Get("Location") != "/portal/login" {
		t.Fatalf("replayed cookie after logout: %d %q", p.Status, p.Header.Get("Location"))
	}
	// Nor as a bearer token on the API.
	_, err := h.Client.WithToken(stolen[0].Value).ListEndpoints(t.Context(), nil)
	servertest.Refused(t, err, http.StatusUnauthorized)

	// A session opened with an API key ends with the key.
	key := h.APIKey("acme", "sandbox")
	k := newBrowserClient(t, h.URL)
	p := k.send("POST", "/portal/login", url.Values{"api_key": {key.Key}}, map[string]string{"Origin": h.URL})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("API-key sign-in: %d %.300s", p.Status, p.Body)
	}
	if got := k.get("/portal/keys"); got.Status != http.StatusOK {
		t.Fatalf("keys page: %d", got.Status)
	}
	// That session cannot switch to production: the key is sandbox's.
	if got := k.post("/portal/environment", url.Values{"csrf": {k.csrf("/portal/keys")}, "environment": {"production"}}); got.Status != http.StatusForbidden {
		t.Fatalf("switch with a sandbox key's session: %d", got.Status)
	}
	kc := h.Client.WithToken(key.Key)
	keys := servertest.Must(kc.ListAPIKeys(t.Context()))(t)
	if err := kc.RevokeAPIKey(t.Context(), keys.Data[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := k.get("/portal/keys"); got.Status != http.StatusFound {
		t.Fatalf("session of a revoked key: %d", got.Status)
	}
	// A wrong key is refused with a message.
	if got := newBrowserClient(t, h.URL).send("POST", "/portal/login", url.Values{"api_key": {"hk_sandbox_nope"}}, nil); got.Status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", got.Status)
	}
}

func TestPortalRefusesCrossSiteAndTokenlessForms(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	token := b.csrf("/portal/keys")
	cases := []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no token", url.Values{}, map[string]string{"Origin": h.URL}},
		{"wrong token", url.Values{"csrf": {"x" + token}}, map[string]string{"Origin": h.URL}},
		{"another site's origin", url.Values{"csrf": {token}}, map[string]string{"Origin": "https://evil.example"}},
		{"opaque origin", url.Values{"csrf": {token}}, map[string]string{"Origin": "null"}},
		{"cross-site fetch", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site fetch", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "same-site"}},
	}
	for _, c := range cases {
		if p := b.send("POST", "/portal/keys", c.form, c.headers); p.Status != http.StatusForbidden {
			t.Errorf("%s: POST answered %d, want 403", c.name, p.Status)
		}
	}
	keys := servertest.Must(h.Client.WithToken(h.APIKey("acme", "sandbox").Key).ListAPIKeys(t.Context()))(t)
	if len(keys.Data) != 1 {
		t.Fatalf("a refused form created keys: %d keys", len(keys.Data))
	}
	if p := b.post("/portal/keys", url.Values{"csrf": {token}}); p.Status != http.StatusOK || !strings.Contains(p.Body, "hk_sandbox_") {
		t.Fatalf("the same form with its token: %d", p.Status)
	}
	// Sign-in forms have no session yet; the origin check still applies.
	if p := newBrowserClient(t, h.URL).send("POST", "/console/login", url.Values{"token": {servertest.Token}}, map[string]string{"Origin": "https://evil.example"}); p.Status != http.StatusForbidden {
		t.Fatalf("cross-site console sign-in: %d", p.Status)
	}
	// The console's session is not the portal's and vice versa.
	if p := b.get("/console/tenants"); p.Status != http.StatusFound {
		t.Fatalf("a portal session opened the console: %d", p.Status)
	}
	op := newBrowserClient(t, h.URL)
	if p := op.send("POST", "/console/login", url.Values{"token": {servertest.Token}}, map[string]string{"Origin": h.URL}); p.Status != http.StatusSeeOther {
		t.Fatalf("console sign-in: %d", p.Status)
	}
	if c := cookieNamed(t, op.send("POST", "/console/login", url.Values{"token": {servertest.Token}}, nil).Header, "herald_console"); !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" {
		t.Fatalf("console cookie: %+v", c)
	}
	if p := op.get("/portal/endpoints"); p.Status != http.StatusFound {
		t.Fatalf("a console session opened the portal: %d", p.Status)
	}
	if p := newBrowserClient(t, h.URL).send("POST", "/console/login", url.Values{"token": {"wrong"}}, nil); p.Status != http.StatusUnauthorized {
		t.Fatalf("wrong operator token: %d", p.Status)
	}
}

// Validation, scope and rate limits are the API's: the portal shows the
// API's own field errors, and a session is limited like a key.
func TestPortalFormsGoThroughTheAPIRules(t *testing.T) {
	h := servertest.Start(t, func(s *servertest.Settings) { s.Config.Egress.AllowPrivate = false })
	h.Tenant("acme")
	servertest.Must(h.Client.UpdateTenant(t.Context(), "acme", &client.TenantUpdate{RateLimitPerMinute: client.Ptr(60), RateLimitBurst: client.Ptr(8)}))(t)
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	token := b.csrf("/portal/endpoints/new")
	p := b.post("/portal/endpoints", url.Values{"csrf": {token}, "url": {"http://10.0.0.5/hook"}, "retry_preset": {"custom"}, "retry_delays": {"5s"}})
	if p.Status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="url-error">[^<]*private address`).MatchString(p.Body) {
		t.Fatalf("private URL: %d %s", p.Status, p.Body)
	}
	p = b.post("/portal/endpoints", url.Values{"csrf": {token}, "url": {"https://example.com/hook"}, "retry_preset": {"custom"}, "retry_delays": {"5s, soon"}})
	if p.Status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="retry-error">[^<]*soon`).MatchString(p.Body) {
		t.Fatalf("bad delay: %d %s", p.Status, p.Body)
	}
	// The session's bucket is the tenant's limit: 8 at once.
	limited := false
	for range 20 {
		if p := b.get("/portal/keys"); p.Status == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("a portal session was never rate limited")
	}
}

func TestPortalASecondTenantSeesNothingOfTheFirst(t *testing.T) {
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	h.Tenant("globex")
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL + "/acme-secret-path", Name: "acme receiver"})
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{"n":1}`), Job: &client.JobRef{ID: "job-acme-1"}})
	rc.Next(5 * time.Second)
	var ds []client.Delivery
	servertest.Eventually(t, 5*time.Second, "the delivery", func() bool {
		ds = h.Deliveries("acme", "sandbox", nil)
		return len(ds) == 1 && ds[0].Status == client.DeliverySucceeded
	})
	key := h.Client.WithToken(h.APIKey("acme", "sandbox").Key)
	keys := servertest.Must(key.ListAPIKeys(t.Context()))(t)

	g := newBrowserClient(t, h.URL)
	g.signIn(portalLink(h, "globex", "sandbox", ""))
	// A refusal may name the id it was asked for (the API's does); any
	// answer showing acme's data, or a success showing any of its ids, leaks.
	data := []string{rc.URL, "acme-secret-path", "acme receiver", "hk_sandbox_"}
	ids := []string{ep.ID, ds[0].ID, "job-acme-1"}
	leaks := func(what string, p page) {
		t.Helper()
		check := data
		if p.Status < 300 && !strings.Contains(p.Body, "No job job-acme-1") && !strings.Contains(p.Body, "Nothing is called job-acme-1") {
			check = append(check, ids...)
		}
		for _, s := range check {
			if strings.Contains(p.Body, s) {
				t.Errorf("%s shows acme's %q", what, s)
			}
		}
	}
	for _, path := range []string{
		"/portal/endpoints/" + ep.ID, "/portal/endpoints/" + ep.ID + "/edit", "/portal/endpoints/" + ep.ID + "/delete",
		"/portal/logs/" + ds[0].ID, "/portal/jobs?id=job-acme-1",
	} {
		p := g.get(path)
		if p.Status != http.StatusNotFound && !(path == "/portal/jobs?id=job-acme-1" && strings.Contains(p.Body, "No job")) {
			t.Errorf("GET %s as globex: %d", path, p.Status)
		}
		leaks(path, p)
	}
	for _, path := range []string{"/portal/endpoints", "/portal/logs", "/portal/logs?endpoint=" + ep.ID, "/portal/logs?job=job-acme-1", "/portal/logs?q=job-acme-1",
		"/portal/jobs", "/portal/event-types", "/portal/test", "/portal/keys", "/portal/verify"} {
		p := g.get(path)
		if p.Status != http.StatusOK {
			t.Errorf("GET %s as globex: %d", path, p.Status)
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
		if p.Status < 400 {
			t.Errorf("POST %s as globex: %d", path, p.Status)
		}
		leaks("POST "+path, p)
	}
	if e := servertest.Must(h.As("acme", "sandbox").GetEndpoint(t.Context(), ep.ID))(t); e.Status != client.EndpointActive || !strings.HasSuffix(e.URL, "/acme-secret-path") {
		t.Fatalf("acme's endpoint changed: %+v", e)
	}
	servertest.Must(key.ListAPIKeys(t.Context()))(t)
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

// newBrowser starts a headless Chromium with a fresh profile (and the
// flags given).
func newBrowser(t *testing.T, flags ...chromedp.ExecAllocatorOption) context.Context {
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
	opts = append(opts, flags...)
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
	h := servertest.Start(t)
	catalog(h)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	// Production already has an endpoint of its own, which sandbox must not show.
	prodEP := h.Endpoint("acme", "production", client.EndpointCreate{URL: rc.URL + "/production", Name: "production receiver"})

	// Sign in through the link; the token leaves the address bar.
	do(t, ctx, chromedp.Navigate(portalLink(h, "acme", "sandbox", "")), chromedp.WaitVisible(chromedp.ID("new-endpoint")))
	if loc := location(t, ctx); loc != h.URL+"/portal/endpoints" {
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
	rc.Trust(secret)
	epURL := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("a.button").href`))
	epID := epURL[strings.LastIndex(epURL, "/")+1:]
	do(t, ctx, chromedp.Navigate(epURL), chromedp.WaitVisible(chromedp.ID("endpoint-status")))
	if html := run(t, ctx, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) {
		t.Fatal("the endpoint page shows the secret again")
	}
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/endpoints"), chromedp.WaitVisible(chromedp.ID("endpoints")))
	if html := run(t, ctx, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) || !strings.Contains(html, "Acme sandbox receiver") {
		t.Fatal("the endpoint list shows the secret, or not the endpoint")
	}

	// Send a test and see the receiver's answer in the page.
	do(t, ctx,
		chromedp.Navigate(h.URL+"/portal/test?endpoint="+epID+"&event_type=verification.approved"),
		chromedp.WaitVisible(chromedp.ID("example")),
	)
	if ex := run(t, ctx, chromedp.Text(chromedp.ID("example"))); !strings.Contains(ex, `"score": 0.98`) {
		t.Fatalf("example payload shown: %q", ex)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("send-test")), chromedp.WaitVisible(chromedp.ID("test-result")))
	got := rc.Next(5 * time.Second)
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
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","score":0.5}`),
		Job: &client.JobRef{ID: "job_7f3a", PartnerParams: json.RawMessage(`{"user_id":"u-123"}`)}})
	rc.Next(5 * time.Second)
	servertest.Eventually(t, 5*time.Second, "both deliveries to succeed", func() bool {
		ds := h.Deliveries("acme", "sandbox", nil)
		return len(ds) == 2 && ds[0].Status == client.DeliverySucceeded && ds[1].Status == client.DeliverySucceeded
	})
	do(t, ctx,
		chromedp.Navigate(h.URL+"/portal/logs"),
		chromedp.WaitVisible(chromedp.ID("log")),
	)
	rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log tbody tr").length`))
	if rows != 2 {
		t.Fatalf("%d rows in the log", rows)
	}
	screenshot(t, ctx, "05-logs")
	// Search by job id.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("q"), "job_7f3a"), chromedp.Click(chromedp.ID("filter")))
	waitFor(t, ctx, `location.search.includes("q=job_7f3a") && document.readyState === "complete" && document.getElementById("log") !== null`)
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log tbody tr").length`)); n != 1 {
		t.Fatalf("%d rows for the job: %s", n, bodyText(t, ctx))
	}
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/logs?status=succeeded"), chromedp.WaitVisible(chromedp.ID("log")))
	testRow := run(t, ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#log tbody tr")].find(r => r.innerText.includes("test")).querySelector("a").href`))
	do(t, ctx, chromedp.Navigate(testRow), chromedp.WaitVisible(chromedp.ID("resend")))
	if body := run(t, ctx, chromedp.Text(chromedp.ID("event-body"))); !strings.Contains(body, `"test": true`) {
		t.Fatalf("the delivery's event: %q", body)
	}
	if page := bodyText(t, ctx); !strings.Contains(page, "webhook-signature") || !strings.Contains(page, "X-Team") {
		t.Fatalf("the attempt's request headers are missing: %s", page)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("resend")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	again := rc.Next(5 * time.Second)
	if again.ID != got.ID || again.Valid != nil {
		t.Fatalf("resend delivered %s (valid: %v), want the same webhook-id %s", again.ID, again.Valid, got.ID)
	}
	servertest.Eventually(t, 5*time.Second, "the resend to be recorded", func() bool {
		do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("resend")))
		return run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("details.attempt").length`)) == 2
	})
	screenshot(t, ctx, "06-delivery-resent")

	// The chart counts them.
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/endpoints/"+epID), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	if label := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("svg.chart").getAttribute("aria-label")`)); !strings.HasPrefix(label, "2 deliveries: 2 succeeded") {
		t.Fatalf("chart label %q", label)
	}
	screenshot(t, ctx, "07-endpoint")

	// Switch to production: none of sandbox's endpoints, but its own.
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/endpoints"), chromedp.WaitVisible(chromedp.ID("env-production")),
		chromedp.Click(chromedp.ID("env-production")), chromedp.WaitVisible(chromedp.CSS(`#env-production[aria-pressed="true"]`)))
	html := run(t, ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if strings.Contains(html, epID) || strings.Contains(html, "Acme sandbox receiver") || !strings.Contains(html, prodEP.ID) {
		t.Fatal("production shows sandbox's endpoint, or not its own")
	}
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/endpoints/"+epID), chromedp.WaitVisible(chromedp.CSS("p.message")))
	if txt := bodyText(t, ctx); !strings.Contains(txt, "not found") {
		t.Fatalf("sandbox's endpoint from production: %s", txt)
	}
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/logs"), chromedp.WaitVisible(chromedp.ID("no-deliveries")))
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/endpoints"), chromedp.WaitVisible(chromedp.ID("endpoints")))
	screenshot(t, ctx, "08-production")
}

func TestPortalBrowserSecondTenantCannotReachTheFirst(t *testing.T) {
	ctx := newBrowser(t)
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	h.Tenant("globex")
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL + "/acme-only", Name: "acme receiver"})
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
	rc.Next(5 * time.Second)
	var ds []client.Delivery
	servertest.Eventually(t, 5*time.Second, "the delivery", func() bool { ds = h.Deliveries("acme", "sandbox", nil); return len(ds) == 1 })

	do(t, ctx, chromedp.Navigate(portalLink(h, "globex", "sandbox", "")), chromedp.WaitVisible(chromedp.ID("no-endpoints")))
	for _, path := range []string{"/portal/endpoints/" + ep.ID, "/portal/endpoints/" + ep.ID + "/edit", "/portal/logs/" + ds[0].ID} {
		do(t, ctx, chromedp.Navigate(h.URL+path), chromedp.WaitVisible(chromedp.CSS("p.message")))
		txt := bodyText(t, ctx)
		if !strings.Contains(txt, "not found") || strings.Contains(txt, "acme") {
			t.Fatalf("%s as globex: %s", path, txt)
		}
	}
	screenshot(t, ctx, "01-foreign-delivery-not-found")
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/logs?endpoint="+ep.ID), chromedp.WaitVisible(chromedp.ID("no-deliveries")))
	if txt := bodyText(t, ctx); strings.Contains(txt, "acme") || strings.Contains(txt, ds[0].ID) {
		t.Fatalf("globex's logs filtered by acme's endpoint: %s", txt)
	}
}

func TestPortalBrowserConsoleOpensAPortalAndShowsHealth(t *testing.T) {
	ctx := newBrowser(t)
	h := servertest.Start(t)
	catalog(h)
	rc := servertest.NewReceiver(t)
	rc.Respond(func(n int, _ *http.Request) int {
		if n%3 == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	consoleSignIn(t, ctx, h)
	do(t, ctx,
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
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Name: "acme receiver", RetryPolicy: &client.RetryPolicy{Preset: "none"}})
	for i := range 9 {
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","score":0.9}`),
			Job: &client.JobRef{ID: "job-" + string(rune('a'+i))}})
	}
	for range 9 {
		rc.Next(5 * time.Second)
	}
	servertest.Eventually(t, 5*time.Second, "the outcomes", func() bool {
		n := 0
		for _, d := range h.Deliveries("acme", "sandbox", nil) {
			if d.Status != client.DeliveryPending {
				n++
			}
		}
		return n == 9
	})
	do(t, ctx, chromedp.Navigate(h.URL+"/console/health"), chromedp.WaitVisible(chromedp.ID("failure-rate")))
	if rate := run(t, ctx, chromedp.Text(chromedp.ID("failure-rate"))); rate != "33%" {
		t.Fatalf("failure rate shown %q", rate)
	}
	if txt := bodyText(t, ctx); !strings.Contains(txt, "acme receiver") {
		t.Fatalf("the failing endpoint is not listed: %s", txt)
	}
	screenshot(t, ctx, "02-health")
	do(t, ctx, chromedp.Navigate(h.URL+"/console/event-types"), chromedp.WaitVisible(chromedp.CSS(`[id="type-webhook.test"]`)))
	screenshot(t, ctx, "03-event-types")

	// Open the tenant's portal from the console and follow the link.
	do(t, ctx,
		chromedp.Navigate(h.URL+"/console/tenants"),
		chromedp.WaitVisible(chromedp.ID("tenants")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Open portal for acme"]`)),
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

func TestPortalBrowserProfileEndpointPreviewSendAndReceiverSettings(t *testing.T) {
	ctx := newBrowser(t)
	h := servertest.Start(t)
	catalog(h)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	const apiSecret = "sk_live_text-secret"

	// A Smart KYC endpoint, its options shown once the profile is chosen.
	do(t, ctx, chromedp.Navigate(portalLink(h, "acme", "sandbox", "")), chromedp.WaitVisible(chromedp.ID("new-endpoint")),
		chromedp.Click(chromedp.ID("new-endpoint")), chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("url"), rc.URL+"/smartkyc"),
		chromedp.SendKeys(chromedp.ID("name"), "Smart KYC receiver"),
		chromedp.SetValue(chromedp.ID("profile"), "smart-kyc"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("profile").dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(chromedp.ID("po-smart-kyc-api_secret")),
		chromedp.SendKeys(chromedp.ID("po-smart-kyc-api_secret"), apiSecret),
		chromedp.SetValue(chromedp.ID("preview_type"), "verification.approved"),
	)
	if hidden := run(t, ctx, chromedp.Evaluate[bool](`document.querySelector('[data-profile="smile-id"]').hidden`)); !hidden {
		t.Fatal("another profile's options are shown")
	}
	screenshot(t, ctx, "01-profile-chosen")

	// The preview: Smart KYC's body and its signature header; nothing saved.
	do(t, ctx, chromedp.Click(chromedp.ID("preview")), chromedp.WaitVisible(chromedp.ID("preview-body")))
	body := run(t, ctx, chromedp.Text(chromedp.ID("preview-body")))
	headers := run(t, ctx, chromedp.Text(chromedp.ID("preview-headers")))
	if !strings.Contains(body, `"event":`) || !strings.Contains(strings.ToLower(headers), "x-smartkyc-signature: "+smartKYCSignature(apiSecret, []byte(body))) {
		t.Fatalf("preview body %s headers %s", body, headers)
	}
	screenshot(t, ctx, "02-preview")

	// Saved with the secret kept from the preview's page.
	do(t, ctx, chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("secret")))
	screenshot(t, ctx, "03-created")
	epURL := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("a.button").href`))
	epID := epURL[strings.LastIndex(epURL, "/")+1:]

	// A test event: the receiver checks Smart KYC's signature as its Node code does.
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/test?endpoint="+epID+"&event_type=verification.approved"), chromedp.WaitVisible(chromedp.ID("send-test")),
		chromedp.Click(chromedp.ID("send-test")), chromedp.WaitVisible(chromedp.ID("test-result")))
	got := rc.Next(5 * time.Second)
	if sig := got.Header.Get("X-SmartKYC-Signature"); sig == "" || sig != smartKYCSignature(apiSecret, got.Body) || !strings.HasPrefix(string(got.Body), `{"event":"submission.approved"`) {
		t.Fatalf("the receiver got %s with X-SmartKYC-Signature %q", got.Body, sig)
	}
	screenshot(t, ctx, "04-test-sent")

	// Edit: OAuth2 with a bad token URL is refused on its field.
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/endpoints/"+epID+"/edit"), chromedp.WaitVisible(chromedp.ID("auth_type")),
		chromedp.SetValue(chromedp.ID("auth_type"), "oauth2_client_credentials"),
		chromedp.SendKeys(chromedp.ID("auth_token_url"), "ftp://auth.example/token"),
		chromedp.SendKeys(chromedp.ID("auth_client_id"), "herald"),
		chromedp.SendKeys(chromedp.ID("auth_client_secret"), "client-secret"),
		chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("auth-error")))
	if msg := run(t, ctx, chromedp.Text(chromedp.ID("auth-error"))); !strings.Contains(msg, "auth.token_url") {
		t.Fatalf("auth error %q", msg)
	}
	screenshot(t, ctx, "05-oauth2-field-error")

	// Corrected, with a client certificate: saved, the profile's secret kept.
	cert, key := clientCertificate(t)
	do(t, ctx, chromedp.SetValue(chromedp.ID("auth_token_url"), rc.URL+"/token"),
		chromedp.SetValue(chromedp.ID("tls_certificate"), cert), chromedp.SetValue(chromedp.ID("tls_key"), key))
	screenshot(t, ctx, "06-oauth2-and-mtls")
	do(t, ctx, chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("endpoint-tls")))
	if auth := run(t, ctx, chromedp.Text(chromedp.ID("endpoint-auth"))); !strings.Contains(auth, "oauth2_client_credentials") {
		t.Fatalf("auth shown %q", auth)
	}
	e := servertest.Must(h.As("acme", "sandbox").GetEndpoint(t.Context(), epID))(t)
	pv := servertest.Must(h.As("acme", "sandbox").PreviewTransform(t.Context(), &client.PreviewRequest{EndpointID: epID,
		Event: &client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","score":0.5}`)}}))(t)
	if e.TLS == nil || e.Auth.TokenURL != rc.URL+"/token" || pv.Headers["X-Smartkyc-Signature"] != smartKYCSignature(apiSecret, []byte(pv.Body)) {
		t.Fatalf("after edit: %+v, signature %q", e, pv.Headers["X-Smartkyc-Signature"])
	}
	screenshot(t, ctx, "07-endpoint-saved")
}
