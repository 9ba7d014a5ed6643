package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// scrape fetches the exposition over HTTP, as Prometheus does, and parses
// it with Prometheus's own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the exposition: %v", err)
	}
	return families
}

// value is the value of the one series of a family whose labels include
// want; ok is false when there is none.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, w := range want {
			if got[k] != w {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// Three events go to a receiver that fails and to one that succeeds: the
// scrape counts 3 publishes, 3 successes, 3 failures of class http and a
// backlog of 3, which is what the store holds.
func TestMetricsMatchWhatTheStoreHolds(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start(servertest.WithMetrics(t))
		ctx := t.Context()
		failing, ok := servertest.NewReceiver(t), servertest.NewReceiver(t)
		failing.Respond(func(int, *http.Request) int { return http.StatusInternalServerError })
		h.Tenant("acme")
		bad := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: failing.URL, EventTypes: []string{"check.*"}, AllowUnregisteredTypes: true,
			RetryPolicy: &client.RetryPolicy{Delays: []string{"1h"}}})
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: ok.URL, EventTypes: []string{"check.*"}, AllowUnregisteredTypes: true})
		for i := range 3 {
			h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": i})})
		}
		for range 3 {
			failing.Next(10 * time.Second)
			ok.Next(10 * time.Second)
		}
		// The outcomes are counted, then recorded in batches, after the
		// answers: once all six are recorded, all are counted.
		servertest.Eventually(t, 10*time.Second, "every attempt recorded", func() bool {
			ds := h.Deliveries("acme", "sandbox", nil)
			for _, d := range ds {
				if d.AttemptCount != 1 || (d.EndpointID == bad.ID) != (d.Status == "pending") {
					return false
				}
			}
			return len(ds) == 6
		})

		// A tenant over its rate limit is refused once.
		servertest.Must(h.Client.CreateTenant(ctx, &client.TenantCreate{ID: "globex", Name: "Globex", RateLimitPerMinute: 1, RateLimitBurst: 1}))(t)
		key := h.APIKey("globex", "sandbox").Key
		limited := h.Client.WithToken(key)
		servertest.Must(limited.ListEndpoints(ctx, nil))(t)
		_, err := limited.ListEndpoints(ctx, nil)
		servertest.Refused(t, err, http.StatusTooManyRequests)

		m := scrape(t, h.MetricsURL)
		acme := map[string]string{"tenant": "acme", "environment": "sandbox"}
		with := func(kv ...string) map[string]string {
			out := map[string]string{"tenant": "acme", "environment": "sandbox"}
			for i := 0; i < len(kv); i += 2 {
				out[kv[i]] = kv[i+1]
			}
			return out
		}
		groups, err := h.Store.Backlog(ctx, false)
		if err != nil || len(groups) != 1 || groups[0].Pending != 3 {
			t.Fatalf("the store's backlog: %+v, %v; want acme/sandbox with 3 pending", groups, err)
		}
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"herald_events_published_total", acme, 3},
			{"herald_delivery_attempts_total", with("result", "failure", "error_class", "http"), 3},
			{"herald_delivery_attempts_total", with("result", "success", "error_class", ""), 3},
			{"herald_deliveries_finished_total", with("outcome", "succeeded"), 3},
			{"herald_backlog_deliveries", acme, float64(groups[0].Pending)},
			{"herald_delivery_attempt_duration_seconds", map[string]string{"result": "failure"}, 3},
			{"herald_store_duration_seconds", map[string]string{"operation": "publish"}, 3},
			{"herald_rate_limited_requests_total", map[string]string{"tenant": "globex"}, 1},
		} {
			got, found := value(m, c.name, c.labels)
			if !found || got != c.want {
				t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, found, c.want)
			}
		}
		if v, found := value(m, "herald_deliveries_finished_total", with("outcome", "failed")); found {
			t.Errorf("failed deliveries counted %v: the failing ones wait an hour for their retry", v)
		}
		age, found := value(m, "herald_backlog_oldest_age_seconds", acme)
		if oldest := time.Since(groups[0].OldestCreatedAt).Seconds(); !found || age <= 0 || age > oldest+1 {
			t.Errorf("oldest age %v (found %v), want about %v", age, found, oldest)
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "herald_lease_takeovers_total"} {
			if m[name] == nil {
				t.Errorf("%s is not exported", name)
			}
		}
		if claims, _ := value(m, "herald_store_duration_seconds", map[string]string{"operation": "claim"}); claims < 1 {
			t.Error("no claim's duration observed")
		}
		// Endpoints are labels only by choice.
		if f := m["herald_backlog_deliveries"]; f != nil {
			for _, l := range f.Metric[0].Label {
				if l.GetName() == "endpoint" {
					t.Error("an endpoint label without --metrics-endpoint-labels")
				}
			}
		}
	})
}

// logLines are the JSON log lines written to l so far.
func logLines(t *testing.T, l *servertest.Log) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range bytes.Split(bytes.TrimSpace([]byte(l.String())), []byte("\n")) {
		var line map[string]any
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", raw, err)
		}
		out = append(out, line)
	}
	return out
}

// find returns the first line with these fields.
func find(lines []map[string]any, want map[string]any) map[string]any {
next:
	for _, l := range lines {
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		return l
	}
	return nil
}

// A failed attempt is logged at info, in JSON, with the ids an operator
// needs to find it, and with neither the body nor the URL's token; pausing
// and resuming an endpoint are logged too; successes only at debug.
func TestFailedAttemptsAndEndpointChangesAreLoggedWithTheirIDs(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		var log servertest.Log
		h := start(servertest.WithLogger(slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))))
		failing := servertest.NewReceiver(t)
		failing.Respond(func(int, *http.Request) int { return http.StatusBadGateway })
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: failing.URL + "/hook?token=sekrit-in-url",
			RetryPolicy: &client.RetryPolicy{Delays: []string{"1h"}}})
		pub := h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]string{"doc": "body-secret"})})
		failing.Next(10 * time.Second)
		var d client.Delivery
		servertest.Eventually(t, 10*time.Second, "the attempt recorded", func() bool {
			ds := h.Deliveries("acme", "sandbox", nil)
			if len(ds) == 1 && ds[0].AttemptCount == 1 {
				d = ds[0]
				return true
			}
			return false
		})
		sc := h.As("acme", "sandbox")
		servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Status: client.Ptr("paused")}))(t)
		servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Status: client.Ptr("active")}))(t)

		var failed map[string]any
		servertest.Eventually(t, 5*time.Second, "the failed attempt's log line", func() bool {
			failed = find(logLines(t, &log), map[string]any{"msg": "delivery attempt failed"})
			return failed != nil
		})
		for k, want := range map[string]any{
			"level": "INFO", "tenant": "acme", "environment": "sandbox", "endpoint": ep.ID, "event": pub.ID,
			"delivery": d.ID, "attempt": 1.0, "status": "pending", "error_class": "http", "response_status": 502.0,
		} {
			if failed[k] != want {
				t.Errorf("the failed attempt's line has %s=%v, want %v: %v", k, failed[k], want, failed)
			}
		}
		lines := logLines(t, &log)
		for _, change := range []string{"paused", "resumed"} {
			if l := find(lines, map[string]any{"msg": "endpoint " + change, "endpoint": ep.ID, "tenant": "acme", "by": "operator"}); l == nil {
				t.Errorf("no line for the endpoint %s", change)
			}
		}
		all := log.String()
		for _, secret := range []string{"sekrit-in-url", "body-secret", ep.Secret} {
			if strings.Contains(all, secret) {
				t.Errorf("the log shows %q", secret)
			}
		}
	})
}

// readyz asks GET /readyz and decodes a problem when there is one.
func readyz(t *testing.T, h *servertest.Herald) (int, problem) {
	t.Helper()
	r := h.Do(servertest.Call{Method: "GET", Path: "/readyz", Token: client.Ptr("")})
	var p problem
	if r.Status != http.StatusOK {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("/readyz %d with Content-Type %q: %s", r.Status, ct, r.Body)
		}
		r.JSON(t, &p)
	}
	return r.Status, p
}

type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// names reports whether the problem names location.
func (p problem) names(location string) bool {
	for _, e := range p.Errors {
		if e.Location == location {
			return true
		}
	}
	return false
}

// /healthz says the process serves; /readyz that it can do its work. With
// the database gone, /healthz still answers ok (a restart would not help)
// and /readyz answers 503 naming the store.
func TestReadyzAnswers503WhenTheDatabaseIsGoneAndHealthzStaysOK(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		servertest.Eventually(t, 5*time.Second, "ready", func() bool {
			status, _ := readyz(t, h)
			return status == http.StatusOK
		})
		if err := h.Store.Close(); err != nil {
			t.Fatal(err)
		}
		status, p := readyz(t, h)
		if status != http.StatusServiceUnavailable || p.Status != 503 || !p.names("store") || p.names("migrations") {
			t.Fatalf("/readyz with the store closed: %d %+v, want 503 naming the store", status, p)
		}
		if r := h.Do(servertest.Call{Method: "GET", Path: "/healthz", Token: client.Ptr("")}); r.Status != http.StatusOK {
			t.Fatalf("/healthz: %d %s", r.Status, r.Body)
		}
	})
}

// A PostgreSQL schema dropped under a running Herald (a restore gone
// wrong, a wrong search_path) leaves the database reachable but Herald's
// tables gone: /readyz names the migrations.
func TestReadyzAnswers503WhenThePostgresSchemaIsDropped(t *testing.T) {
	url := pgtest.URL(t)
	h := servertest.Start(t, func(s *servertest.Settings) { s.Database = url })
	if status, p := readyz(t, h); status != http.StatusOK {
		t.Fatalf("/readyz before: %d %+v", status, p)
	}
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), pgtest.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "DROP SCHEMA "+pgx.Identifier{u.Query().Get("search_path")}.Sanitize()+" CASCADE"); err != nil {
		t.Fatal(err)
	}
	status, p := readyz(t, h)
	if status != http.StatusServiceUnavailable || !p.names("migrations") || p.names("store") {
		t.Fatalf("/readyz with the schema dropped: %d %+v, want 503 naming the migrations", status, p)
	}
}

// A Herald whose dispatcher does not run (built and answering, but not
// delivering) is not ready.
func TestReadyzAnswers503WhenTheDispatcherIsNotRunning(t *testing.T) {
	handler := servertest.Handler(t)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz: %d %s (%v)", rec.Code, rec.Body, err)
	}
	if !p.names("dispatcher") || p.names("store") || !strings.Contains(p.Detail, "dispatcher") {
		t.Fatalf("/readyz: %+v, want the dispatcher named, and only it", p)
	}
}

// A process that crashed holding a lease leaves its delivery to the
// others once the lease runs out (PostgreSQL: SQLite has one process,
// which takes every lease back when it starts). The one that takes it
// over counts it and logs it.
func TestALeaseTakeoverIsCountedAndLogged(t *testing.T) {
	url := pgtest.URL(t)
	onDB := func(s *servertest.Settings) { s.Database = url }
	ctx := t.Context()
	// The first process takes the publish and claims it, with a lease that
	// runs out at once, and dies.
	first := client.New("http://herald.test", servertest.Token, client.WithHTTPClient(&http.Client{Transport: client.HandlerTransport(servertest.Handler(t, onDB))}))
	rc := servertest.NewReceiver(t)
	servertest.Must(first.CreateTenant(ctx, &client.TenantCreate{ID: "acme", Name: "Acme"}))(t)
	sc := first.WithScope("acme", client.Sandbox)
	servertest.Must(sc.CreateEndpoint(ctx, &client.EndpointCreate{URL: rc.URL}))(t)
	ev := servertest.Must(sc.Publish(ctx, &client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": 1})}))(t)
	st, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	crashed, err := st.Claim(ctx, store.ClaimParams{Owner: "crashed", Limit: 10, Lease: time.Millisecond, Now: time.Now()})
	if err != nil || len(crashed) != 1 {
		t.Fatalf("the crashed process's claim: %v, %v", crashed, err)
	}

	var log servertest.Log
	h := servertest.Start(t, onDB, servertest.WithMetrics(t),
		servertest.WithLogger(slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	if got := rc.Next(10 * time.Second); got.ID != ev.ID {
		t.Fatalf("delivered %s, want %s", got.ID, ev.ID)
	}
	if n, _ := value(scrape(t, h.MetricsURL), "herald_lease_takeovers_total", nil); n != 1 {
		t.Fatalf("herald_lease_takeovers_total = %v, want 1", n)
	}
	l := find(logLines(t, &log), map[string]any{"msg": "took over a delivery whose lease ran out"})
	if l == nil || l["delivery"] != crashed[0].DeliveryID || l["event"] != ev.ID || l["tenant"] != "acme" {
		t.Fatalf("the takeover's log line: %v", l)
	}
}

// --metrics-endpoint-labels splits the delivery and backlog metrics by
// endpoint, as the store's backlog by endpoint does.
func TestEndpointLabelsAreAnOptIn(t *testing.T) {
	h := servertest.Start(t, servertest.WithMetrics(t), func(s *servertest.Settings) { s.Config.MetricsEndpointLabels = true })
	failing := servertest.NewReceiver(t)
	failing.Respond(func(int, *http.Request) int { return http.StatusInternalServerError })
	h.Tenant("acme")
	a := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: failing.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"1h"}}})
	b := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: failing.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"1h"}}})
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": 1})})
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": 2})})
	for range 4 {
		failing.Next(10 * time.Second)
	}
	servertest.Eventually(t, 10*time.Second, "both endpoints' attempts counted", func() bool {
		m := scrape(t, h.MetricsURL)
		na, _ := value(m, "herald_delivery_attempts_total", map[string]string{"endpoint": a.ID, "result": "failure"})
		nb, _ := value(m, "herald_delivery_attempts_total", map[string]string{"endpoint": b.ID, "result": "failure"})
		return na == 2 && nb == 2
	})
	groups, err := h.Store.Backlog(t.Context(), true)
	if err != nil || len(groups) != 2 {
		t.Fatalf("the store's backlog by endpoint: %+v, %v", groups, err)
	}
	m := scrape(t, h.MetricsURL)
	for _, g := range groups {
		if got, _ := value(m, "herald_backlog_deliveries", map[string]string{"tenant": "acme", "endpoint": g.EndpointID}); got != float64(g.Pending) || got != 2 {
			t.Errorf("backlog of %s: %v, the store says %d", g.EndpointID, got, g.Pending)
		}
	}
}
