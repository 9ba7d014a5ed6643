package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// from is an HTTP client whose connections come from the loopback address
// local (127.0.0.2, 127.0.0.3, ...): another client, as Herald counts them.
func from(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

// slowBody opens a connection from local and sends a request that declares
// a body of size bytes and sends only the first few: it then holds the
// connection for as long as the server lets it.
func slowBody(t *testing.T, addr, local, method, path string, size int, header string) net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n", method, path, addr, size, header); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "api_key=hk_"); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reads c until the server closes it, failing when that takes
// longer than d; it returns the status line the server sent, if any.
func closedWithin(c net.Conn, d time.Duration) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	r := bufio.NewReader(c)
	status, _ := r.ReadString('\n')
	if _, err := io.Copy(io.Discard, r); err != nil {
		return status, err
	}
	return strings.TrimSpace(status), nil
}

func TestSlowBodiesOnThePortalAreClosedWithinTheBodyTimeoutWhileTheAPIAnswers(t *testing.T) {
	const slow = 500
	timeout := 2 * time.Second
	h := servertest.Start(t, func(s *servertest.Settings) {
		s.Config.Limits = server.Limits{BodyTimeout: timeout, ConnectionsPerClient: slow + 10, Connections: 2 * slow}
	})
	addr := strings.TrimPrefix(h.URL, "http://")
	opened := time.Now()
	conns := make([]net.Conn, slow)
	for i := range conns {
		path := "/portal/login"
		if i%2 == 1 {
			path = "/console/login"
		}
		conns[i] = slowBody(t, addr, "127.0.0.2", "POST", path, 4096, "Content-Type: application/x-www-form-urlencoded\r\n")
	}
	t.Logf("%d slow bodies open in %s", slow, time.Since(opened).Round(time.Millisecond))

	// Meanwhile the API answers, from another client.
	api := client.New(h.URL, servertest.Token, client.WithHTTPClient(from("127.0.0.1")))
	for i := 0; i < 20; i++ {
		if _, err := api.ListTenants(t.Context(), nil); err != nil {
			t.Fatalf("the API did not answer while %d slow bodies were open: %v", slow, err)
		}
	}

	// Every slow body is answered and closed within the timeout (and a
	// second of slack for a busy machine), counted from when it was opened.
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[string]int{}
	for _, c := range conns {
		wg.Go(func() {
			status, err := closedWithin(c, time.Until(opened.Add(timeout+3*time.Second)))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses["still open: "+err.Error()]++
				return
			}
			statuses[status]++
		})
	}
	wg.Wait()
	took := time.Since(opened)
	if n := statuses["HTTP/1.1 408 Request Timeout"]; n != slow {
		t.Fatalf("answers to %d slow bodies after %s: %v", slow, took, statuses)
	}
	t.Logf("all %d closed %s after the first was opened (body timeout %s)", slow, took.Round(time.Millisecond), timeout)
}

func TestPortalFormsAreCappedInSize(t *testing.T) {
	h := servertest.Start(t)
	for path, size := range map[string]int{"/portal/login": 16 << 10, "/console/login": 16 << 10} {
		resp, err := http.PostForm(h.URL+path, url.Values{"api_key": {strings.Repeat("k", size)}})
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s with %d bytes: %d", path, size, resp.StatusCode)
		}
	}
}

func TestOneClientCannotHoldMoreConnectionsThanItsShare(t *testing.T) {
	const share = 40
	h := servertest.Start(t, func(s *servertest.Settings) {
		s.Config.Limits = server.Limits{BodyTimeout: time.Minute, ConnectionsPerClient: share}
	})
	addr := strings.TrimPrefix(h.URL, "http://")
	for range share {
		slowBody(t, addr, "127.0.0.2", "POST", "/portal/login", 4096, "")
	}
	// The next connection from that client is answered 429 and closed,
	// before it sends anything.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	status, err := closedWithin(c, 5*time.Second)
	if err != nil || status != "HTTP/1.1 429 Too Many Requests" {
		t.Fatalf("connection over the share: %q, %v", status, err)
	}
	// Another client is served.
	api := client.New(h.URL, servertest.Token, client.WithHTTPClient(from("127.0.0.3")))
	if _, err := api.ListTenants(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestWrongCredentialsAreThrottledPerClientWhileOthersSignIn(t *testing.T) {
	const perMinute, burst = 6, 5 // one more every 10 s: none refills during the test
	h := servertest.Start(t, func(s *servertest.Settings) {
		s.Config.Limits = server.Limits{FailedAuthPerMinute: perMinute, FailedAuthBurst: burst}
	})
	h.Tenant("acme")
	key := h.APIKey("acme", "sandbox").Key

	// One client guesses the operator token as fast as it can for 2 s.
	guesser := from("127.0.0.2")
	start := time.Now()
	counts := map[int]int{}
	var retryAfter string
	for time.Since(start) < 2*time.Second {
		req, _ := http.NewRequest("GET", h.URL+"/v1/tenants", nil)
		req.Header.Set("Authorization", "Bearer guess-"+time.Now().String())
		resp, err := guesser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		counts[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	elapsed := time.Since(start)
	// Guesses that reached the check: the burst and what refilled meanwhile.
	allowed := burst + int(elapsed.Seconds()*perMinute/60) + 1
	if counts[http.StatusUnauthorized] > allowed || counts[http.StatusTooManyRequests] == 0 || retryAfter == "" {
		t.Fatalf("in %s: %v (at most %d guesses may be checked), Retry-After %q", elapsed, counts, allowed, retryAfter)
	}
	t.Logf("in %s one client had %d guesses checked and %d refused (%.0f tries/s)", elapsed.Round(time.Millisecond),
		counts[http.StatusUnauthorized], counts[http.StatusTooManyRequests], float64(counts[401]+counts[429])/elapsed.Seconds())

	// Its right key is refused too, while it waits ...
	_, err := client.New(h.URL, key, client.WithHTTPClient(guesser)).GetEgressIPs(t.Context())
	if e := servertest.Refused(t, err, http.StatusTooManyRequests); e.RetryAfter <= 0 {
		t.Fatalf("no Retry-After: %v", e)
	}
	// ... and another client's key and token work.
	other := from("127.0.0.3")
	servertest.Must(client.New(h.URL, key, client.WithHTTPClient(other)).GetEgressIPs(t.Context()))(t)
	servertest.Must(client.New(h.URL, servertest.Token, client.WithHTTPClient(other)).ListTenants(t.Context(), nil))(t)

	// Sign-ins on the portal and the console count against the same
	// client: a third client's wrong keys and tokens are throttled there.
	third := from("127.0.0.4")
	third.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	statuses := map[int]int{}
	for i := range 2 * burst {
		path, form := "/portal/login", url.Values{"api_key": {"hk_sandbox_wrong"}}
		if i%2 == 1 {
			path, form = "/console/login", url.Values{"token": {"wrong"}}
		}
		resp, err := third.PostForm(h.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusUnauthorized] != burst || statuses[http.StatusTooManyRequests] != burst {
		t.Fatalf("portal sign-ins: %v", statuses)
	}
	resp, err := other.PostForm(h.URL+"/portal/login", url.Values{"api_key": {key}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK { // followed to the endpoints page
		t.Fatalf("another client's sign-in: %d", resp.StatusCode)
	}
}

// hold sends a publish whose body arrives in two parts: the first now, the
// rest when finish is called; finish returns the status.
func hold(t *testing.T, h *servertest.Herald, local, path, token string, size int) (finish func() int) {
	t.Helper()
	body := `{"type":"a.b","data":{}}`
	if strings.HasSuffix(path, "/batch") {
		body = `{"events":[{"type":"a.b","data":{}}]}`
	}
	body += strings.Repeat(" ", size-len(body))
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", h.URL+path, pr)
	req.ContentLength = int64(size)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := from(local).Do(req)
		if err != nil {
			t.Error(err)
			close(answered)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		answered <- resp
	}()
	if _, err := io.WriteString(pw, body[:10]); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var status int
	finish = func() int {
		once.Do(func() {
			go func() { _, _ = io.WriteString(pw, body[10:]); _ = pw.Close() }()
			if resp := <-answered; resp != nil {
				status = resp.StatusCode
			}
		})
		return status
	}
	t.Cleanup(func() { _ = pw.CloseWithError(errors.New("test over")); finish() })
	return finish
}

func TestRequestBytesInFlightAreBoundedPerTenantAndInAll(t *testing.T) {
	const mib = 1 << 20
	h := servertest.Start(t, func(s *servertest.Settings) {
		s.Config.Limits = server.Limits{BodyBytes: 3 * mib, TenantBodyBytes: 2 * mib}
	})
	for _, id := range []string{"acme", "bravo", "carol"} {
		h.Tenant(id)
	}
	acme, bravo, carol := h.APIKey("acme", "sandbox").Key, h.APIKey("bravo", "sandbox").Key, h.APIKey("carol", "sandbox").Key
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	publish := func(key string, size int) *client.Error {
		_, err := client.New(h.URL, key).Publish(ctx, &client.PublishEvent{Type: "a.b", Data: []byte(`{"pad":"` + strings.Repeat("x", size) + `"}`)})
		if err == nil {
			return nil
		}
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatal(err)
		}
		return e
	}

	// acme holds a batch of 1.5 MiB; bravo a publish of nearly 1 MiB.
	acmeBatch := hold(t, h, "127.0.0.2", "/v1/events/batch", acme, 3*mib/2)
	servertest.Eventually(t, 5*time.Second, "acme's batch reserved", func() bool {
		_, a := h.Server.BodyBytesInFlight("acme")
		return a == 3*mib/2
	})
	bravoOne := hold(t, h, "127.0.0.3", "/v1/events", bravo, mib-1024)
	servertest.Eventually(t, 5*time.Second, "bravo's publish reserved", func() bool {
		all, _ := h.Server.BodyBytesInFlight("")
		return all == 3*mib/2+mib-1024
	})
	// acme may not add another 600 KiB (2 MiB each): 429; carol may not
	// either, since the process holds 2.5 of its 3 MiB: 503. Small
	// publishes still pass.
	if e := publish(acme, 600<<10); e == nil || e.Status != http.StatusTooManyRequests || e.RetryAfter <= 0 {
		t.Fatalf("acme over its share: %v", e)
	}
	if e := publish(carol, 600<<10); e == nil || e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 || !strings.Contains(e.Detail, "in flight") {
		t.Fatalf("carol over the process's bytes: %v", e)
	}
	if e := publish(carol, 100<<10); e != nil {
		t.Fatalf("a publish that fits: %v", e)
	}
	// Once the held bodies arrive they are taken, and the room is back.
	if s := acmeBatch(); s != http.StatusAccepted {
		t.Fatalf("acme's batch: %d", s)
	}
	if s := bravoOne(); s != http.StatusAccepted {
		t.Fatalf("bravo's publish: %d", s)
	}
	if e := publish(acme, 600<<10); e != nil {
		t.Fatalf("after the held bodies: %v", e)
	}
}

// TestAFullDiskIsSaidToBeFull runs Herald on a SQLite file in a 2 MiB
// tmpfs (it needs the right to mount one: root, as in CI) and publishes
// until the disk is full: the answer is a 503 that says so, with
// Retry-After, and reads still work.
func TestAFullDiskIsSaidToBeFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v: %s", err, out)
	}
	// Cleanups run last-registered first: this one after the server stops.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	h := servertest.Start(t, func(s *servertest.Settings) { s.Database = filepath.Join(dir, "herald.db") })
	h.Tenant("acme")
	pad := strings.Repeat("x", 200<<10)
	var full *client.Error
	for i := 0; i < 40 && full == nil; i++ {
		_, err := h.As("acme", "sandbox").Publish(t.Context(), &client.PublishEvent{Type: "a.b", Data: []byte(`{"pad":"` + pad + `"}`)})
		if err != nil {
			full = servertest.Refused(t, err, http.StatusServiceUnavailable)
		}
	}
	if full == nil {
		t.Fatal("40 publishes of 200 KiB fit in 2 MiB")
	}
	if !strings.Contains(full.Detail, "disk is full") || full.RetryAfter <= 0 {
		t.Fatalf("answer: %+v", full)
	}
	servertest.Must(h.Client.GetTenant(t.Context(), "acme"))(t)
}
