package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSSRFTable sends to every blocked range and every encoding of an
// internal address through the real dial path (real resolver code, real
// dialer, the Control hook): nothing arrives, the error is class blocked
// (or dns, for forms no resolver turns into an address), and the same URL
// is refused when it is saved.
func TestSSRFTable(t *testing.T) {
	srv, hits := countingServer(t)
	port := itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	loop := netip.MustParseAddr("127.0.0.1")
	// A resolver that, like glibc's inet_aton, turns numeric forms into
	// addresses, and names that point inside.
	dns := startFakeDNS(t, map[string][]netip.Addr{
		"0x7f.0.0.1.":              {loop},
		"0x7f000001.":              {loop},
		"internal.test.":           {netip.MustParseAddr("10.0.0.5")},
		"metadata.test.":           {netip.MustParseAddr("169.254.169.254")},
		"loopback.test.":           {loop, netip.MustParseAddr("::1")},
		"mapped.test.":             {netip.MustParseAddr("::ffff:127.0.0.1")},
		"ula.test.":                {netip.MustParseAddr("fd00::1")},
		"cgnat.test.":              {netip.MustParseAddr("100.64.0.1")},
		"localhost.attacker.test.": {loop},
	})
	c := New(Options{Resolver: dns.resolver()})
	defer c.CloseIdleConnections()

	cases := []struct{ name, url string }{
		{"loopback", "http://127.0.0.1:" + port + "/"},
		{"loopback, other address", "http://127.0.0.2:" + port + "/"},
		{"this network", "http://0.0.0.0:" + port + "/"},
		{"RFC 1918 10/8", "http://10.1.2.3/"},
		{"RFC 1918 172.16/12", "http://172.16.0.1/"},
		{"RFC 1918 192.168/16", "http://192.168.1.1/"},
		{"CGNAT", "http://100.64.0.1/"},
		{"link-local / cloud metadata", "http://169.254.169.254/latest/meta-data/"},
		{"multicast", "http://224.0.0.1/"},
		{"broadcast", "http://255.255.255.255/"},
		{"reserved", "http://240.0.0.1/"},
		{"benchmarking", "http://198.18.0.1/"},
		{"IPv6 loopback", "http://[::1]:" + port + "/"},
		{"IPv6 unspecified", "http://[::]:" + port + "/"},
		{"IPv6 unique-local", "http://[fd00::1]/"},
		{"IPv6 link-local", "http://[fe80::1]/"},
		{"IPv6 multicast", "http://[ff02::1]/"},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + port + "/"},
		{"IPv4-mapped loopback, hex", "http://[::ffff:7f00:1]:" + port + "/"},
		{"IPv4-mapped metadata", "http://[::ffff:a9fe:a9fe]/"},
		{"IPv4-compatible loopback", "http://[::127.0.0.1]:" + port + "/"},
		{"NAT64 of loopback", "http://[64:ff9b::7f00:1]/"},
		{"6to4 of a private address", "http://[2002:a00:1::1]/"},
		{"decimal", "http://2130706433:" + port + "/"},
		{"octal", "http://0177.0.0.1:" + port + "/"},
		{"hex", "http://0x7f.0.0.1:" + port + "/"},
		{"hex, one number", "http://0x7f000001:" + port + "/"},
		{"short form", "http://127.1:" + port + "/"},
		{"name → private", "http://internal.test/"},
		{"name → metadata", "http://metadata.test/"},
		{"name → loopback (v4 and v6)", "http://loopback.test:" + port + "/"},
		{"name → mapped loopback", "http://mapped.test:" + port + "/"},
		{"name → unique-local", "http://ula.test/"},
		{"name → CGNAT", "http://cgnat.test/"},
		{"name that looks public → loopback", "http://localhost.attacker.test:" + port + "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// At save time.
			err := c.CheckURL(context.Background(), tc.url)
			if !errors.Is(err, ErrBlocked) && !errors.Is(err, ErrInvalidURL) {
				t.Errorf("CheckURL(%s) = %v, want it refused", tc.url, err)
			}
			// At connect time.
			resp, err := get(t, c, tc.url)
			if err == nil {
				t.Fatalf("%s: got %d, want the request refused", tc.url, resp.StatusCode)
			}
			t.Logf("%s → %s: %v", tc.url, Classify(err), err)
			switch class := Classify(err); class {
			case ClassBlocked:
			case ClassDNS:
				// Go's resolver rejects all-numeric names outright; no
				// connection is attempted at all.
				if !strings.Contains(tc.name, "decimal") && !strings.Contains(tc.name, "octal") && !strings.Contains(tc.name, "short") {
					t.Errorf("%s: class dns (%v), want blocked", tc.url, err)
				}
			default:
				t.Errorf("%s: class %s (%v), want blocked", tc.url, class, err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal server took %d requests", n)
	}
}

// TestSSRFRedirectToInternalIsNotFollowed: a receiver that is allowed
// (here by AllowCIDRs) answering 307 towards the metadata service or
// another loopback server gets its 3xx back; nothing follows it.
func TestSSRFRedirectToInternalIsNotFollowed(t *testing.T) {
	internal, hits := countingServer(t)
	for _, target := range []string{internal.URL + "/admin", "http://169.254.169.254/latest/meta-data/"} {
		redirector := httptest.NewServer(http.RedirectHandler(target, http.StatusTemporaryRedirect))
		c := New(Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		resp, err := get(t, c, redirector.URL)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != target {
			t.Errorf("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		c.CloseIdleConnections()
		redirector.Close()
	}
	if hits.Load() != 0 {
		t.Fatal("a redirect was followed")
	}
}

// TestSSRFGuardSurvivesWithTLS: the per-endpoint client of WithTLS keeps
// the dial guard.
func TestSSRFGuardSurvivesWithTLS(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := New(Options{}).WithTLS(&TLSParams{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})
	defer c.CloseIdleConnections()
	if _, err := get(t, c, srv.URL); Classify(err) != ClassBlocked {
		t.Fatalf("err = %v, want blocked", err)
	}
	if hits.Load() != 0 {
		t.Fatal("reached")
	}
}
