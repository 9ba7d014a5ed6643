package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// clearOTelEnv makes the test independent of the machine's OTEL_*
// environment.
func clearOTelEnv(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(k, "")
	}
}

func TestTracingIsOffUnlessAnEndpointIsConfigured(t *testing.T) {
	clearOTelEnv(t)
	tr, err := Setup(context.Background(), Config{SampleRatio: 1})
	if err != nil || tr != nil {
		t.Fatalf("Setup without an endpoint = %v, %v; want nil (off)", tr, err)
	}
	// Everything a nil Tracing offers is a no-op.
	ctx, span := tr.StartPublish(context.Background(), domain.Scope{TenantID: "acme"}, 1)
	if span.Traceparent() != "" || ctx != context.Background() {
		t.Fatal("a nil Tracing made a span")
	}
	span.End(PublishResult{}, nil)
	if id := tr.RecordAttempt(&domain.Event{}, "ep", &domain.Attempt{}, domain.DeliverySucceeded, time.Now()); id != "" {
		t.Fatalf("a nil Tracing recorded an attempt in trace %q", id)
	}
	h := http.NotFoundHandler()
	if got := tr.Extract(h); got == nil {
		t.Fatal("Extract of a nil Tracing returned nil")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	if !(Config{}).Enabled() {
		t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT does not turn tracing on")
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if (Config{Endpoint: "http://127.0.0.1:1"}).Enabled() {
		t.Fatal("OTEL_SDK_DISABLED=true does not turn tracing off")
	}
}

func TestSetupRefusesABadEndpointOrRatio(t *testing.T) {
	clearOTelEnv(t)
	for _, c := range []Config{
		{Endpoint: "127.0.0.1:4318", SampleRatio: 1},
		{Endpoint: "ftp://collector", SampleRatio: 1},
		{Endpoint: "http://", SampleRatio: 1},
		{Endpoint: "http://collector:4318", SampleRatio: 1.5},
		{Endpoint: "http://collector:4318", SampleRatio: -0.1},
	} {
		if tr, err := Setup(context.Background(), c); err == nil {
			_ = tr.Shutdown(context.Background())
			t.Errorf("Setup(%+v) accepted it", c)
		}
	}
}

func TestExportURLAddsTheTracesPathOnlyWhenNoneIsGiven(t *testing.T) {
	for in, want := range map[string]string{
		"http://collector:4318":            "http://collector:4318/v1/traces",
		"https://collector:4318/":          "https://collector:4318/v1/traces",
		"https://otel.example/tenant/v1/t": "https://otel.example/tenant/v1/t",
	} {
		if got, err := exportURL(in); err != nil || got != want {
			t.Errorf("exportURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// Spans leave over OTLP/HTTP to the configured endpoint, with the
// standard environment's headers, and Shutdown flushes them.
func TestSpansAreExportedOverOTLPHTTP(t *testing.T) {
	clearOTelEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=k1")
	t.Setenv("OTEL_SERVICE_NAME", "herald-eu")
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	tr, err := Setup(context.Background(), Config{Endpoint: collector.URL, SampleRatio: 1, Version: "1.2.3"})
	if err != nil || tr == nil {
		t.Fatalf("Setup = %v, %v", tr, err)
	}
	_, span := tr.StartPublish(context.Background(), domain.Scope{TenantID: "acme", Environment: domain.Sandbox}, 1)
	tp := span.Traceparent()
	span.End(PublishResult{EventID: "evt_1", EventType: "check.approved", Deliveries: 1}, nil)
	now := time.Now()
	id := tr.RecordAttempt(&domain.Event{ID: "evt_1", TenantID: "acme", Environment: domain.Sandbox, Type: "check.approved", TraceParent: tp},
		"ep_1", &domain.Attempt{ID: "att_1", DeliveryID: "dlv_1", Number: 1, At: now, ResponseStatus: 200}, domain.DeliverySucceeded, now)
	if id == "" || !strings.Contains(tp, id) {
		t.Fatalf("the attempt's trace %q is not the publish's (traceparent %q)", id, tp)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("no spans reached the collector")
	}
	r := got[0]
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
		r.Header.Get("x-collector-key") != "k1" {
		t.Fatalf("export request = %s %s %v", r.Method, r.URL.Path, r.Header)
	}
	var all string
	for _, b := range bodies {
		all += string(b)
	}
	for _, want := range []string{SpanPublish, SpanAttempt, "herald-eu", "1.2.3", "evt_1", "dlv_1"} {
		if !strings.Contains(all, want) {
			t.Errorf("the exported spans lack %q", want)
		}
	}
}

// --otel-sample-ratio samples new traces; a caller's traceparent keeps its
// own decision, and an attempt follows its publish's. An attempt of an
// unsampled trace records no trace id: it would lead nowhere.
func TestSamplingFollowsTheRatioAndTheCaller(t *testing.T) {
	clearOTelEnv(t)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer collector.Close()
	tr, err := Setup(context.Background(), Config{Endpoint: collector.URL, SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	attempt := func(tp string) string {
		now := time.Now()
		return tr.RecordAttempt(&domain.Event{ID: "evt_1", TraceParent: tp}, "ep_1", &domain.Attempt{At: now}, domain.DeliverySucceeded, now)
	}
	publish := func(traceparent string) string {
		var tp string
		h := tr.Extract(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, span := tr.StartPublish(r.Context(), domain.Scope{TenantID: "acme"}, 1)
			tp = span.Traceparent()
			span.End(PublishResult{}, nil)
		}))
		r := httptest.NewRequest(http.MethodPost, "/v1/events", nil)
		if traceparent != "" {
			r.Header.Set("traceparent", traceparent)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		return tp
	}
	if tp := publish(""); !strings.HasSuffix(tp, "-00") || attempt(tp) != "" {
		t.Fatalf("with ratio 0 a new trace was sampled: %q", tp)
	}
	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tp := publish(caller)
	if !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || !strings.HasSuffix(tp, "-01") {
		t.Fatalf("the caller's sampled trace was not kept: %q", tp)
	}
	if id := attempt(tp); id != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("the attempt of a sampled trace recorded trace id %q", id)
	}
}
