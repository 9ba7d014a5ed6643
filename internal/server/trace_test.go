package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/telemetry"
)

// tracer is an SDK tracer provider that keeps every span in memory, as
// Herald's would export it; sampled always, unless the caller's
// traceparent says otherwise.
func tracer(t *testing.T) (*tracetest.InMemoryExporter, servertest.Option) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return exp, func(s *servertest.Settings) { s.Config.Tracing = telemetry.New(tp) }
}

// spansNamed returns the exported spans of that name, oldest first.
func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	return out
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// publishWithTraceparent publishes one event as a platform that traces
// its own requests would: with a W3C traceparent header.
func publishWithTraceparent(t *testing.T, h *servertest.Herald, url, traceparent string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/events",
		strings.NewReader(`{"type":"check.approved","data":{"status":"approved","document":"P1234567"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+servertest.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Herald-Tenant", "acme")
	req.Header.Set("Herald-Environment", "sandbox")
	req.Header.Set("traceparent", traceparent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out client.PublishResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || out.Deliveries != 1 {
		t.Fatalf("publish: status %d, %+v, %v", resp.StatusCode, out, err)
	}
	return out.ID
}

// The platform's trace, which the publish request carries in.
const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// A trace follows an event from the publish request through every attempt:
// the caller's traceparent is the publish span's parent, each attempt (a
// failure, then the retry that succeeds) is a child of the publish span,
// and the attempt log shows the trace's id. Spans carry ids, the attempt's
// number, status and error class, never a body, URL or secret, and the
// receiver is not sent the trace context.
func TestATraceFollowsAnEventFromPublishThroughEveryAttempt(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		exp, traced := tracer(t)
		h := start(traced)
		rc := servertest.NewReceiver(t)
		rc.Respond(func(n int, _ *http.Request) int {
			if n == 1 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL + "/hook?token=s3cr3t-in-url",
			RetryPolicy: &client.RetryPolicy{Delays: []string{"200ms"}}})
		id := publishWithTraceparent(t, h, h.URL, "00-"+callerTrace+"-"+callerSpan+"-01")

		var d *client.Delivery
		servertest.Eventually(t, 10*time.Second, "the retry to succeed", func() bool {
			ds := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{EventID: id})
			if len(ds) == 1 && ds[0].Status == client.DeliverySucceeded {
				d = h.Delivery("acme", "sandbox", ds[0].ID)
				return true
			}
			return false
		})
		for range 2 {
			if got := rc.Next(time.Second); got.Header.Get("traceparent") != "" || got.Header.Get("tracestate") != "" {
				t.Fatalf("the receiver was sent the trace context: %v", got.Header)
			}
		}

		pubs := spansNamed(exp, telemetry.SpanPublish)
		if len(pubs) != 1 {
			t.Fatalf("%d publish spans, want 1", len(pubs))
		}
		pub := pubs[0]
		if pub.Parent.TraceID().String() != callerTrace || pub.Parent.SpanID().String() != callerSpan || !pub.Parent.IsRemote() {
			t.Fatalf("publish span's parent = %v, want the caller's span %s", pub.Parent, callerSpan)
		}
		if pub.SpanContext.TraceID().String() != callerTrace || pub.SpanKind != trace.SpanKindProducer {
			t.Fatalf("publish span = %+v, want a producer span in the caller's trace", pub.SpanContext)
		}
		pa := attrs(pub)
		if pa[telemetry.AttrTenant].AsString() != "acme" || pa[telemetry.AttrEnvironment].AsString() != "sandbox" ||
			pa[telemetry.AttrEventID].AsString() != id || pa[telemetry.AttrEventType].AsString() != "check.approved" ||
			pa[telemetry.AttrEventCount].AsInt64() != 1 || pa[telemetry.AttrDeliveries].AsInt64() != 1 {
			t.Fatalf("publish span attributes = %v", pub.Attributes)
		}

		atts := spansNamed(exp, telemetry.SpanAttempt)
		if len(atts) != 2 {
			t.Fatalf("%d attempt spans, want 2", len(atts))
		}
		if len(d.Attempts) != 2 {
			t.Fatalf("delivery has %d attempts, want 2", len(d.Attempts))
		}
		for i, s := range atts {
			if s.SpanContext.TraceID() != pub.SpanContext.TraceID() || s.Parent.SpanID() != pub.SpanContext.SpanID() {
				t.Fatalf("attempt %d is in trace %s under span %s, want trace %s under the publish span %s",
					i+1, s.SpanContext.TraceID(), s.Parent.SpanID(), pub.SpanContext.TraceID(), pub.SpanContext.SpanID())
			}
			if got := d.Attempts[i].TraceID; got != callerTrace {
				t.Fatalf("attempt %d's trace_id in the API = %q, want %s", i+1, got, callerTrace)
			}
			a := attrs(s)
			if a[telemetry.AttrTenant].AsString() != "acme" || a[telemetry.AttrEnvironment].AsString() != "sandbox" ||
				a[telemetry.AttrEndpoint].AsString() != ep.ID || a[telemetry.AttrEventID].AsString() != id ||
				a[telemetry.AttrDelivery].AsString() != d.ID || a[telemetry.AttrAttempt].AsString() != d.Attempts[i].ID ||
				a[telemetry.AttrAttemptNumber].AsInt64() != int64(i+1) || s.SpanKind != trace.SpanKindClient {
				t.Fatalf("attempt %d's span attributes = %v", i+1, s.Attributes)
			}
			for _, kv := range s.Attributes {
				if v := kv.Value.Emit(); strings.Contains(v, "s3cr3t") || strings.Contains(v, "P1234567") || strings.Contains(v, "received") {
					t.Fatalf("attempt %d's span carries a URL or a body: %s=%s", i+1, kv.Key, v)
				}
			}
		}
		first, second := attrs(atts[0]), attrs(atts[1])
		if first[telemetry.AttrHTTPStatus].AsInt64() != 500 || first[telemetry.AttrErrorType].AsString() != "http" ||
			first[telemetry.AttrDeliveryStatus].AsString() != "pending" || atts[0].Status.Code != codes.Error {
			t.Fatalf("the failed attempt's span = %v, status %v", atts[0].Attributes, atts[0].Status)
		}
		if second[telemetry.AttrHTTPStatus].AsInt64() != 200 || second[telemetry.AttrErrorType].Emit() != "" ||
			second[telemetry.AttrDeliveryStatus].AsString() != "succeeded" || atts[1].Status.Code == codes.Error {
			t.Fatalf("the succeeding attempt's span = %v, status %v", atts[1].Attributes, atts[1].Status)
		}
		if atts[0].StartTime.Sub(d.Attempts[0].At).Abs() > time.Millisecond {
			t.Fatalf("the attempt span starts at %v, the attempt at %v", atts[0].StartTime, d.Attempts[0].At)
		}
	})
}

// A batch publish without a caller's trace starts one: one publish span
// with no parent, and each event's attempt under it.
func TestABatchPublishStartsATraceItsAttemptsJoin(t *testing.T) {
	exp, traced := tracer(t)
	h := servertest.Start(t, traced)
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
	res := servertest.Must(h.As("acme", "sandbox").PublishBatch(t.Context(), []client.PublishEvent{
		{Type: "check.approved", Data: json.RawMessage(`{}`)},
		{Type: "check.declined", Data: json.RawMessage(`{}`)},
	}))(t)
	var ids []string
	for _, r := range res {
		ids = append(ids, r.ID)
	}
	servertest.Eventually(t, 10*time.Second, "both attempts' spans", func() bool {
		return len(spansNamed(exp, telemetry.SpanAttempt)) == 2
	})
	pubs := spansNamed(exp, telemetry.SpanPublish)
	if len(pubs) != 1 || pubs[0].Parent.IsValid() || attrs(pubs[0])[telemetry.AttrEventCount].AsInt64() != 2 {
		t.Fatalf("publish spans = %+v, want one root span of 2 events", pubs)
	}
	for _, s := range spansNamed(exp, telemetry.SpanAttempt) {
		if s.Parent.SpanID() != pubs[0].SpanContext.SpanID() || !slices.Contains(ids, attrs(s)[telemetry.AttrEventID].AsString()) {
			t.Fatalf("attempt span under %s for %v, want under the publish span %s", s.Parent.SpanID(), s.Attributes, pubs[0].SpanContext.SpanID())
		}
	}
	// The attempts' records keep the trace id once recorded.
	servertest.Eventually(t, 10*time.Second, "the attempts to be recorded with the trace id", func() bool {
		ds := h.Deliveries("acme", "sandbox", nil)
		for _, d := range ds {
			full := h.Delivery("acme", "sandbox", d.ID)
			if len(full.Attempts) != 1 || full.Attempts[0].TraceID != pubs[0].SpanContext.TraceID().String() {
				return false
			}
		}
		return len(ds) == 2
	})
}

// On a PostgreSQL cluster the process that makes an attempt need not be
// the one that took the publish: the trace context travels with the event
// in the database, and the attempt joins the publish's trace.
func TestAnAttemptByAnotherProcessJoinsThePublishTrace(t *testing.T) {
	pg := servertest.OnPostgres(t)
	pubExp, pubTraced := tracer(t)
	// The publishing process answers the API but does not deliver.
	api := httptest.NewServer(servertest.Handler(t, pg, pubTraced))
	t.Cleanup(api.Close)
	rc := servertest.NewReceiver(t)
	h := servertest.At(t, api.URL, nil)
	h.Tenant("acme")
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
	id := publishWithTraceparent(t, h, api.URL, "00-"+callerTrace+"-"+callerSpan+"-01")
	pubs := spansNamed(pubExp, telemetry.SpanPublish)
	if len(pubs) != 1 {
		t.Fatalf("%d publish spans, want 1", len(pubs))
	}

	// The delivering process, on the same database.
	sendExp, sendTraced := tracer(t)
	other := servertest.Start(t, pg, sendTraced)
	rc.Next(10 * time.Second)
	servertest.Eventually(t, 10*time.Second, "the attempt's span", func() bool {
		return len(spansNamed(sendExp, telemetry.SpanAttempt)) == 1
	})
	att := spansNamed(sendExp, telemetry.SpanAttempt)[0]
	if att.SpanContext.TraceID().String() != callerTrace || att.Parent.SpanID() != pubs[0].SpanContext.SpanID() || !att.Parent.IsRemote() {
		t.Fatalf("attempt span in trace %s under %v, want trace %s under the other process's publish span %s",
			att.SpanContext.TraceID(), att.Parent, callerTrace, pubs[0].SpanContext.SpanID())
	}
	if got := attrs(att)[telemetry.AttrEventID].AsString(); got != id {
		t.Fatalf("attempt span is for event %s, want %s", got, id)
	}
	servertest.Eventually(t, 10*time.Second, "the attempt to be recorded with the trace id", func() bool {
		ds := other.Deliveries("acme", "sandbox", &client.DeliveryListParams{EventID: id})
		if len(ds) != 1 || ds[0].Status != client.DeliverySucceeded {
			return false
		}
		d := other.Delivery("acme", "sandbox", ds[0].ID)
		return len(d.Attempts) == 1 && d.Attempts[0].TraceID == callerTrace
	})
}
