package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/server"
	"github.com/heraldhq/herald/internal/signals"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/telemetry"
	"github.com/heraldhq/herald/internal/transform"
)

// minLease leaves room for a useful attempt inside a lease.
const minLease = 10 * time.Second

type serveCmd struct {
	databaseFlag
	masterKeyFlags
	Listen                   string         `env:"HERALD_LISTEN" default:"127.0.0.1:8080" help:"Address the API listens on."`
	OperatorToken            string         `env:"HERALD_OPERATOR_TOKEN" help:"The operator's bearer token. When absent, one is generated on first start and printed once."`
	AllowPrivateDestinations bool           `env:"HERALD_ALLOW_PRIVATE_DESTINATIONS" help:"Allow deliveries to loopback and private addresses (development and tests only)."`
	AllowCIDR                []netip.Prefix `env:"HERALD_ALLOW_CIDR" help:"Address ranges to allow even though they are not public."`
	Lease                    time.Duration  `env:"HERALD_LEASE" default:"60s" help:"How long a claimed delivery is held before another process may take it over. Attempt timeouts are cut to 5 s less than this."`
	RetryAfterCap            time.Duration  `env:"HERALD_RETRY_AFTER_CAP" default:"1h" help:"The longest wait a receiver's Retry-After can impose."`
	Retention                time.Duration  `env:"HERALD_RETENTION" default:"720h" help:"How long events, deliveries and attempts are kept (at least 24h: idempotency keys live as long)."`
	ShutdownGrace            time.Duration  `env:"HERALD_SHUTDOWN_GRACE" default:"30s" help:"On SIGTERM, how long attempts in flight may finish."`
	PprofListen              string         `env:"HERALD_PPROF_LISTEN" help:"Serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060. Off when empty; never expose it publicly."`
	EgressProxy              *url.URL       `env:"HERALD_EGRESS_PROXY" help:"Send every delivery through this proxy (http://… or socks5://…), so receivers see one fixed address."`
	EgressIPs                []netip.Addr   `name:"egress-ips" env:"HERALD_EGRESS_IPS" help:"The addresses deliveries leave from, published at GET /v1/egress-ips for receivers' allowlists."`
	ProductionHTTPSOnly      bool           `env:"HERALD_PRODUCTION_HTTPS_ONLY" default:"true" negatable:"" help:"Refuse http destinations in the production environment (sandbox may always use http)."`
	OTelEndpoint             string         `name:"otel-endpoint" env:"HERALD_OTEL_ENDPOINT" help:"Export OpenTelemetry traces over OTLP/HTTP to this collector URL, e.g. http://127.0.0.1:4318 (a URL without a path posts to /v1/traces). Tracing is off unless this or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set."`
	OTelSampleRatio          float64        `name:"otel-sample-ratio" env:"HERALD_OTEL_SAMPLE_RATIO" default:"1" help:"The share of new traces kept, 0 to 1; a publish whose request carries a traceparent follows its caller's sampling decision."`
	TransformWorkers         int            `env:"HERALD_TRANSFORM_WORKERS" default:"2" help:"How many worker processes run body transforms: the most transforms that run at once."`
	TransformMemoryMiB       int            `name:"transform-memory-mib" env:"HERALD_TRANSFORM_MEMORY_MIB" default:"256" help:"Each transform worker's memory limit in MiB; a program that passes it fails with memory_limit."`
	TransformTimeout         time.Duration  `env:"HERALD_TRANSFORM_TIMEOUT" default:"100ms" help:"A body transform's time limit per run; past it (and a grace of 100ms) its worker is killed."`
	LogLevel                 slog.Level     `env:"HERALD_LOG_LEVEL" default:"info" help:"debug, info, warn or error. info logs every failed attempt and every change of an endpoint; debug adds every successful attempt and every claim."`
	LogFormat                string         `env:"HERALD_LOG_FORMAT" enum:"text,json" default:"text" help:"text (key=value lines) or json (one JSON object a line, for log shippers)."`
	MetricsListen            string         `env:"HERALD_METRICS_LISTEN" help:"Serve Prometheus metrics at /metrics on this address, e.g. 127.0.0.1:9090, apart from the API. Off when empty."`
	MetricsEndpointLabels    bool           `env:"HERALD_METRICS_ENDPOINT_LABELS" help:"Label the delivery and backlog metrics by endpoint too: one series per endpoint, which many endpoints make many."`
	OperatorWebhookURL       string         `name:"operator-webhook-url" env:"HERALD_OPERATOR_WEBHOOK_URL" help:"Send every operational event (endpoint.circuit_opened, endpoint.disabled, endpoint.recovered, delivery.exhausted) of every tenant to this URL, signed like any delivery. Off when empty (a webhook set before is then disabled)."`
	OperatorWebhookSecret    string         `name:"operator-webhook-secret" env:"HERALD_OPERATOR_WEBHOOK_SECRET" help:"The operator webhook's signing secret (whsec_ and the standard base64 of 24 to 64 bytes). When absent, the stored one is kept, or one is generated on first use and printed once."`
	limitFlags
	breakerFlags
}

// limitFlags bound what one client or tenant may hold of the process
// (docs/security.md, "Limits").
type limitFlags struct {
	BodyTimeout                time.Duration `env:"HERALD_BODY_TIMEOUT" default:"10s" help:"How long a request may take to send its body, on every route (the API's operations allow 5s of it). 0 turns it off."`
	MaxHeaderBytes             byteSize      `env:"HERALD_MAX_HEADER_BYTES" default:"64KiB" help:"The largest request header; a larger one is answered 431."`
	MaxConnectionsPerClient    int           `env:"HERALD_MAX_CONNECTIONS_PER_CLIENT" default:"0" help:"Connections one client (an IPv4 address, an IPv6 /64) may hold open. 0: a quarter of --max-connections, at most 512; negative: no bound."`
	MaxConnections             int           `env:"HERALD_MAX_CONNECTIONS" default:"0" help:"Connections all clients may hold open. 0: half the open-file limit; negative: no bound."`
	MaxBodyBytesInFlight       byteSize      `env:"HERALD_MAX_BODY_BYTES_IN_FLIGHT" default:"48MiB" help:"Bytes of API request bodies the process works on at once; more is answered 503 with Retry-After. 0 turns it off."`
	MaxTenantBodyBytesInFlight byteSize      `env:"HERALD_MAX_TENANT_BODY_BYTES_IN_FLIGHT" default:"32MiB" help:"Of those, what one tenant may take; more is answered 429 with Retry-After. 0 turns it off."`
	FailedAuthPerMinute        int           `env:"HERALD_FAILED_AUTH_PER_MINUTE" default:"30" help:"Wrong credentials (API keys, the operator token, sign-ins) one client may present a minute, after --failed-auth-burst; more is answered 429. 0 turns it off."`
	FailedAuthBurst            int           `env:"HERALD_FAILED_AUTH_BURST" default:"10" help:"Wrong credentials one client may present at once before --failed-auth-per-minute applies."`
}

// limits turns the flags into the server's limits, where 0 means the
// default and a negative value no bound.
func (f limitFlags) limits() (server.Limits, error) {
	off := func(n int64) int64 {
		if n == 0 {
			return -1
		}
		return n
	}
	l := server.Limits{
		BodyTimeout: time.Duration(off(int64(f.BodyTimeout))), MaxHeaderBytes: int(f.MaxHeaderBytes),
		ConnectionsPerClient: f.MaxConnectionsPerClient, Connections: f.MaxConnections,
		BodyBytes: off(int64(f.MaxBodyBytesInFlight)), TenantBodyBytes: off(int64(f.MaxTenantBodyBytesInFlight)),
		FailedAuthPerMinute: int(off(int64(f.FailedAuthPerMinute))), FailedAuthBurst: f.FailedAuthBurst,
	}
	// A budget smaller than the largest body (a 16 MiB batch) would refuse
	// that body for ever.
	const largest = 16 << 20
	switch {
	case f.MaxHeaderBytes > 0 && f.MaxHeaderBytes < 4<<10:
		return l, fmt.Errorf("--max-header-bytes %s is too small: at least 4KiB", f.MaxHeaderBytes)
	case f.MaxBodyBytesInFlight > 0 && f.MaxBodyBytesInFlight < largest:
		return l, fmt.Errorf("--max-body-bytes-in-flight %s is smaller than the largest request body (16MiB)", f.MaxBodyBytesInFlight)
	case f.MaxTenantBodyBytesInFlight > 0 && f.MaxTenantBodyBytesInFlight < largest:
		return l, fmt.Errorf("--max-tenant-body-bytes-in-flight %s is smaller than the largest request body (16MiB)", f.MaxTenantBodyBytesInFlight)
	case f.FailedAuthPerMinute > 0 && f.FailedAuthBurst < 1:
		return l, fmt.Errorf("--failed-auth-burst must be at least 1")
	}
	return l, nil
}

// byteSize is a size in bytes given as 64KiB, 32MiB, 1GB or 1048576.
type byteSize int64

func (b *byteSize) UnmarshalText(text []byte) error {
	n, err := humanize.ParseBytes(string(text))
	if err != nil {
		return err
	}
	if n > 1<<50 {
		return fmt.Errorf("%s is too large", text)
	}
	*b = byteSize(n)
	return nil
}

func (b byteSize) String() string { return humanize.IBytes(uint64(b)) }

func (c *serveCmd) Run() error {
	log := newLogger(os.Stderr, c.LogFormat, c.LogLevel)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return c.run(ctx, log, nil)
}

// run serves until ctx ends; ready, when set, learns the listening address.
func (c *serveCmd) run(ctx context.Context, log *slog.Logger, ready func(addr string)) error {
	if c.Retention < 24*time.Hour {
		return fmt.Errorf("--retention %s is too short: idempotency keys must live at least 24h", c.Retention)
	}
	if p := c.EgressProxy; p != nil && p.Scheme != "http" && p.Scheme != "https" && p.Scheme != "socks5" {
		return fmt.Errorf("--egress-proxy %s: the scheme must be http, https or socks5", p.Redacted())
	}
	if c.Lease < minLease {
		return fmt.Errorf("--lease %s is too short: it must be at least %s", c.Lease, minLease)
	}
	limits, err := c.limits()
	if err != nil {
		return err
	}
	breaker, err := c.breaker()
	if err != nil {
		return err
	}
	if c.OTelSampleRatio < 0 || c.OTelSampleRatio > 1 {
		return fmt.Errorf("--otel-sample-ratio %v is not between 0 and 1", c.OTelSampleRatio)
	}
	// Zero (a serveCmd built in code, not from flags) takes the default.
	if c.TransformWorkers < 0 || c.TransformWorkers > 64 {
		return fmt.Errorf("--transform-workers %d: give 1 to 64", c.TransformWorkers)
	}
	if c.TransformMemoryMiB != 0 && (c.TransformMemoryMiB < 32 || c.TransformMemoryMiB > 16<<10) {
		return fmt.Errorf("--transform-memory-mib %d: give 32 to 16384", c.TransformMemoryMiB)
	}
	if c.TransformTimeout != 0 && (c.TransformTimeout < time.Millisecond || c.TransformTimeout > 10*time.Second) {
		return fmt.Errorf("--transform-timeout %s: give 1ms to 10s", c.TransformTimeout)
	}
	tracing, err := telemetry.Setup(ctx, telemetry.Config{
		Endpoint: c.OTelEndpoint, SampleRatio: c.OTelSampleRatio, Version: version, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("--otel-endpoint: %w", err)
	}
	if tracing != nil {
		log.Info("tracing is on: spans are exported over OTLP/HTTP", "sample_ratio", c.OTelSampleRatio)
		defer func() {
			// The spans still buffered go out before the process ends.
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tracing.Shutdown(flushCtx); err != nil {
				log.Warn("exporting the last traces failed", "err", err)
			}
		}()
	}
	st, err := openStore(ctx, c.databaseFlag, c.masterKeyFlags)
	if err != nil {
		return err
	}
	defer st.Close()
	tokenHash, err := c.operatorToken(ctx, st)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if c.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", c.MetricsListen); err != nil {
			return fmt.Errorf("--metrics-listen %s: %w", c.MetricsListen, err)
		}
		defer metricsLn.Close()
	}
	srv, err := server.New(ctx, server.Config{
		Store: st, OperatorTokenHash: tokenHash,
		Egress:    egress.Options{AllowPrivate: c.AllowPrivateDestinations, AllowCIDRs: c.AllowCIDR, ProxyURL: c.EgressProxy},
		EgressIPs: addrs(c.EgressIPs), ProductionHTTPSOnly: c.ProductionHTTPSOnly,
		Lease: c.Lease, RetryAfterCap: c.RetryAfterCap, Retention: c.Retention, ShutdownGrace: c.ShutdownGrace,
		Transforms: transform.PoolConfig{Workers: c.TransformWorkers, Memory: int64(c.TransformMemoryMiB) << 20,
			Limits: transform.Limits{Timeout: c.TransformTimeout}},
		Version: version, Tracing: tracing, Logger: log, MetricsListener: metricsLn, MetricsEndpointLabels: c.MetricsEndpointLabels,
		Limits: limits, OperatorWebhook: signals.Operator{URL: c.OperatorWebhookURL, Secret: c.OperatorWebhookSecret},
		Breaker: breaker, PausedExpiry: c.PausedExpiry,
	})
	if err != nil {
		return err
	}
	if secret := srv.GeneratedOperatorWebhookSecret(); secret != "" {
		fmt.Fprintf(os.Stderr, "\nGenerated the operator webhook's signing secret. It is shown only now; verify its deliveries with it:\n\n    %s\n\n", secret)
	}
	if c.PprofListen != "" {
		go servePprof(c.PprofListen, log)
	}

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	log.Info("herald is listening", "addr", ln.Addr().String(), "version", version, "owner", srv.Owner())
	if ready != nil {
		ready(ln.Addr().String())
	}
	return srv.Serve(ctx, ln)
}

// operatorToken returns the hash of the operator token: the flag's when
// given (and stored, so a later start without it keeps working), else the
// stored one, else a new one that is printed once.
func (c *serveCmd) operatorToken(ctx context.Context, st store.Store) ([]byte, error) {
	if c.OperatorToken != "" {
		sum := credential.Hash(c.OperatorToken)
		if err := st.SetOperatorTokenHash(ctx, sum); err != nil {
			return nil, err
		}
		return sum, nil
	}
	stored, err := st.OperatorTokenHash(ctx)
	if err != nil || stored != nil {
		return stored, err
	}
	token, hash, err := credential.NewOperatorToken()
	if err != nil {
		return nil, err
	}
	if err := st.SetOperatorTokenHash(ctx, hash); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "\nGenerated the operator token. It is shown only now; Herald keeps only its hash:\n\n    %s\n\n", token)
	return hash, nil
}

// newLogger writes the log to w as text or JSON, from level up.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func addrs(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}
