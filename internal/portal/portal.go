// Package portal is Herald's web interface, built into the binary: the
// tenant portal at /portal/ and the operator console at /console/. Pages are
// rendered on the server from embedded templates, with no script needed to
// use them and nothing loaded from elsewhere.
//
// The portal holds no business rules of its own. Every change, and every
// read of tenant data, is a call to the JSON API's handler in this process
// through Herald's typed Go client (package client), authenticated with the
// browser's session secret, so the API's validation, scoping and rate
// limits apply to the browser exactly as to an API key. Only the sessions
// themselves, the tenant's branding (brand.go) and the charts' aggregate
// counts are read from the store directly.
package portal

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/store"
)

//go:embed templates/*.html assets/*
var files embed.FS

// DefaultSessionTTL is how long a browser stays signed in; it is not
// extended by use, so a stolen cookie is bounded too.
const DefaultSessionTTL = 8 * time.Hour

const (
	tenantCookie   = "herald_portal"
	operatorCookie = "herald_console"
	csrfField      = "csrf"
)

// Config is what the portal needs from the process.
type Config struct {
	// API is the JSON API's handler; the portal calls it in-process.
	API http.Handler
	// Store must implement store.PortalSessions; store.StatsReader, when
	// implemented, feeds the charts and the health page.
	Store  store.Store
	Logger *slog.Logger
	// SessionTTL is how long a sign-in lasts (default DefaultSessionTTL).
	SessionTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
	// Throttle slows down clients that sign in with wrong credentials; nil
	// does not.
	Throttle *limit.Throttle
}

// Portal serves the web pages.
type Portal struct {
	// hc calls the API's handler in this process, without a socket.
	hc       *http.Client
	st       store.Store
	sessions store.PortalSessions
	brands   store.Brandings
	stats    store.StatsReader
	throttle *limit.Throttle
	log      *slog.Logger
	ttl      time.Duration
	now      func() time.Time
	pages    map[string]*template.Template
	mux      *http.ServeMux

	// profileList is the API's built-in delivery profiles, read once:
	// they are compiled in, so they cannot change while the process runs.
	profileMu   sync.Mutex
	profileList []client.Profile
}

// New builds the portal.
func New(cfg Config) (*Portal, error) {
	ps, ok := cfg.Store.(store.PortalSessions)
	if !ok {
		return nil, fmt.Errorf("portal: the store %T keeps no portal sessions", cfg.Store)
	}
	p := &Portal{hc: &http.Client{Transport: client.HandlerTransport(cfg.API)}, st: cfg.Store, sessions: ps, log: cfg.Logger, ttl: cfg.SessionTTL, now: cfg.Now, throttle: cfg.Throttle}
	p.stats, _ = cfg.Store.(store.StatsReader)
	p.brands, _ = cfg.Store.(store.Brandings)
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.ttl <= 0 {
		p.ttl = DefaultSessionTTL
	}
	if p.now == nil {
		p.now = time.Now
	}
	var err error
	if p.pages, err = parsePages(); err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

// Mount registers the portal's paths on mux: /portal/, /console/ and the
// bare / (which leads to the portal).
func (p *Portal) Mount(mux *http.ServeMux) {
	mux.Handle("/portal/", p)
	mux.Handle("/console/", p)
	mux.Handle("GET /{$}", p)
}

func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages carry secrets shown once and per-session tokens: never cached,
	// never framed (but by the origins a tenant's branding allows), never
	// leaking an address (a sign-in link) to another site. ("no-referrer"
	// would make browsers send "Origin: null" on our own forms, which the
	// CSRF check must refuse.)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/portal/assets/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm(r.URL.Path))
	}
	p.mux.ServeHTTP(w, r)
}

// maxForm bounds a form's body: a sign-in form holds one credential; the
// largest other form (an endpoint's, with a CA bundle and a client key in
// it) stays well under the API's own 1 MiB.
func maxForm(path string) int64 {
	if strings.HasSuffix(path, "/login") {
		return 8 << 10
	}
	return 1 << 20
}

// readForm parses a POST form, answering for it when it cannot be read (too
// large, or too slow to arrive).
func (p *Portal) readForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	if err == nil {
		return true
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		p.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than the %d KiB it may be.", tooLarge.Limit>>10))
	case limit.TimedOut(err):
		p.refuse(w, r, http.StatusRequestTimeout, "The form took too long to arrive.")
	default:
		p.refuse(w, r, http.StatusBadRequest, "The form could not be read.")
	}
	return false
}

// throttled answers a client that has presented too many wrong
// credentials, and says so.
func (p *Portal) throttled(w http.ResponseWriter, r *http.Request) bool {
	wait, ok := p.throttle.Check(limit.Client(r))
	if ok {
		return false
	}
	p.tooManyFailures(w, r, wait)
	return true
}

func (p *Portal) tooManyFailures(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := max(1, int(wait.Round(time.Second)/time.Second))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	p.refuse(w, r, http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins from your address. Try again in %d seconds.", secs))
}

// state is what a handler knows of the signed-in browser.
type state struct {
	sess *store.PortalSession
	csrf string
	// api calls the API as the browser, with the session secret.
	api *client.Client
	// brand is a tenant session's branding (nil in the console).
	brand *domain.Branding
}

// apiAs is a client of the API in this process for the browser's request
// r, authenticated with credential. Each call takes r's context, so that
// it ends when the browser goes; the browser's scheme and host become the
// API's, so that the links the API builds (a portal sign-in link) name the
// address the browser used.
func (p *Portal) apiAs(r *http.Request, credential string) *client.Client {
	opts := []client.Option{client.WithHTTPClient(p.hc)}
	// The browser's User-Agent, so that the audit log says what the person
	// used; the address travels in the context (limit.Client).
	if ua := r.UserAgent(); ua != "" {
		opts = append(opts, client.WithUserAgent(ua))
	}
	if secure(r) {
		opts = append(opts, client.WithHeader("X-Forwarded-Proto", "https"))
	}
	return client.New(origin(r), credential, opts...)
}

// problem is the API's refusal that err carries, or nil when the call
// failed otherwise (a cancelled request, a bug).
func problem(err error) *client.Error {
	var e *client.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// detail is a refusal in words, for a page.
func detail(e *client.Error) string { return cmp.Or(e.Detail, http.StatusText(e.Status)) }

type handler func(w http.ResponseWriter, r *http.Request, st *state)

func (p *Portal) routes() {
	m := http.NewServeMux()
	p.mux = m
	assets, _ := fs.Sub(files, "assets")
	m.Handle("GET /portal/assets/", http.StripPrefix("/portal/assets/", http.FileServerFS(assets)))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/portal/", http.StatusFound) })

	// Tenant portal.
	m.HandleFunc("GET /portal/{$}", p.tenant(func(w http.ResponseWriter, r *http.Request, _ *state) {
		http.Redirect(w, r, "/portal/endpoints", http.StatusFound)
	}))
	m.HandleFunc("GET /portal/login", p.tenantLoginPage)
	m.HandleFunc("POST /portal/login", p.tenantLogin)
	m.HandleFunc("GET /portal/start", p.start)
	m.HandleFunc("POST /portal/logout", p.tenant(p.logout(tenantCookie, "/portal/login")))
	m.HandleFunc("POST /portal/environment", p.tenant(p.switchEnvironment))
	m.HandleFunc("GET /portal/endpoints", p.tenant(p.endpoints))
	m.HandleFunc("GET /portal/endpoints/new", p.tenant(p.newEndpoint))
	m.HandleFunc("POST /portal/endpoints", p.tenant(p.createEndpoint))
	m.HandleFunc("GET /portal/endpoints/{id}", p.tenant(p.endpoint))
	m.HandleFunc("GET /portal/endpoints/{id}/edit", p.tenant(p.editEndpoint))
	m.HandleFunc("POST /portal/endpoints/{id}", p.tenant(p.updateEndpoint))
	m.HandleFunc("POST /portal/endpoints/{id}/status", p.tenant(p.endpointStatus))
	m.HandleFunc("POST /portal/endpoints/{id}/rotate", p.tenant(p.rotateSecret))
	m.HandleFunc("POST /portal/endpoints/{id}/recover", p.tenant(p.recoverEndpoint))
	m.HandleFunc("GET /portal/endpoints/{id}/delete", p.tenant(p.confirmDelete))
	m.HandleFunc("POST /portal/endpoints/{id}/delete", p.tenant(p.deleteEndpoint))
	m.HandleFunc("POST /portal/default-callback", p.tenant(p.setDefaultCallback))
	m.HandleFunc("GET /portal/test", p.tenant(p.testPage))
	m.HandleFunc("POST /portal/test", p.tenant(p.sendTest))
	m.HandleFunc("GET /portal/logs", p.tenant(p.logs))
	m.HandleFunc("GET /portal/logs/{id}", p.tenant(p.delivery))
	m.HandleFunc("POST /portal/logs/{id}/resend", p.tenant(p.resend))
	m.HandleFunc("GET /portal/jobs", p.tenant(p.jobs))
	m.HandleFunc("GET /portal/event-types", p.tenant(p.eventCatalog))
	m.HandleFunc("GET /portal/keys", p.tenant(p.keys))
	m.HandleFunc("POST /portal/keys", p.tenant(p.createKey))
	m.HandleFunc("POST /portal/keys/{id}/rotate", p.tenant(p.rotateKey))
	m.HandleFunc("POST /portal/keys/{id}/revoke", p.tenant(p.revokeKey))
	m.HandleFunc("GET /portal/verify", p.tenant(p.verify))
	m.HandleFunc("GET /portal/audit", p.tenant(p.audit))
	m.HandleFunc("GET /portal/brand.css", p.tenant(p.brandStyle))
	m.HandleFunc("GET /portal/brand/logo", p.tenant(p.brandLogo))

	// Operator console.
	m.HandleFunc("GET /console/{$}", p.operator(func(w http.ResponseWriter, r *http.Request, _ *state) {
		http.Redirect(w, r, "/console/tenants", http.StatusFound)
	}))
	m.HandleFunc("GET /console/login", p.consoleLoginPage)
	m.HandleFunc("POST /console/login", p.consoleLogin)
	m.HandleFunc("POST /console/logout", p.operator(p.logout(operatorCookie, "/console/login")))
	m.HandleFunc("GET /console/tenants", p.operator(p.tenants))
	m.HandleFunc("POST /console/tenants", p.operator(p.createTenant))
	m.HandleFunc("POST /console/tenants/{id}/portal-session", p.operator(p.openPortal))
	m.HandleFunc("GET /console/event-types", p.operator(p.eventTypes))
	m.HandleFunc("GET /console/health", p.operator(p.health))
	m.HandleFunc("GET /console/audit", p.operator(p.audit))
	m.HandleFunc("GET /console/erasures", p.operator(p.erasures))
}

// tenant wraps a handler that needs a signed-in tenant browser.
func (p *Portal) tenant(h handler) http.HandlerFunc {
	return p.signedIn(tenantCookie, false, "/portal/login", h)
}

// operator wraps a handler of the operator console.
func (p *Portal) operator(h handler) http.HandlerFunc {
	return p.signedIn(operatorCookie, true, "/console/login", h)
}

func (p *Portal) signedIn(cookie string, operator bool, login string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := p.session(r, cookie)
		if err == nil && st.sess.Operator != operator {
			err = &domain.NotFoundError{Kind: "portal session"}
		}
		if err == nil && !operator {
			st.brand, err = p.brandFor(r, st.sess.TenantID)
			setPolicy(w, st.brand, st.sess.ReturnURL)
		}
		if err != nil {
			if !errors.Is(err, domain.ErrNotFound) {
				p.fail(w, r, nil, err)
				return
			}
			// A session the platform opened goes back to the platform.
			if back := p.endedSession(r); back != "" && !operator {
				http.Redirect(w, r, back, http.StatusSeeOther)
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, login, http.StatusFound)
				return
			}
			p.refuse(w, r, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			if !sameOrigin(r) {
				p.refuseAs(w, r, st, http.StatusForbidden, "This form was sent from another site and was refused.")
				return
			}
			if !p.readForm(w, r) {
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue(csrfField)), []byte(st.csrf)) != 1 {
				p.refuseAs(w, r, st, http.StatusForbidden, "The form's security token is missing or stale. Reload the page and try again.")
				return
			}
		}
		h(w, r, st)
	}
}

// session reads the browser's session from its cookie.
func (p *Portal) session(r *http.Request, cookie string) (*state, error) {
	c, err := r.Cookie(cookie)
	if err != nil || !strings.HasPrefix(c.Value, credential.PortalSessionPrefix) {
		return nil, &domain.NotFoundError{Kind: "portal session"}
	}
	sess, err := p.sessions.PortalSession(r.Context(), credential.Hash(c.Value), p.now())
	if err != nil {
		return nil, err
	}
	return &state{sess: sess, csrf: csrfToken(c.Value), api: p.apiAs(r, c.Value)}, nil
}

// csrfToken is derived from the session secret, which only the browser's
// HttpOnly cookie holds: another site can neither read nor compute it.
func csrfToken(secret string) string {
	sum := sha256.Sum256([]byte("herald-portal-csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sameOrigin refuses requests a browser marks as coming from another site.
// Requests without these headers (not from a browser) still need the CSRF
// token of a session.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false // includes "null"
	}
	host := r.Host
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host = fh
	}
	return strings.EqualFold(u.Host, host)
}

// secure reports whether the browser reached Herald over HTTPS, directly or
// through a proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// origin is the scheme and host the browser reached Herald at, such as
// https://herald.example.com.
func origin(r *http.Request) string {
	if secure(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// setCookie sets (or, with value "", clears) a session cookie. An embedded
// tenant's cookie is SameSite=None, so that it is sent inside the
// platform's frame, and Partitioned, so that it is kept apart per top-level
// site; forged requests are refused by the origin check and the CSRF token,
// which do not depend on SameSite.
func (p *Portal) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time, embed bool) {
	path := "/portal/"
	if name == operatorCookie {
		path = "/console/"
	}
	maxAge := int(time.Until(expires).Seconds())
	if value == "" {
		maxAge = -1
	}
	c := &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	}
	if embed {
		c.Secure, c.SameSite, c.Partitioned = true, http.SameSiteNoneMode, true
	}
	http.SetCookie(w, c)
}

// openSession stores a new, signed-in session and gives the browser its
// cookie; ctx carries the sign-in's audit entry.
func (p *Portal) openSession(ctx context.Context, w http.ResponseWriter, r *http.Request, sess *store.PortalSession) error {
	secret, hash, err := credential.NewPortalSession()
	if err != nil {
		return err
	}
	if err := p.sessions.CreatePortalSession(ctx, sess, nil, hash); err != nil {
		return fmt.Errorf("open portal session: %w", err)
	}
	name, embed := tenantCookie, false
	if sess.Operator {
		name = operatorCookie
	} else {
		b, err := p.brandFor(r, sess.TenantID)
		if err != nil {
			return err
		}
		embed = embeddable(r, b)
	}
	p.setCookie(w, r, name, secret, cookieUntil(sess), embed)
	return nil
}

// start redeems a sign-in link and redirects, so the token leaves the
// address bar and the history.
func (p *Portal) start(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !strings.HasPrefix(token, credential.PortalTokenPrefix) {
		p.refuse(w, r, http.StatusNotFound, "This sign-in link is not valid. Ask for a new one.")
		return
	}
	secret, hash, err := credential.NewPortalSession()
	if err != nil {
		p.fail(w, r, nil, err)
		return
	}
	now := p.now()
	// The store names the session (and so the actor) once it has found it.
	ctx := p.audited(r, &store.PortalSession{}, domain.ActorPortalSession, "", "signed_in")
	sess, err := p.sessions.RedeemPortalSession(ctx, credential.Hash(token), hash, now, now.Add(p.ttl))
	if errors.Is(err, domain.ErrNotFound) {
		p.refuse(w, r, http.StatusNotFound, "This sign-in link was used already or has expired. Ask for a new one.")
		return
	}
	if err != nil {
		p.fail(w, r, nil, err)
		return
	}
	b, err := p.brandFor(r, sess.TenantID)
	if err != nil {
		p.fail(w, r, nil, err)
		return
	}
	setPolicy(w, b, sess.ReturnURL)
	p.setCookie(w, r, tenantCookie, secret, cookieUntil(sess), embeddable(r, b))
	http.Redirect(w, r, "/portal/endpoints", http.StatusSeeOther)
}

func (p *Portal) logout(cookie, login string) handler {
	return func(w http.ResponseWriter, r *http.Request, st *state) {
		ctx := p.audited(r, st.sess, sessionActor(st.sess), st.sess.ID, "signed_out")
		if err := p.sessions.EndPortalSession(ctx, st.sess.ID, p.now()); err != nil {
			p.fail(w, r, st, err)
			return
		}
		p.setCookie(w, r, cookie, "", time.Time{}, embeddable(r, st.brand))
		http.Redirect(w, r, cmp.Or(st.sess.ReturnURL, login), http.StatusSeeOther)
	}
}

// switchEnvironment replaces the session by one of the same tenant in the
// other environment, when the session allows it: ids of one environment
// mean nothing in the other, so the switch lands on the endpoint list.
func (p *Portal) switchEnvironment(w http.ResponseWriter, r *http.Request, st *state) {
	env, err := domain.ParseEnvironment(r.PostFormValue("environment"))
	if err != nil || !st.sess.Allows(env) {
		p.refuseAs(w, r, st, http.StatusForbidden, "This session cannot open that environment. Sign in with a key of that environment.")
		return
	}
	if env != st.sess.Environment {
		next := *st.sess
		next.ID, next.Environment, next.CreatedAt = domain.NewID("pss"), env, p.now()
		ctx := p.audited(r, &next, domain.ActorPortalSession, st.sess.ID, "switched_environment")
		if err := p.openSession(ctx, w, r, &next); err != nil {
			p.fail(w, r, st, err)
			return
		}
		if err := p.sessions.EndPortalSession(r.Context(), st.sess.ID, p.now()); err != nil {
			p.log.Warn("ending the replaced portal session failed", "session", st.sess.ID, "err", err)
		}
	}
	http.Redirect(w, r, "/portal/endpoints", http.StatusSeeOther)
}

func (p *Portal) tenantLoginPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "login.html", &page{Title: "Sign in", Data: loginData{Action: "/portal/login"}})
}

// tenantLogin signs a tenant in with an API key: the session has the key's
// tenant and environment only, and ends when the key stops working.
func (p *Portal) tenantLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		p.refuse(w, r, http.StatusForbidden, "This form was sent from another site and was refused.")
		return
	}
	if p.throttled(w, r) || !p.readForm(w, r) {
		return
	}
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	k, err := p.st.APIKeyByHash(r.Context(), credential.Hash(key))
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		p.fail(w, r, nil, err)
		return
	}
	now := p.now()
	if k == nil || !k.Usable(now) || !strings.HasPrefix(key, credential.APIKeyPrefix) {
		p.throttle.Fail(limit.Client(r))
		p.render(w, r, http.StatusUnauthorized, "login.html", &page{Title: "Sign in",
			Data: loginData{Action: "/portal/login", Error: "That API key is not valid (revoked and expired keys are refused)."}})
		return
	}
	sess := &store.PortalSession{
		ID: domain.NewID("pss"), TenantID: k.TenantID, Environment: k.Environment,
		Environments: []domain.Environment{k.Environment}, APIKeyID: k.ID, CreatedAt: now, ExpiresAt: now.Add(p.ttl),
	}
	if err := p.openSession(p.audited(r, sess, domain.ActorAPIKey, k.ID, "signed_in"), w, r, sess); err != nil {
		p.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, "/portal/endpoints", http.StatusSeeOther)
}

func (p *Portal) consoleLoginPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "login.html", &page{Title: "Operator sign-in", Console: true, Data: loginData{Action: "/console/login", Operator: true}})
}

// consoleLogin checks the operator token by asking the API (an operator-only
// read), so the token's hash stays the API's business alone.
func (p *Portal) consoleLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		p.refuse(w, r, http.StatusForbidden, "This form was sent from another site and was refused.")
		return
	}
	if p.throttled(w, r) || !p.readForm(w, r) {
		return
	}
	// The API counts a wrong token against the browser's address: the
	// call carries the request's context, which names it.
	token := strings.TrimSpace(r.PostFormValue("token"))
	_, err := p.apiAs(r, token).ListTenants(r.Context(), &client.ListParams{Limit: 1})
	if err != nil || token == "" || strings.HasPrefix(token, credential.PortalSessionPrefix) {
		if err != nil && problem(err) == nil {
			p.fail(w, r, nil, err)
			return
		}
		if e := problem(err); e != nil && e.Status == http.StatusTooManyRequests {
			p.tooManyFailures(w, r, e.RetryAfter)
			return
		}
		p.render(w, r, http.StatusUnauthorized, "login.html", &page{Title: "Operator sign-in", Console: true,
			Data: loginData{Action: "/console/login", Operator: true, Error: "That is not the operator token."}})
		return
	}
	now := p.now()
	sess := &store.PortalSession{ID: domain.NewID("pss"), Operator: true, CreatedAt: now, ExpiresAt: now.Add(p.ttl)}
	if err := p.openSession(p.audited(r, sess, domain.ActorOperator, "", "signed_in"), w, r, sess); err != nil {
		p.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, "/console/tenants", http.StatusSeeOther)
}

type loginData struct {
	Action   string
	Operator bool
	Error    string
}

// refuse answers with a short page that explains.
func (p *Portal) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p.refuseAs(w, r, nil, status, msg)
}

// refuseAs refuses a signed-in browser, in its session's page (branded).
func (p *Portal) refuseAs(w http.ResponseWriter, r *http.Request, st *state, status int, msg string) {
	p.render(w, r, status, "message.html", p.pageFor(st, r, http.StatusText(status), msg))
}

// fail logs an unexpected error and answers 500 (or the API's own problem).
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, st *state, err error) {
	if ae := problem(err); ae != nil {
		status := ae.Status
		if status == http.StatusUnauthorized {
			// The session ended between the page's own check and the call.
			status = http.StatusForbidden
		}
		p.render(w, r, status, "message.html", p.pageFor(st, r, http.StatusText(status), detail(ae)))
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	p.log.Error("portal", "path", r.URL.Path, "err", err)
	p.render(w, r, http.StatusInternalServerError, "message.html", p.pageFor(st, r, "Error", "Something went wrong; the operator's log has the details."))
}

func (p *Portal) pageFor(st *state, r *http.Request, title string, data any) *page {
	pg := &page{Title: title, Console: strings.HasPrefix(r.URL.Path, "/console/"), Data: data}
	if st != nil {
		pg.Session, pg.CSRF, pg.Brand = st.sess, st.csrf, st.brand
	}
	return pg
}
