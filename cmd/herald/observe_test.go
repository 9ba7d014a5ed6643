package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// jsonLog is the JSON log of a running binary, line by line.
type jsonLog struct {
	mu    sync.Mutex
	lines []map[string]any
	plain []string
}

func (l *jsonLog) find(msg string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if line["msg"] == msg {
			return line
		}
	}
	return nil
}

// The flags the packaging uses: --log-format json writes one JSON object a
// line; --log-level debug adds successful attempts and claims; and
// --metrics-listen serves /metrics on its own address while /healthz and
// /readyz answer on the API's.
func TestServeWritesAJSONLogAndServesMetricsAndProbes(t *testing.T) {
	cmd := exec.Command(heraldBinary(t), "serve", "--database", filepath.Join(t.TempDir(), "herald.db"),
		"--listen", "127.0.0.1:0", "--allow-private-destinations", "--operator-token", servertest.Token,
		"--log-format", "json", "--log-level", "debug", "--metrics-listen", "127.0.0.1:0", "--master-key", clusterMasterKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	log := &jsonLog{}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			log.mu.Lock()
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				log.plain = append(log.plain, sc.Text())
			} else {
				log.lines = append(log.lines, line)
			}
			log.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	var listening, metrics map[string]any
	servertest.Eventually(t, 30*time.Second, "herald listening", func() bool {
		listening, metrics = log.find("herald is listening"), log.find("serving metrics")
		return listening != nil && metrics != nil
	})
	h := servertest.At(t, "http://"+listening["addr"].(string), nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		servertest.Eventually(t, 5*time.Second, path+" 200", func() bool {
			return h.Do(servertest.Call{Method: "GET", Path: path, Token: client.Ptr("")}).Status == http.StatusOK
		})
	}

	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
	ev := h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": 1})})
	rc.Next(10 * time.Second)
	servertest.Eventually(t, 10*time.Second, "the debug lines", func() bool {
		ok := log.find("delivery attempt succeeded")
		// The delivery was claimed, or handed to the dispatcher at
		// publish: either says so at debug level.
		taken := log.find("claimed deliveries") != nil || log.find("took deliveries handed over at publish") != nil
		return ok != nil && ok["event"] == ev.ID && ok["level"] == "DEBUG" && taken
	})

	resp, err := http.Get("http://" + metrics["addr"].(string) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `herald_events_published_total{environment="sandbox",tenant="acme"} 1`) {
		t.Fatalf("/metrics: %s\n%s", resp.Status, body)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.plain) > 0 {
		t.Errorf("lines that are not JSON: %q", log.plain)
	}
}
