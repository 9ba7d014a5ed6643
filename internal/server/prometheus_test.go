package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// A real Prometheus (Debian's prometheus package) scrapes Herald's
// metrics listener, loads the documented alert rules, and sees the
// backlog the store holds; promtool lints the exposition. Skipped where
// the package is not installed.
func TestARealPrometheusScrapesTheMetricsAndLoadsTheRules(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (apt-get install prometheus); the exposition is still parsed by TestMetricsMatchWhatTheStoreHolds")
	}
	h := servertest.Start(t, servertest.WithMetrics(t))
	failing := servertest.NewReceiver(t)
	failing.Respond(func(int, *http.Request) int { return http.StatusServiceUnavailable })
	h.Tenant("acme")
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: failing.URL, RetryPolicy: &client.RetryPolicy{Delays: []string{"1h"}}})
	for i := range 3 {
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": i})})
	}
	for range 3 {
		failing.Next(10 * time.Second)
	}

	if promtool, err := exec.LookPath("promtool"); err == nil {
		resp, err := http.Get(h.MetricsURL)
		if err != nil {
			t.Fatal(err)
		}
		lint := exec.Command(promtool, "check", "metrics")
		lint.Stdin = resp.Body
		out, err := lint.CombinedOutput()
		resp.Body.Close()
		if err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}

	dir := t.TempDir()
	rules, err := filepath.Abs("../../docs/monitoring/herald-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	target := strings.TrimSuffix(strings.TrimPrefix(h.MetricsURL, "http://"), "/metrics")
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: herald
    static_configs:
      - targets: [%q]
`, rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	web := freeAddr(t)
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web)
	var log servertest.Log
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", log.String())
		}
	})

	query := func(q string) []promSample {
		resp, err := http.Get("http://" + web + "/api/v1/query?query=" + neturl.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []promSample `json:"result"`
			} `json:"data"`
		}
		raw, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(raw, &r) != nil {
			return nil
		}
		return r.Data.Result
	}
	servertest.Eventually(t, 60*time.Second, "Prometheus to scrape a backlog of 3", func() bool {
		got := query(`herald_backlog_deliveries{tenant="acme",environment="sandbox"}`)
		return len(got) == 1 && got[0].Value[1] == "3"
	})
	servertest.Eventually(t, 30*time.Second, "Prometheus to scrape 3 failed attempts of class http", func() bool {
		got := query(`sum(herald_delivery_attempts_total{result="failure",error_class="http"})`)
		return len(got) == 1 && got[0].Value[1] == "3"
	})
	resp, err := http.Get("http://" + web + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Data.Groups) != 1 || len(r.Data.Groups[0].Rules) < 2 {
		t.Fatalf("rules loaded: %+v (%v)", r, err)
	}
	servertest.Eventually(t, 20*time.Second, "every rule evaluated without error", func() bool {
		resp, err := http.Get("http://" + web + "/api/v1/rules")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return false
		}
		for _, rule := range r.Data.Groups[0].Rules {
			if rule.Health != "ok" {
				return false
			}
		}
		return true
	})
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// freeAddr is a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
