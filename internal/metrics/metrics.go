// Package metrics is Herald's Prometheus exposition: what the API and the
// dispatcher count, and the backlog read from the store when scraped. It
// keeps a registry of its own (no global state), served on a listener of
// its own (--metrics-listen) apart from the API.
//
// Labels are bounded: tenant and environment, a fixed set of outcomes and
// error classes, and store operations named in code. Endpoint labels, one
// series per endpoint, are an opt-in (Config.EndpointLabels).
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// BacklogReader is the store's aggregate of pending deliveries.
type BacklogReader interface {
	Backlog(ctx context.Context, byEndpoint bool) ([]store.BacklogGroup, error)
}

// Config builds the metrics; zero values take the defaults.
type Config struct {
	// Backlog is read when scraped, at most once per BacklogEvery.
	Backlog BacklogReader
	// EndpointLabels adds an endpoint label to the delivery metrics and
	// the backlog: one series per endpoint, which a large installation
	// may not want.
	EndpointLabels bool
	// BacklogEvery is how long a backlog read is reused (default 5 s), so
	// that scrapes, however frequent, cannot load the database.
	BacklogEvery time.Duration
	// BacklogTimeout bounds one backlog read (default 2 s).
	BacklogTimeout time.Duration
	Logger         *slog.Logger
}

// Metrics holds every metric Herald exports.
type Metrics struct {
	cfg Config
	reg *prometheus.Registry

	published   *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	finished    *prometheus.CounterVec
	attemptTime *prometheus.HistogramVec
	takeovers   prometheus.Counter
	handedOver  prometheus.Counter
	storeTime   *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
}

// Store operations, the values of the operation label.
const (
	OpClaim     = "claim"
	OpRecord    = "record"
	OpRelease   = "release"
	OpEndpoints = "endpoints_by_id"
	OpPublish   = "publish"
	OpBacklog   = "backlog"
	OpReady     = "ready"
)

// New registers every metric, with Go's and the process's collectors.
func New(cfg Config) *Metrics {
	if cfg.BacklogEvery <= 0 {
		cfg.BacklogEvery = 5 * time.Second
	}
	if cfg.BacklogTimeout <= 0 {
		cfg.BacklogTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	delivery := []string{"tenant", "environment"}
	if cfg.EndpointLabels {
		delivery = append(delivery, "endpoint")
	}
	m := &Metrics{
		cfg: cfg,
		reg: prometheus.NewRegistry(),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_events_published_total",
			Help: "Events accepted by the API (replays of an idempotency key not counted).",
		}, []string{"tenant", "environment"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_delivery_attempts_total",
			Help: "Delivery attempts made, by result (success or failure) and error class (empty on success).",
		}, append([]string{"result", "error_class"}, delivery...)),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_deliveries_finished_total",
			Help: "Deliveries that reached a final state: succeeded, failed (given up) or cancelled.",
		}, append([]string{"outcome"}, delivery...)),
		attemptTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_delivery_attempt_duration_seconds",
			Help:    "How long delivery attempts took, from the request to the receiver's answer or the error.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_lease_takeovers_total",
			Help: "Deliveries this process claimed after another claim's lease ran out unrecorded (a crashed or stalled process).",
		}),
		handedOver: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_deliveries_handed_over_total",
			Help: "Deliveries the dispatcher took at publish, leased without a claim (docs/delivery.md#handed-over-at-publish).",
		}),
		storeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_store_duration_seconds",
			Help:    "How long the store's hot-path operations took, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"operation"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_rate_limited_requests_total",
			Help: "API requests refused with 429 because the tenant's API key was over its rate limit.",
		}, []string{"tenant"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.published, m.attempts, m.finished, m.attemptTime, m.takeovers, m.handedOver, m.storeTime, m.rateLimited,
	)
	if cfg.Backlog != nil {
		m.reg.MustRegister(newBacklogCollector(m))
	}
	return m
}

// Handler serves the exposition: text, or protobuf to a Prometheus that
// asks for it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.cfg.Logger.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Registry is the registry behind Handler.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Published counts n events accepted in a scope.
func (m *Metrics) Published(s domain.Scope, n int) {
	m.published.WithLabelValues(s.TenantID, string(s.Environment)).Add(float64(n))
}

// RateLimited counts a request refused for a tenant's rate limit.
func (m *Metrics) RateLimited(tenant string) { m.rateLimited.WithLabelValues(tenant).Inc() }

// TookOver counts deliveries claimed after another claim's lease ran out.
func (m *Metrics) TookOver(n int) { m.takeovers.Add(float64(n)) }

// HandedOver counts deliveries the dispatcher took at publish.
func (m *Metrics) HandedOver(n int) { m.handedOver.Add(float64(n)) }

// StoreDuration observes one store operation.
func (m *Metrics) StoreDuration(op string, d time.Duration) {
	m.storeTime.WithLabelValues(op).Observe(d.Seconds())
}

// Attempted counts the outcome of one attempt. A cancellation (an expired
// event, a deleted endpoint) sent nothing: it finishes the delivery but
// is not an attempt.
func (m *Metrics) Attempted(o *store.Outcome) {
	labels := []string{o.Scope.TenantID, string(o.Scope.Environment)}
	if m.cfg.EndpointLabels {
		labels = append(labels, o.EndpointID)
	}
	if o.Status != domain.DeliveryCancelled {
		result, class := "success", ""
		if o.Status != domain.DeliverySucceeded {
			result, class = "failure", errorClass(o.Attempt.ErrorClass)
		}
		m.attempts.WithLabelValues(append([]string{result, class}, labels...)...).Inc()
		m.attemptTime.WithLabelValues(result).Observe(float64(o.Attempt.DurationMS) / 1000)
	}
	if o.Status != domain.DeliveryPending {
		m.finished.WithLabelValues(append([]string{o.Status}, labels...)...).Inc()
	}
}

// errorClasses are the classes the attempt log records (egress's); any
// other value is counted as "other", so the label stays bounded.
var errorClasses = map[string]bool{"timeout": true, "dns": true, "connect": true, "tls": true, "blocked": true, "http": true, "auth": true}

func errorClass(c string) string {
	switch {
	case c == "":
		// A failure decided before sending (a body the endpoint's settings
		// cannot make): no network class applies.
		return "config"
	case errorClasses[c]:
		return c
	}
	return "other"
}

// backlogCollector reads the store's backlog when scraped, reusing a read
// younger than BacklogEvery; concurrent scrapes share one read.
type backlogCollector struct {
	m       *Metrics
	pending *prometheus.Desc
	age     *prometheus.Desc
	errors  prometheus.Counter

	mu     sync.Mutex
	read   time.Time
	groups []store.BacklogGroup
}

func newBacklogCollector(m *Metrics) *backlogCollector {
	labels := []string{"tenant", "environment"}
	if m.cfg.EndpointLabels {
		labels = append(labels, "endpoint")
	}
	return &backlogCollector{
		m: m,
		pending: prometheus.NewDesc("herald_backlog_deliveries",
			"Pending deliveries (not yet delivered, given up or cancelled), read from the store at most every few seconds.", labels, nil),
		age: prometheus.NewDesc("herald_backlog_oldest_age_seconds",
			"Age of the oldest pending delivery: how long it has waited since it was created.", labels, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_backlog_read_errors_total",
			Help: "Backlog reads that failed or timed out; the last good read is exported meanwhile.",
		}),
	}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.age
	c.errors.Describe(ch)
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	groups := c.current()
	now := time.Now()
	for _, g := range groups {
		labels := []string{g.TenantID, string(g.Environment)}
		if c.m.cfg.EndpointLabels {
			labels = append(labels, g.EndpointID)
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(g.Pending), labels...)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, max(0, now.Sub(g.OldestCreatedAt).Seconds()), labels...)
	}
	c.errors.Collect(ch)
}

// current is the backlog, read again when the last read is too old.
func (c *backlogCollector) current() []store.BacklogGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.read.IsZero() && time.Since(c.read) < c.m.cfg.BacklogEvery {
		return c.groups
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.m.cfg.BacklogTimeout)
	defer cancel()
	start := time.Now()
	groups, err := c.m.cfg.Backlog.Backlog(ctx, c.m.cfg.EndpointLabels)
	c.m.StoreDuration(OpBacklog, time.Since(start))
	// A failed read is not retried at every scrape either.
	c.read = time.Now()
	if err != nil {
		c.errors.Inc()
		c.m.cfg.Logger.Warn("metrics: reading the backlog failed; exporting the last good read", "err", err)
		return c.groups
	}
	c.groups = groups
	return groups
}

// Queue is the part of the store the dispatcher uses (dispatch.Queue).
type Queue interface {
	Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error)
	EndpointsByID(ctx context.Context, ids []string) ([]domain.Endpoint, error)
	Record(ctx context.Context, outcomes []store.Outcome) error
	Release(ctx context.Context, owner string, deliveryIDs []string) error
	GetDelivery(ctx context.Context, s domain.Scope, id string) (*domain.Delivery, error)
	TakeTokens(ctx context.Context, b store.TokenBucket, want int, now time.Time) (int, float64, error)
}

// Queue times the dispatcher's store operations.
func (m *Metrics) Queue(q Queue) Queue { return timedQueue{q: q, m: m} }

type timedQueue struct {
	q Queue
	m *Metrics
}

func (t timedQueue) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error) {
	defer t.m.since(OpClaim, time.Now())
	return t.q.Claim(ctx, p)
}

func (t timedQueue) EndpointsByID(ctx context.Context, ids []string) ([]domain.Endpoint, error) {
	defer t.m.since(OpEndpoints, time.Now())
	return t.q.EndpointsByID(ctx, ids)
}

func (t timedQueue) Record(ctx context.Context, outcomes []store.Outcome) error {
	defer t.m.since(OpRecord, time.Now())
	return t.q.Record(ctx, outcomes)
}

func (t timedQueue) Release(ctx context.Context, owner string, ids []string) error {
	defer t.m.since(OpRelease, time.Now())
	return t.q.Release(ctx, owner, ids)
}

// GetDelivery is not timed: the dispatcher reads a delivery only for an
// identical retry whose endpoint's secret was rotated, which is rare.
func (t timedQueue) GetDelivery(ctx context.Context, s domain.Scope, id string) (*domain.Delivery, error) {
	return t.q.GetDelivery(ctx, s, id)
}

// TakeTokens is not timed: it is one small statement, at most about
// twenty a second for each endpoint that waits for its rate limit.
func (t timedQueue) TakeTokens(ctx context.Context, b store.TokenBucket, want int, now time.Time) (int, float64, error) {
	return t.q.TakeTokens(ctx, b, want, now)
}

func (m *Metrics) since(op string, start time.Time) { m.StoreDuration(op, time.Since(start)) }
