package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/telemetry"
)

// The dispatcher's per-delivery work, without the store: render the body,
// prepare a claimed batch, and one whole send (sign, request, response,
// outcome) to a receiver on loopback. Signing alone is measured by
// webhook's BenchmarkSignerAppendSignature.
//
//	go test -run '^$' -bench . -benchmem ./internal/dispatch

const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// benchEvent is a KYC result of a typical size, with a job.
func benchEvent(seq int) domain.Event {
	now := time.Now()
	return domain.Event{
		ID: domain.NewIDAt(domain.PrefixEvent, now), TenantID: "acme", Environment: domain.Production,
		Type: "verification.approved", Final: true, CreatedAt: now,
		Job: &domain.Job{ID: "job_" + strconv.Itoa(seq), Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-123","job_type":5}`)},
		Data: json.RawMessage(`{"status":"approved","user_id":"u-` + strconv.Itoa(seq) +
			`","country":"GB","document":{"type":"passport","number":"P1234567","expires":"2031-04-30"},"checks":{"document":"clear","face_match":"clear","liveness":"clear","watchlist":"clear"},"score":0.987}`),
	}
}

func BenchmarkRenderEnvelope(b *testing.B) {
	ev := benchEvent(1)
	b.SetBytes(int64(len(renderEnvelope(&ev))))
	b.ReportAllocs()
	for b.Loop() {
		_ = renderEnvelope(&ev)
	}
}

func benchEndpoint(b *testing.B, url string) *endpoint {
	b.Helper()
	e := domain.Endpoint{
		ID: domain.NewID(domain.PrefixEndpoint), TenantID: "acme", Environment: domain.Production, URL: url,
		Status: domain.EndpointActive, TimeoutMS: 15000, MaxConcurrency: 64, Success: domain.Success2xx, Secret: benchSecret,
		UpdatedAt: time.Now(),
	}
	if err := e.RetryPolicy.Normalize(); err != nil {
		b.Fatal(err)
	}
	ep, err := prepare(e, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return ep
}

// BenchmarkPrepareJobs pairs a claimed batch of 256 with its endpoints: 26
// events fanned out to 10 endpoints, each body rendered once.
func BenchmarkPrepareJobs(b *testing.B) {
	eps := map[string]*endpoint{}
	var ids []string
	for i := range 10 {
		ep := benchEndpoint(b, fmt.Sprintf("https://receiver-%d.example.com/hook", i))
		eps[ep.ID] = ep
		ids = append(ids, ep.ID)
	}
	claimed := make([]store.Claimed, 256)
	var ev domain.Event
	for i := range claimed {
		if i%10 == 0 {
			ev = benchEvent(i)
		}
		claimed[i] = store.Claimed{DeliveryID: domain.NewID(domain.PrefixDelivery), EndpointID: ids[i%10], Event: ev}
	}
	lease := time.Now().Add(time.Minute)
	for i := range claimed {
		claimed[i].LeaseUntil = lease
	}
	b.ReportAllocs()
	for b.Loop() {
		jobs, missing := prepareJobs(claimed, eps)
		if len(jobs) != len(claimed) || len(missing) != 0 {
			b.Fatal("unexpected jobs")
		}
	}
}

// BenchmarkSend makes one whole attempt against a receiver on loopback
// that answers 200 at once: what a lane worker does for each delivery,
// short of recording it. The receiver's work is in the figures too.
// serial and parallel run with tracing off, as by default; traced makes
// each attempt's span too (an SDK provider that batches spans to an
// exporter that drops them), from an event published in a trace.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	client := egress.New(egress.Options{AllowPrivate: true})
	ep := benchEndpoint(b, srv.URL+"/hook")
	ev := benchEvent(1)
	ev.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	j := &job{
		claimed: store.Claimed{DeliveryID: domain.NewID(domain.PrefixDelivery), EndpointID: ep.ID, Event: ev},
		ep:      ep, body: renderEnvelope(&ev), leaseEnd: time.Now().Add(time.Hour),
	}
	run := func(b *testing.B, d *Dispatcher, parallel bool) {
		b.ReportAllocs()
		attempt := func() (store.Outcome, bool) {
			o, ok := d.send(j)
			d.trace(j, &o)
			return o, ok
		}
		if !parallel {
			for b.Loop() {
				if o, ok := attempt(); !ok || o.Status != domain.DeliverySucceeded {
					b.Fatalf("send: %+v", o)
				}
			}
			return
		}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if o, ok := attempt(); !ok || o.Status != domain.DeliverySucceeded {
					b.Errorf("send: %+v", o)
					return
				}
			}
		})
	}
	off := New(nil, client, Config{UserAgent: "Herald/bench"})
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	on := New(nil, client, Config{UserAgent: "Herald/bench", Tracing: telemetry.New(tp)})
	b.Run("serial", func(b *testing.B) { run(b, off, false) })
	b.Run("parallel", func(b *testing.B) { run(b, off, true) })
	b.Run("traced-serial", func(b *testing.B) { run(b, on, false) })
}
