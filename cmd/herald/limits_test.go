package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// TestThirtyTwoLargeBatchesAtOnceStayUnderTheMemoryBound is the issue's
// attack on the real binary with its default limits: 32 batch publishes
// of 15 MiB at once on one API key (before the byte budget: 1.44 GiB of
// RSS). Herald's peak RSS stays under 512 MiB, what does not fit is
// refused with 429 or 503 and Retry-After, and every event accepted is
// delivered. bench's hostile scenario does the same with 200 clients
// sending again and again (docs/performance.md).
func TestThirtyTwoLargeBatchesAtOnceStayUnderTheMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 480 MiB to a Herald process")
	}
	var arrived atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived.Add(1)
	}))
	defer rc.Close()
	p := startProcess(t, filepath.Join(t.TempDir(), "herald.db"), "--operator-token", servertest.Token)
	p.Tenant("acme")
	p.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL + "/hook"})
	key := p.APIKey("acme", "sandbox").Key

	// 60 events of 256 KiB each: a 15 MiB batch.
	var body bytes.Buffer
	body.WriteString(`{"events":[`)
	for i := range 60 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`{"type":"a.b","data":{"pad":"` + strings.Repeat("x", 256<<10) + `"}}`)
	}
	body.WriteString(`]}`)
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, p.URL+"/v1/events/batch", bytes.NewReader(body.Bytes()))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			status := -1 // the connection closed while the body was still being sent
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				status = resp.StatusCode
				if status != http.StatusAccepted && resp.Header.Get("Retry-After") == "" {
					t.Errorf("%d without Retry-After", status)
				}
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	hwm := vmHWM(t, p.cmd.Process.Pid)
	t.Logf("answers %v; peak RSS %d MiB", statuses, hwm>>20)
	if statuses[http.StatusAccepted] == 0 || statuses[http.StatusTooManyRequests]+statuses[-1] == 0 {
		t.Fatalf("answers %v: want some accepted and some refused", statuses)
	}
	for s := range statuses {
		if s != http.StatusAccepted && s != http.StatusTooManyRequests && s != http.StatusServiceUnavailable && s != -1 {
			t.Fatalf("answers %v", statuses)
		}
	}
	if hwm > 512<<20 {
		t.Fatalf("peak RSS %d MiB, over 512 MiB", hwm>>20)
	}
	want := int64(60 * statuses[http.StatusAccepted])
	servertest.Eventually(t, time.Minute, "every accepted event delivered", func() bool { return arrived.Load() >= want })
}

// vmHWM is a process's peak resident set, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func TestLimitFlagsThatCouldNeverAdmitTheLargestBodyAreRefused(t *testing.T) {
	for _, tc := range []struct {
		set  func(*serveCmd)
		want string
	}{
		{func(c *serveCmd) { c.MaxBodyBytesInFlight = 1 << 20 }, "--max-body-bytes-in-flight"},
		{func(c *serveCmd) { c.MaxTenantBodyBytesInFlight = 8 << 20 }, "--max-tenant-body-bytes-in-flight"},
		{func(c *serveCmd) { c.MaxHeaderBytes = 100 }, "--max-header-bytes"},
		{func(c *serveCmd) { c.FailedAuthPerMinute, c.FailedAuthBurst = 30, 0 }, "--failed-auth-burst"},
	} {
		if err := startHeraldErr(t, tc.set); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want a refusal naming %s, got %v", tc.want, err)
		}
	}
	var b byteSize
	if err := b.UnmarshalText([]byte("32MiB")); err != nil || b != 32<<20 {
		t.Fatalf("32MiB = %d, %v", b, err)
	}
}
