package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// `herald serve --otel-endpoint` exports the spans of a publish and its
// attempt to the collector, and flushes what is buffered when it stops.
func TestOTelEndpointExportsThePublishAndAttemptSpans(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(k, "")
	}
	var mu sync.Mutex
	var exported strings.Builder
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		exported.WriteString(r.URL.Path + "\n" + string(b))
		mu.Unlock()
	}))
	defer collector.Close()
	h := startHerald(t, func(c *serveCmd) { c.OTelEndpoint, c.OTelSampleRatio = collector.URL, 1 })
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
	p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{}`)})
	rc.Next(10 * time.Second)
	servertest.Eventually(t, 10*time.Second, "the attempt to be recorded", func() bool {
		ds := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{EventID: p.ID})
		return len(ds) == 1 && ds[0].Status == client.DeliverySucceeded
	})
	h.Stop()
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"/v1/traces", "herald.publish", "herald.attempt", p.ID} {
		if !strings.Contains(exported.String(), want) {
			t.Errorf("the collector did not get %q", want)
		}
	}
}

func TestABadSampleRatioIsRefused(t *testing.T) {
	err := startHeraldErr(t, func(c *serveCmd) { c.OTelSampleRatio = 1.5 })
	if err == nil || !strings.Contains(err.Error(), "--otel-sample-ratio") {
		t.Fatalf("serve with --otel-sample-ratio 1.5 = %v", err)
	}
	err = startHeraldErr(t, func(c *serveCmd) { c.OTelEndpoint, c.OTelSampleRatio = "collector:4318", 1 })
	if err == nil || !strings.Contains(err.Error(), "--otel-endpoint") {
		t.Fatalf("serve with --otel-endpoint collector:4318 = %v", err)
	}
}
