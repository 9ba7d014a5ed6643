package api

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/manage"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/telemetry"
)

// Config is what the API needs from the process.
type Config struct {
	Store store.Store
	// OperatorTokenHash is the SHA-256 of the operator token.
	OperatorTokenHash []byte
	// URLs validates destinations when they are saved (the SSRF guard).
	URLs manage.URLChecker
	// Wake tells the dispatcher that deliveries are due now.
	Wake func()
	// Sender attempts a delivery at once (test sends).
	Sender manage.Sender
	// Previewer makes the request an endpoint would get for an event
	// (POST /v1/transforms/preview).
	Previewer Previewer
	// ProductionHTTPSOnly refuses http destinations in production.
	ProductionHTTPSOnly bool
	// EgressIPs are the addresses deliveries leave from, for receivers'
	// allowlists.
	EgressIPs []string
	// EgressProxy says whether deliveries go through a fixed-address proxy.
	EgressProxy bool
	// Budget bounds the bytes of request bodies in flight, in all and per
	// tenant; nil is no bound.
	Budget *limit.Budget
	// Throttle slows down clients that present wrong credentials; nil
	// does not.
	Throttle *limit.Throttle
	// Tracing makes a span of every publish; nil is tracing off.
	Tracing *telemetry.Tracing
	Logger  *slog.Logger
	// Metrics counts publishes and refusals; nil counts nothing.
	Metrics Metrics
}

// Metrics learns what the API accepts and refuses (internal/metrics).
type Metrics interface {
	Published(s domain.Scope, n int)
	RateLimited(tenant string)
	StoreDuration(op string, d time.Duration)
}

type noMetrics struct{}

func (noMetrics) Published(domain.Scope, int)         {}
func (noMetrics) RateLimited(string)                  {}
func (noMetrics) StoreDuration(string, time.Duration) {}

// Previewer makes the request an endpoint would get for an event, signed
// at instant: its body and its headers as the attempt log records them.
type Previewer interface {
	Preview(ctx context.Context, e domain.Endpoint, ev *domain.Event, instant time.Time) (body []byte, headers map[string]string, err error)
}

// APIVersion is the version of the API contract (the /v1 prefix), not of the binary.
const APIVersion = "1.0.0"

// Server holds the API's state.
type Server struct {
	cfg    Config
	store  store.Store
	rules  *manage.Manager
	log    *slog.Logger
	keys   *keyCache
	limits *limits

	tenantsMu sync.Mutex
	tenants   map[string]cachedTenant
}

type cachedTenant struct {
	t       *domain.Tenant
	fetched time.Time
}

// tenantTTL bounds how stale another process's view of a tenant's
// settings (its rate limit) may be. Tenants are never deleted.
const tenantTTL = 30 * time.Second

// New returns the API as an http.Handler, and the huma API for its
// OpenAPI document.
func New(cfg Config) (http.Handler, huma.API) {
	mux, api := build(cfg)
	return mux, api
}

// routes is the mux, remembering every pattern registered on it, so a test
// can hold the OpenAPI document to every route that exists.
type routes struct {
	*http.ServeMux
	patterns []string
}

func (r *routes) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	r.patterns = append(r.patterns, pattern)
	r.ServeMux.HandleFunc(pattern, h)
}

func build(cfg Config) (*routes, huma.API) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	s := &Server{
		cfg: cfg, store: cfg.Store, log: cfg.Logger, keys: newKeyCache(), limits: newLimits(cfg.Store), tenants: map[string]cachedTenant{},
		rules: manage.New(manage.Config{
			Store: cfg.Store, URLs: cfg.URLs, ProductionHTTPSOnly: cfg.ProductionHTTPSOnly, Sender: cfg.Sender, Wake: cfg.Wake,
		}),
	}
	mux := &routes{ServeMux: http.NewServeMux()}
	hc := huma.DefaultConfig("Herald", APIVersion)
	hc.Info.Description = "Herald delivers a platform's events to its customers' servers as signed, retried HTTP callbacks (webhooks), and keeps the record."
	// No licence has been chosen for Herald yet: the document says so (an
	// SPDX LicenseRef, which names a licence SPDX does not list) rather
	// than leave the field out or claim one.
	hc.Info.License = &huma.License{Name: "No licence granted yet; all rights reserved", Identifier: "LicenseRef-All-Rights-Reserved"}
	// The document is generated, not served from a known host: it names the
	// address herald serve listens on by default.
	hc.Servers = []*huma.Server{{
		URL:         "http://127.0.0.1:8080",
		Description: "herald serve's default address (--listen, HERALD_LISTEN); replace it with the address your Herald is served at.",
	}}
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "The operator token, or a tenant's API key (hk_sandbox_… / hk_production_…), which scopes the call to its tenant and environment."},
	}
	hc.Security = []map[string][]string{{"bearer": {}}}
	hc.CreateHooks = nil // no $schema links in responses
	// huma's interactive docs load scripts from a CDN; Herald must work
	// offline, so the document is served (/openapi.json, /openapi.yaml) and
	// docs/openapi.yaml is committed instead.
	hc.DocsPath = ""
	// The audit log's export (GET /v1/audit-log with Accept:
	// application/x-ndjson). The map is huma's shared default: copied.
	hc.Formats = maps.Clone(hc.Formats)
	hc.Formats[ndjsonType] = ndjsonFormat
	api := humago.New(mux, hc)
	api.UseMiddleware(s.authenticate(api), strictQuery(api))

	s.register(api)

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux, api
}

// ScopeHeaders name the tenant and environment of a tenant-scoped call.
type ScopeHeaders struct {
	Tenant      string `header:"Herald-Tenant" doc:"The tenant the call acts for." example:"acme"`
	Environment string `header:"Herald-Environment" doc:"sandbox or production." example:"sandbox"`
}

// tenant returns a tenant, from a short-lived cache.
func (s *Server) tenant(ctx context.Context, id string) (*domain.Tenant, error) {
	s.tenantsMu.Lock()
	c, ok := s.tenants[id]
	s.tenantsMu.Unlock()
	if ok && time.Since(c.fetched) < tenantTTL {
		return c.t, nil
	}
	t, err := s.store.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	s.rememberTenant(t)
	return t, nil
}

func (s *Server) rememberTenant(t *domain.Tenant) {
	s.tenantsMu.Lock()
	s.tenants[t.ID] = cachedTenant{t: t, fetched: time.Now()}
	s.tenantsMu.Unlock()
}

// scope is the tenant and environment a call acts in: an API key's own,
// or for the operator the scope headers, checked.
func (s *Server) scope(ctx context.Context, h ScopeHeaders) (domain.Scope, error) {
	if k := principalFrom(ctx).key; k != nil {
		return domain.Scope{TenantID: k.TenantID, Environment: k.Environment}, nil
	}
	if h.Tenant == "" {
		return domain.Scope{}, huma.Error400BadRequest("the Herald-Tenant header is required for this call",
			&huma.ErrorDetail{Location: "header.Herald-Tenant", Message: "required"})
	}
	if h.Environment == "" {
		return domain.Scope{}, huma.Error400BadRequest("the Herald-Environment header is required for this call (sandbox or production)",
			&huma.ErrorDetail{Location: "header.Herald-Environment", Message: "required"})
	}
	env, err := domain.ParseEnvironment(h.Environment)
	if err != nil {
		return domain.Scope{}, huma.Error400BadRequest("the Herald-Environment header must be sandbox or production",
			&huma.ErrorDetail{Location: "header.Herald-Environment", Message: err.Error(), Value: echo(h.Environment)})
	}
	if _, err := s.tenant(ctx, h.Tenant); err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return domain.Scope{}, huma.Error404NotFound("tenant " + echo(h.Tenant) + " (from the Herald-Tenant header) does not exist")
		}
		return domain.Scope{}, s.problem(err)
	}
	return domain.Scope{TenantID: h.Tenant, Environment: env}, nil
}

// problem turns a store or domain error into an HTTP problem.
func (s *Server) problem(err error) error {
	var ve *domain.ValidationError
	var nf *domain.NotFoundError
	var cf *domain.ConflictError
	switch {
	case errors.As(err, &ve):
		return huma.Error422UnprocessableEntity(ve.Error(), &huma.ErrorDetail{Location: "body." + ve.Field, Message: ve.Msg})
	case errors.As(err, &nf):
		return huma.Error404NotFound(nf.Error())
	case errors.As(err, &cf):
		return huma.Error409Conflict(cf.Error())
	case errors.Is(err, store.ErrDiskFull):
		s.log.Error("the database's disk is full", "err", err)
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("the database's disk is full; nothing was changed. The operator must free space; try again later"),
			http.Header{"Retry-After": {"60"}})
	case errors.Is(err, store.ErrUnavailable):
		s.log.Error("store unavailable", "err", err)
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("the database is unavailable; nothing was changed, try again shortly"),
			http.Header{"Retry-After": {"5"}})
	case errors.Is(err, context.Canceled):
		return huma.NewError(499, "the request was cancelled")
	}
	s.log.Error("internal error", "err", err)
	return huma.Error500InternalServerError("internal error; the operator's log has the details")
}

// List is a page of results.
type List[T any] struct {
	Data []T `json:"data"`
	// NextCursor continues the list; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
}

// PageParams are the common list parameters.
type PageParams struct {
	Cursor string `query:"cursor" doc:"Where the previous page ended (its next_cursor)."`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"At most this many items."`
}

func (p PageParams) page() store.Page { return store.Page{Cursor: p.Cursor, Limit: p.Limit}.Clamp() }

// listOf builds a page whose cursor is the id of its last item when full.
func listOf[T any](items []T, limit int, id func(*T) string) *List[T] {
	l := &List[T]{Data: items}
	if len(items) > 0 && len(items) == limit {
		l.NextCursor = id(&items[len(items)-1])
	}
	return l
}

// Body wraps a response body for huma.
type Body[T any] struct {
	Body T
}

// noParams is the input of an operation that takes no parameters.
type noParams struct{}

// noContent is the output of an operation that answers 204.
type noContent struct{}
