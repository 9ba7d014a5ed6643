package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestIsPublicClassifiesAddresses(t *testing.T) {
	cases := []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.0.0.1", false},
		{"10.255.255.255", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"169.254.0.1", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"100.128.0.1", true},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"192.0.2.1", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"192.0.0.8", false},
		{"::", false},
		{"::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"2001::1", false}, // Teredo
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::ffff:8.8.8.8", true},
		{"::127.0.0.1", false},       // IPv4-compatible
		{"::8.8.8.8", false},         // IPv4-compatible, deprecated: always refused
		{"64:ff9b::a00:1", false},    // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", false},   // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true},   // NAT64 of 8.8.8.8
		{"2002:a00:1::1", false},     // 6to4 of 10.0.0.1
		{"2002:a9fe:a9fe::1", false}, // 6to4 of 169.254.169.254
		{"2002:808:808::1", true},    // 6to4 of 8.8.8.8
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"2606:4700::1111", true},
		{"2a00:1450:4001:80b::200e", true},
	}
	for _, tc := range cases {
		ip := netip.MustParseAddr(tc.ip)
		if got := IsPublic(ip); got != tc.want {
			t.Errorf("IsPublic(%s) = %v, want %v (reason %q)", tc.ip, got, tc.want, nonPublicReason(ip))
		}
	}
	if IsPublic(netip.Addr{}) {
		t.Error("IsPublic(zero Addr) = true, want false")
	}
}

// countingServer starts an httptest server on loopback that counts requests.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func get(t *testing.T, c *Client, rawURL string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func TestClientRefusesLoopbackWithoutAllowPrivate(t *testing.T) {
	srv, hits := countingServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	c := New(Options{})
	defer c.CloseIdleConnections()

	for _, u := range []string{
		srv.URL,
		"http://[::ffff:127.0.0.1]:" + itoa(port) + "/",
	} {
		_, err := get(t, c, u)
		if err == nil {
			t.Fatalf("%s: request succeeded, want blocked", u)
		}
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: error %v does not wrap ErrBlocked", u, err)
		}
		if got := Classify(err); got != ClassBlocked {
			t.Errorf("%s: Classify = %q, want %q (err %v)", u, got, ClassBlocked, err)
		}
		if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: error %q does not say why", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server received %d requests, want 0", n)
	}
}

func TestClientWithAllowPrivateReachesLoopback(t *testing.T) {
	srv, hits := countingServer(t)
	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("status %d, hits %d", resp.StatusCode, hits.Load())
	}
}

func TestClientAllowCIDRsOpensLoopback(t *testing.T) {
	srv, _ := countingServer(t)
	c := New(Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	defer c.CloseIdleConnections()
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}

	// A range that does not cover the target leaves it blocked.
	c2 := New(Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	defer c2.CloseIdleConnections()
	if _, err := get(t, c2, srv.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("err = %v, want ErrBlocked", err)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	resp, err := get(t, c, srv.URL+"/hook")
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status = %d, want 302", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "/elsewhere" {
		t.Errorf("Location = %q", loc)
	}
	if followed.Load() != 0 {
		t.Error("redirect was followed")
	}
}

func TestClassifyContextDeadlineOnHangingServerIsTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(`{}`))
	start := time.Now()
	_, err := c.Do(req)
	if err == nil {
		t.Fatal("Do succeeded against a hanging server")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Do took %v; the context deadline was not honoured", time.Since(start))
	}
	if got := Classify(err); got != ClassTimeout {
		t.Errorf("Classify(%v) = %q, want timeout", err, got)
	}
}

func TestClassifyDeadlineWhileReadingBodyIsTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(`{}`))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	if err == nil {
		t.Fatal("body read succeeded")
	}
	if got := Classify(err); got != ClassTimeout {
		t.Errorf("Classify(%v) = %q, want timeout", err, got)
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestClassifyClosedPortIsConnect(t *testing.T) {
	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	_, err := get(t, c, "http://"+closedPort(t)+"/")
	if err == nil {
		t.Fatal("Do succeeded against a closed port")
	}
	if got := Classify(err); got != ClassConnect {
		t.Errorf("Classify(%v) = %q, want connect", err, got)
	}
}

// rawServer accepts connections and hands each to fn.
func rawServer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				fn(conn)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestClassifyConnectionClosedWithoutResponseIsConnect(t *testing.T) {
	addr := rawServer(t, func(conn net.Conn) {
		conn.SetReadDeadline(time.Now().Add(time.Second))
		conn.Read(make([]byte, 4096))
	})
	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	_, err := get(t, c, "http://"+addr+"/")
	if err == nil {
		t.Fatal("Do succeeded")
	}
	if got := Classify(err); got != ClassConnect {
		t.Errorf("Classify(%v) = %q, want connect", err, got)
	}
}

func TestClassifyMalformedResponseIsHTTP(t *testing.T) {
	addr := rawServer(t, func(conn net.Conn) {
		conn.SetReadDeadline(time.Now().Add(time.Second))
		conn.Read(make([]byte, 4096))
		io.WriteString(conn, "SMTP READY\r\n\r\n")
	})
	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	_, err := get(t, c, "http://"+addr+"/")
	if err == nil {
		t.Fatal("Do succeeded")
	}
	if got := Classify(err); got != ClassHTTP {
		t.Errorf("Classify(%v) = %q, want http", err, got)
	}
}

func TestClassifyUntrustedCertificateIsTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = nullLogger()
	srv.StartTLS()
	defer srv.Close()

	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	_, err := get(t, c, srv.URL)
	if err == nil {
		t.Fatal("Do succeeded against an untrusted certificate")
	}
	if got := Classify(err); got != ClassTLS {
		t.Errorf("Classify(%v) = %q, want tls", err, got)
	}

	// Plain HTTP spoken to a TLS client is a TLS failure too.
	plain, _ := countingServer(t)
	_, err = get(t, c, strings.Replace(plain.URL, "http://", "https://", 1))
	if got := Classify(err); got != ClassTLS {
		t.Errorf("https to plain server: Classify(%v) = %q, want tls", err, got)
	}
}

func TestClientTrustsRootCAsAndNegotiatesHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	c := New(Options{AllowPrivate: true, RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})
	defer c.CloseIdleConnections()
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol = %s, want HTTP/2", resp.Proto)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS state = %+v", resp.TLS)
	}
}

func TestClientIgnoresProxyEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://"+closedPort(t))
	t.Setenv("HTTPS_PROXY", "http://"+closedPort(t))
	srv, _ := countingServer(t)
	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	if _, err := get(t, c, srv.URL); err != nil {
		t.Fatalf("Do: %v (proxy taken from environment?)", err)
	}
}

func TestClientWithProxyURLSendsThroughProxy(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy receives the absolute URL.
		if r.URL.Host == "receiver.example" {
			proxied.Add(1)
		}
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	// No AllowPrivate: the proxy itself is on loopback, and with a proxy the
	// dial-time guard is off (documented).
	c := New(Options{ProxyURL: pu})
	defer c.CloseIdleConnections()
	if _, err := get(t, c, "http://receiver.example/hook"); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if proxied.Load() != 1 {
		t.Error("request did not go through the proxy")
	}
}

func TestClassifyUnresolvableNameIsDNS(t *testing.T) {
	dead := closedPort(t)
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", dead)
	}}
	c := New(Options{Resolver: res})
	defer c.CloseIdleConnections()
	_, err := get(t, c, "http://nonexistent.invalid/hook")
	if err == nil {
		t.Fatal("Do succeeded for an unresolvable name")
	}
	if got := Classify(err); got != ClassDNS {
		t.Errorf("Classify(%v) = %q, want dns", err, got)
	}

	// NXDOMAIN from a working resolver is dns as well.
	dns := startFakeDNS(t, nil)
	c2 := New(Options{Resolver: dns.resolver()})
	defer c2.CloseIdleConnections()
	_, err = get(t, c2, "http://nonexistent.invalid/hook")
	if got := Classify(err); got != ClassDNS {
		t.Errorf("NXDOMAIN: Classify(%v) = %q, want dns", err, got)
	}
}

func TestClassifyEdgeCases(t *testing.T) {
	cases := []struct {
		err  error
		want ErrorClass
	}{
		{nil, ClassNone},
		{context.DeadlineExceeded, ClassTimeout},
		{&url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, ClassTimeout},
		{&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, ClassDNS},
		{&net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}, ClassDNS},
		{&url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &blockedError{msg: "no"}}}, ClassBlocked},
		{&url.Error{Op: "Post", URL: "http://x", Err: io.EOF}, ClassConnect},
		{io.ErrUnexpectedEOF, ClassConnect},
		{&tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ClassTLS},
		{tls.AlertError(40), ClassTLS},
		{errors.New("something odd"), ClassHTTP},
	}
	for _, tc := range cases {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	dns := startFakeDNS(t, map[string][]netip.Addr{
		"internal.test.": {netip.MustParseAddr("10.0.0.5")},
		"metadata.test.": {netip.MustParseAddr("169.254.169.254")},
		"public.test.":   {netip.MustParseAddr("8.8.8.8")},
		"mixed.test.":    {netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("8.8.8.8")},
		"v6local.test.":  {netip.MustParseAddr("fd00::1")},
	})
	strict := New(Options{Resolver: dns.resolver()})
	open := New(Options{AllowPrivate: true, Resolver: dns.resolver()})
	opened := New(Options{Resolver: dns.resolver(), AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})

	type want int
	const (
		ok want = iota
		blocked
		invalid
	)
	cases := []struct {
		c    *Client
		name string
		url  string
		want want
		msg  string // substring of the error
	}{
		{strict, "strict", "http://127.0.0.1/", blocked, `host "127.0.0.1" is a loopback address; Herald refuses non-public destinations`},
		{strict, "strict", "http://10.0.0.5/hook", blocked, `host "10.0.0.5" is a private address; Herald refuses non-public destinations`},
		{strict, "strict", "http://[::1]/", blocked, "loopback"},
		{strict, "strict", "http://[::ffff:127.0.0.1]:8080/", blocked, "loopback"},
		{strict, "strict", "http://169.254.169.254/latest", blocked, "link-local"},
		{strict, "strict", "http://[fe80::1%25eth0]/", blocked, "link-local"},
		{strict, "strict", "ftp://x", invalid, `scheme "ftp" is not supported`},
		{strict, "strict", "javascript:alert(1)", invalid, "not supported"},
		{strict, "strict", "example.com/hook", invalid, "no scheme"},
		{strict, "strict", "http://user:pw@example.com/", invalid, "username or password"},
		{strict, "strict", "http:///path", invalid, "no host"},
		{strict, "strict", "http://example.com:0/", invalid, "port"},
		{strict, "strict", "http://example.com:99999/", invalid, "port"},
		{strict, "strict", "http://127.1/", invalid, "dotted-quad"},
		{strict, "strict", "http://2130706433/", invalid, "dotted-quad"},
		{strict, "strict", "http://0x7f000001/", invalid, "dotted-quad"},
		{strict, "strict", "http://internal.test/hook", blocked, `host "internal.test" resolves only to non-public addresses (10.0.0.5 is a private address)`},
		{strict, "strict", "http://metadata.test/", blocked, "169.254.169.254"},
		{strict, "strict", "http://v6local.test/", blocked, "unique-local"},
		{strict, "strict", "https://8.8.8.8/", ok, ""},
		{strict, "strict", "https://[2606:4700::1111]/hook", ok, ""},
		{strict, "strict", "https://public.test/hook", ok, ""},
		{strict, "strict", "https://mixed.test/hook", ok, ""},
		{strict, "strict", "https://nonexistent.invalid/hook", ok, ""}, // unresolvable: dial guard still applies
		{strict, "strict", "HTTPS://Public.Test:8443/hook?x=1", ok, ""},
		{open, "allow-private", "http://127.0.0.1/", ok, ""},
		{open, "allow-private", "http://[::1]:9000/", ok, ""},
		{open, "allow-private", "http://internal.test/", ok, ""},
		{open, "allow-private", "ftp://x", invalid, "scheme"},
		{open, "allow-private", "http://user:pw@127.0.0.1/", invalid, "username"},
		{opened, "allow-10/8", "http://10.1.2.3/", ok, ""},
		{opened, "allow-10/8", "http://internal.test/", ok, ""},
		{opened, "allow-10/8", "http://127.0.0.1/", blocked, "loopback"},
	}
	for _, tc := range cases {
		err := tc.c.CheckURL(context.Background(), tc.url)
		switch tc.want {
		case ok:
			if err != nil {
				t.Errorf("%s CheckURL(%q) = %v, want nil", tc.name, tc.url, err)
			}
			continue
		case blocked:
			if !errors.Is(err, ErrBlocked) {
				t.Errorf("%s CheckURL(%q) = %v, want ErrBlocked", tc.name, tc.url, err)
				continue
			}
		case invalid:
			if !errors.Is(err, ErrInvalidURL) {
				t.Errorf("%s CheckURL(%q) = %v, want ErrInvalidURL", tc.name, tc.url, err)
				continue
			}
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s CheckURL(%q) error %q does not contain %q", tc.name, tc.url, err, tc.msg)
		}
	}
}

// TestDialGuardDefeatsDNSRebinding: a name that resolves to a public address
// when the URL is saved and to loopback at delivery time is still refused,
// because the check runs on the address actually dialled.
func TestDialGuardDefeatsDNSRebinding(t *testing.T) {
	srv, hits := countingServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dns := startFakeDNS(t, map[string][]netip.Addr{
		"rebind.test.": {netip.MustParseAddr("8.8.8.8")},
	})
	c := New(Options{Resolver: dns.resolver()})
	defer c.CloseIdleConnections()

	u := "http://rebind.test:" + itoa(port) + "/hook"
	if err := c.CheckURL(context.Background(), u); err != nil {
		t.Fatalf("CheckURL at save time: %v", err)
	}
	dns.set("rebind.test.", netip.MustParseAddr("127.0.0.1"))

	_, err := get(t, c, u)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("Do after rebinding: err = %v, want ErrBlocked", err)
	}
	if Classify(err) != ClassBlocked {
		t.Errorf("Classify = %q", Classify(err))
	}
	if hits.Load() != 0 {
		t.Error("rebound request reached the loopback server")
	}
}

// TestDialGuardChecksEveryPooledConnection: keep-alive connections do not
// bypass the guard; each new connection is checked.
func TestDialGuardChecksEveryPooledConnection(t *testing.T) {
	srv, hits := countingServer(t)
	var dialled atomic.Int64
	c := New(Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	defer c.CloseIdleConnections()
	inner := c.control
	c.hc.Transport.(*http.Transport).DialContext = (&net.Dialer{Control: func(n, a string, rc syscall.RawConn) error {
		dialled.Add(1)
		return inner(n, a, rc)
	}}).DialContext

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := get(t, c, srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
		}()
	}
	wg.Wait()
	if hits.Load() != 8 {
		t.Fatalf("hits = %d", hits.Load())
	}
	if dialled.Load() == 0 {
		t.Fatal("control hook never ran")
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	c := New(Options{})
	tr := c.HTTPClient().Transport.(*http.Transport)
	if tr.MaxIdleConnsPerHost != 64 || tr.MaxIdleConns != 1024 || tr.IdleConnTimeout != 90*time.Second {
		t.Errorf("pool settings: %d/%d/%v", tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tr.IdleConnTimeout)
	}
	if !tr.ForceAttemptHTTP2 || !tr.DisableCompression || tr.ResponseHeaderTimeout != 0 {
		t.Error("transport tuning not applied")
	}
	if tr.Proxy != nil {
		t.Error("proxy set without ProxyURL")
	}
	if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Error("TLS minimum is not 1.2")
	}
	if c.opts.ConnectTimeout != 5*time.Second {
		t.Errorf("ConnectTimeout = %v", c.opts.ConnectTimeout)
	}
	if c.HTTPClient().Timeout != 0 {
		t.Error("client has an overall timeout; the request context should govern")
	}
	c2 := New(Options{MaxIdleConnsPerHost: 8})
	if got := c2.HTTPClient().Transport.(*http.Transport).MaxIdleConnsPerHost; got != 8 {
		t.Errorf("MaxIdleConnsPerHost = %d", got)
	}
}
