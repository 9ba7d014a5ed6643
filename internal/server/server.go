// Package server builds one Herald process: the dispatcher over the store,
// the API and the portal on one handler, and the background work (wake-ups
// from other processes, retention). `herald serve` and the tests build it
// the same way, so a test exercises what runs in production.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/portal"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/signals"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/telemetry"
	"github.com/heraldhq/herald/internal/transform"
)

// Config is one process's settings; cmd/herald fills it from flags.
type Config struct {
	// Store is open and sealed; the caller closes it after Serve returns.
	Store store.Store
	// OperatorTokenHash is the SHA-256 of the operator token.
	OperatorTokenHash []byte
	// Egress configures the client deliveries leave through (SSRF guard,
	// allowed ranges, proxy).
	Egress egress.Options
	// EgressIPs are published at GET /v1/egress-ips for receivers' allowlists.
	EgressIPs []string
	// ProductionHTTPSOnly refuses http destinations in production.
	ProductionHTTPSOnly bool
	Lease               time.Duration
	RetryAfterCap       time.Duration
	// Retention is how long events, deliveries and attempts are kept.
	Retention time.Duration
	// ShutdownGrace is how long attempts in flight may finish on shutdown.
	ShutdownGrace time.Duration
	// Transforms sets up the worker processes that run body transforms
	// (zero values: transform's defaults).
	Transforms transform.PoolConfig
	// Version goes into the User-Agent of deliveries.
	Version string
	// Tracing makes the spans of publishes and attempts (internal/telemetry);
	// nil is tracing off. Its owner shuts it down after Serve returns.
	Tracing *telemetry.Tracing
	Logger  *slog.Logger
	// MetricsListener, when set, serves the Prometheus exposition at
	// /metrics, apart from the API (--metrics-listen).
	MetricsListener net.Listener
	// MetricsEndpointLabels adds an endpoint label to the delivery and
	// backlog metrics (one series per endpoint).
	MetricsEndpointLabels bool
	// Limits bound what clients may hold; zero fields take the defaults
	// (DefaultLimits), negative ones turn a bound off.
	Limits Limits

	// PortalSessionTTL is how long a portal or console sign-in lasts
	// (default portal.DefaultSessionTTL).
	PortalSessionTTL time.Duration
	// OperatorWebhook, when its URL is set, receives every operational
	// event (docs/operational-events.md); without one, a webhook set
	// before is disabled.
	OperatorWebhook signals.Operator
	// Breaker is the circuit breaker and auto-disable policy; zero fields
	// take domain.DefaultBreaker's.
	Breaker domain.Breaker
	// PausedExpiry is how long a paused endpoint holds a delivery
	// (default 7 days).
	PausedExpiry time.Duration
	// Now is the dispatcher's clock (tests move it); default time.Now.
	Now func() time.Time
}

// Limits bound what one client or tenant may hold of the process
// (docs/security.md, "Limits").
type Limits struct {
	// BodyTimeout is how long a request may take to send its body.
	BodyTimeout time.Duration
	// MaxHeaderBytes bounds a request's header.
	MaxHeaderBytes int
	// ConnectionsPerClient and Connections bound the connections open at
	// once from one client (an IPv4 address, an IPv6 /64) and in all.
	ConnectionsPerClient, Connections int
	// BodyBytes and TenantBodyBytes bound the bytes of API request bodies
	// in flight, in all and per tenant.
	BodyBytes, TenantBodyBytes int64
	// FailedAuthPerMinute and FailedAuthBurst bound wrong credentials
	// (API keys, the operator token, portal sign-ins) per client.
	FailedAuthPerMinute, FailedAuthBurst int
}

// DefaultLimits are the limits of a process that sets none.
func DefaultLimits() Limits {
	perClient, total := limit.DefaultConnections()
	return Limits{
		BodyTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10,
		ConnectionsPerClient: perClient, Connections: total,
		BodyBytes: 48 << 20, TenantBodyBytes: 32 << 20,
		FailedAuthPerMinute: 30, FailedAuthBurst: 10,
	}
}

// withDefaults fills the zero fields from DefaultLimits and turns negative
// ones into 0 (no bound).
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def int64) int64 {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	return Limits{
		BodyTimeout:          time.Duration(pick(int64(l.BodyTimeout), int64(d.BodyTimeout))),
		MaxHeaderBytes:       int(pick(int64(l.MaxHeaderBytes), int64(d.MaxHeaderBytes))),
		ConnectionsPerClient: int(pick(int64(l.ConnectionsPerClient), int64(d.ConnectionsPerClient))),
		Connections:          int(pick(int64(l.Connections), int64(d.Connections))),
		BodyBytes:            pick(l.BodyBytes, d.BodyBytes),
		TenantBodyBytes:      pick(l.TenantBodyBytes, d.TenantBodyBytes),
		FailedAuthPerMinute:  int(pick(int64(l.FailedAuthPerMinute), int64(d.FailedAuthPerMinute))),
		FailedAuthBurst:      int(pick(int64(l.FailedAuthBurst), int64(d.FailedAuthBurst))),
	}
}

// Server is one Herald process, built but not yet serving.
type Server struct {
	cfg        Config
	log        *slog.Logger
	dispatcher *dispatch.Dispatcher
	transforms *transform.Pool
	handler    http.Handler
	metrics    *metrics.Metrics
	budget     *limit.Budget
	signals    *signals.Signals
	// generatedSecret is the operator webhook's signing secret when New
	// made it, to be shown once.
	generatedSecret string
}

// listener is a store that can wake the dispatcher when another process
// commits due work (PostgreSQL's LISTEN/NOTIFY).
type listener interface {
	Listen(ctx context.Context, wake func())
}

// handoffStore is a store whose publishes can hand new deliveries to the
// dispatcher (sqlstore.DB.HandOffTo).
type handoffStore interface {
	HandOffTo(h store.Handoff)
}

// New registers the built-in event types and builds the dispatcher, the
// API and the portal.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	cfg.Limits = cfg.Limits.withDefaults()
	throttle := limit.NewThrottle(cfg.Limits.FailedAuthPerMinute, cfg.Limits.FailedAuthBurst)
	budget := limit.NewBudget(cfg.Limits.BodyBytes, cfg.Limits.TenantBodyBytes)
	if n, err := SeedCatalog(ctx, cfg.Store); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("registered the built-in event types", "added", n)
	}
	m := metrics.New(metrics.Config{Backlog: cfg.Store, EndpointLabels: cfg.MetricsEndpointLabels, Logger: log})
	client := egress.New(cfg.Egress)
	// Transforms run in worker processes of their own, started on first use.
	tcfg := cfg.Transforms
	if tcfg.Logger == nil {
		tcfg.Logger = log
	}
	transforms := transform.NewPool(tcfg)
	operator := cfg.OperatorWebhook
	operator.HTTPSOnly = cfg.ProductionHTTPSOnly
	generated, err := signals.ConfigureOperator(ctx, cfg.Store, client, operator, domain.Now())
	if err != nil {
		return nil, err
	}
	// Operational events are stored as events; the dispatcher, which
	// signals them, delivers them and is woken for them.
	var d *dispatch.Dispatcher
	sig := signals.New(signals.Config{Store: cfg.Store, Operator: cfg.OperatorWebhook.URL != "", Wake: func() { d.Wake() }, Logger: log})
	d = dispatch.New(m.Queue(cfg.Store), client, dispatch.Config{
		Lease: cfg.Lease, Grace: cfg.ShutdownGrace, RetryAfterCap: cfg.RetryAfterCap,
		UserAgent: "Herald/" + cfg.Version, Tracing: cfg.Tracing, Logger: log, Transforms: transforms, Metrics: m,
		EventTypes: cfg.Store,
		Signals:    sig,
		Breaker:    cfg.Breaker, Now: cfg.Now,
	})
	// The dispatcher takes new deliveries at publish where it has room
	// (store.Handoff).
	if h, ok := cfg.Store.(handoffStore); ok {
		h.HandOffTo(d)
	}
	apiHandler, _ := api.New(api.Config{
		Store: cfg.Store, OperatorTokenHash: cfg.OperatorTokenHash, URLs: client, Wake: d.Wake, Sender: d, Previewer: d, Logger: log,
		ProductionHTTPSOnly: cfg.ProductionHTTPSOnly, EgressIPs: cfg.EgressIPs, EgressProxy: cfg.Egress.ProxyURL != nil,
		Budget: budget, Throttle: throttle,
		Tracing: cfg.Tracing,
		Metrics: m,
	})
	// The web portal and console call the API above in-process.
	web, err := portal.New(portal.Config{API: apiHandler, Store: cfg.Store, Logger: log, Throttle: throttle, SessionTTL: cfg.PortalSessionTTL})
	if err != nil {
		return nil, fmt.Errorf("build the portal: %w", err)
	}
	root := http.NewServeMux()
	root.Handle("/", apiHandler)
	root.Handle("GET /readyz", &readiness{store: cfg.Store, dispatcher: d, log: log,
		observe: func(t time.Duration) { m.StoreDuration(metrics.OpReady, t) }})
	web.Mount(root)
	// Every route, the portal's forms as much as the API, has BodyTimeout to
	// send its body; each request knows its client, for the sign-in
	// throttle, also where the portal calls the API in-process. A request's
	// W3C traceparent, when it carries one, is the parent of the spans it
	// makes.
	handler := limit.Clients(limit.BodyDeadline(cfg.Tracing.Extract(root), cfg.Limits.BodyTimeout))
	return &Server{cfg: cfg, log: log, dispatcher: d, transforms: transforms, handler: handler, budget: budget, metrics: m,
		signals: sig, generatedSecret: generated}, nil
}

// GeneratedOperatorWebhookSecret is the operator webhook's signing secret
// when New made it (a first start without --operator-webhook-secret), for
// the caller to show once; empty otherwise.
func (s *Server) GeneratedOperatorWebhookSecret() string { return s.generatedSecret }

// Signals is where the process's operational events go (what the
// dispatcher and the circuit breaker tell).
func (s *Server) Signals() dispatch.Signals { return s.signals }

// BodyBytesInFlight is the bytes of request bodies being worked on now, in
// all and for tenant.
func (s *Server) BodyBytesInFlight(tenant string) (all, ofTenant int64) {
	return s.budget.InFlight(tenant)
}

// Handler serves the API and the portal.
func (s *Server) Handler() http.Handler { return s.handler }

// Owner names this process in the leases it takes.
func (s *Server) Owner() string { return s.dispatcher.Owner() }

// Serve answers on ln and delivers until ctx ends. Then no new work is
// claimed, attempts in flight get ShutdownGrace to finish, and Serve
// returns nil. It returns an error when the listener fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: s.cfg.Limits.MaxHeaderBytes}
	ln = limit.Listen(ln, s.cfg.Limits.ConnectionsPerClient, s.cfg.Limits.Connections)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// After the dispatcher and the API have stopped: their last attempts
	// and previews may still run transforms.
	defer s.transforms.Close()
	if ml := s.cfg.MetricsListener; ml != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metrics.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() {
			if err := msrv.Serve(ml); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("the metrics listener stopped", "err", err)
			}
		}()
		defer msrv.Close()
		s.log.Info("serving metrics", "addr", ml.Addr().String(), "path", "/metrics")
	}
	// Operational events are stored until the dispatcher has stopped, so
	// that its last ones are stored too (the defers run in reverse).
	sctx, stopSignals := context.WithCancel(context.Background())
	signalled := make(chan struct{})
	go func() { s.signals.Run(sctx); close(signalled) }()
	defer func() { stopSignals(); <-signalled }()
	dctx, stopDispatch := context.WithCancel(ctx)
	defer stopDispatch()
	dispatched := make(chan error, 1)
	go func() { dispatched <- s.dispatcher.Run(dctx) }()
	if l, ok := s.cfg.Store.(listener); ok {
		go l.Listen(dctx, s.dispatcher.Wake)
	}
	go retention.Run(dctx, s.cfg.Store, retention.Config{Period: s.cfg.Retention, PausedExpiry: s.cfg.PausedExpiry, Logger: s.log})

	select {
	case <-ctx.Done():
	case err := <-served:
		stopDispatch()
		<-dispatched
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info("shutting down: no new work is claimed; attempts in flight may finish", "grace", s.cfg.ShutdownGrace)
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("http shutdown", "err", err)
	}
	stopDispatch()
	if err := <-dispatched; err != nil {
		s.log.Warn("dispatcher", "err", err)
	}
	s.log.Info("stopped")
	return nil
}
