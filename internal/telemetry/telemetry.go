// Package telemetry is Herald's OpenTelemetry tracing: the tracer provider
// and its OTLP exporter, the W3C trace context carried in from requests
// and stored with events, and the two spans Herald makes, a publish and an
// attempt. It is off unless configured: a nil *Tracing is tracing off, and
// every method of it costs a nil check.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config says whether and where traces go.
type Config struct {
	// Endpoint is the OTLP/HTTP collector's URL, e.g.
	// http://collector:4318; a URL with no path sends to /v1/traces under
	// it. Empty takes the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT; with neither set, tracing is off.
	Endpoint string
	// SampleRatio is the share of new traces kept, 0 to 1. A trace that a
	// request carries in keeps its caller's decision.
	SampleRatio float64
	// Version is the binary's, for the service.version attribute.
	Version string
	Logger  *slog.Logger
}

// Enabled reports whether c turns tracing on: an endpoint from the flag or
// the standard environment, and OTEL_SDK_DISABLED not true.
func (c Config) Enabled() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return c.Endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// Tracing makes Herald's spans. The zero of a pointer (nil) is tracing
// off.
type Tracing struct {
	tracer   trace.Tracer
	shutdown func(context.Context) error
}

// tracerName is the instrumentation scope of Herald's spans.
const tracerName = "github.com/heraldhq/herald"

// propagator reads and writes W3C traceparent (and tracestate) only:
// Herald carries no baggage.
var propagator = propagation.TraceContext{}

// New traces with tp, which its owner shuts down (tests pass an SDK
// provider with an in-memory exporter). A nil tp is tracing off.
func New(tp trace.TracerProvider) *Tracing {
	if tp == nil {
		return nil
	}
	return &Tracing{tracer: tp.Tracer(tracerName)}
}

// Setup builds the OTLP/HTTP exporter and a batching tracer provider from
// c, or returns nil when c leaves tracing off. Shutdown flushes it.
func Setup(ctx context.Context, c Config) (*Tracing, error) {
	if !c.Enabled() {
		return nil, nil
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return nil, fmt.Errorf("the trace sample ratio %v is not between 0 and 1", c.SampleRatio)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var opts []otlptracehttp.Option
	if c.Endpoint != "" {
		u, err := exportURL(c.Endpoint)
		if err != nil {
			return nil, err
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
	}
	// The rest (headers, TLS, timeout, compression) comes from the
	// standard OTEL_EXPORTER_OTLP_* environment, read by the exporter.
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("build the OTLP trace exporter: %w", err)
	}
	// service.name is herald unless OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES say otherwise: the environment comes last
	// and wins.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "herald"), attribute.String("service.version", c.Version)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("describe the trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	)
	log := c.Logger.With("component", "telemetry")
	// Export failures are the SDK's to report; they must not be silent.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("exporting traces failed", "err", err) }))
	return &Tracing{tracer: tp.Tracer(tracerName), shutdown: tp.Shutdown}, nil
}

// exportURL is where spans are posted: the endpoint as given, or its
// /v1/traces when it names no path (as OTEL_EXPORTER_OTLP_ENDPOINT does).
func exportURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("the OTLP endpoint %q is not an http:// or https:// URL with a host", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// Shutdown exports the spans still buffered, waiting until ctx ends at
// most. It does nothing for a provider New was given.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Extract makes the trace context a request carries in (W3C traceparent)
// the parent of the spans its handling makes. With tracing off, h is
// returned as it is.
func (t *Tracing) Extract(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("traceparent") != "" {
			r = r.WithContext(propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
		}
		h.ServeHTTP(w, r)
	})
}

// traceparent is the W3C traceparent of ctx's span, or "" when it has
// none.
func traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c["traceparent"]
}

// parent is the context a stored traceparent names, as a remote parent.
func parent(traceparent string) context.Context {
	ctx := context.Background()
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// traceID is the id of a span's trace when the span is sampled (exported),
// else "": an id that leads to no trace is no use in the attempt log.
func traceID(s trace.Span) string {
	sc := s.SpanContext()
	if !sc.IsSampled() {
		return ""
	}
	return sc.TraceID().String()
}

// until is the end of a span made after the fact.
func until(end time.Time) trace.SpanEndOption { return trace.WithTimestamp(end) }
