package dispatch

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
)

// mtlsReceiver is an HTTPS receiver that demands a client certificate
// signed by ca, and counts the connections it accepts.
func mtlsReceiver(t *testing.T, ca *testCA) (*sink, *atomic.Int64) {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "receiver", false, time.Now().Add(24*time.Hour))
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	var conns atomic.Int64
	s.Server = httptest.NewUnstartedServer(s.handler())
	s.Config.ErrorLog = nullLog()
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool()}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s, &conns
}

func TestMutualTLSAndCustomCA(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	ca := newTestCA(t, "Acme Bank Private CA")
	rc, conns := mtlsReceiver(t, ca)
	clientCert, clientKey := ca.issue(t, "herald.acme-kyc.example", true, time.Now().Add(24*time.Hour))

	e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
		e.TLS = &domain.EndpointTLS{ClientCertificate: clientCert, ClientKey: clientKey, CABundle: ca.pem}
		e.EventTypes = []string{"mtls.*"}
		e.MaxConcurrency = 1
	})
	for range 5 {
		d := r.succeeded(r.publish("mtls.ok", `{"status":"approved"}`), e.ID)
		noSecretsIn(t, d, clientKey[40:80])
	}
	for _, h := range rc.all() {
		if h.tls == nil || len(h.tls.PeerCertificates) == 0 || h.tls.PeerCertificates[0].Subject.CommonName != "herald.acme-kyc.example" {
			t.Fatalf("the receiver saw no client certificate: %+v", h.tls)
		}
		verify(t, e.Secret, h)
	}
	// The endpoint's client is kept, so its connections are reused.
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 deliveries, want 1 (the endpoint's client is not cached?)", n)
	}
	// A change elsewhere in the endpoint keeps the client and its pool.
	e.Name = "renamed"
	r.update(e)
	r.succeeded(r.publish("mtls.ok", `{}`), e.ID)
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections after an unrelated change, want 1", n)
	}

	cases := []struct {
		name string
		tls  *domain.EndpointTLS
		want string
	}{
		// The receiver's CA is trusted but no certificate is presented.
		{"no client certificate", &domain.EndpointTLS{CABundle: ca.pem}, "certificate required"},
		// The receiver's certificate does not chain to the system roots.
		{"no custom CA", nil, "certificate"},
		{"unparseable PEM", &domain.EndpointTLS{ClientCertificate: "MIIB...not PEM", ClientKey: clientKey}, "tls.client_certificate: no PEM block found"},
		{"key of another certificate", func() *domain.EndpointTLS {
			_, otherKey := ca.issue(t, "other", true, time.Now().Add(time.Hour))
			return &domain.EndpointTLS{ClientCertificate: clientCert, ClientKey: otherKey, CABundle: ca.pem}
		}(), "private key does not match public key"},
		{"expired client certificate", func() *domain.EndpointTLS {
			c, k := ca.issue(t, "old", true, time.Now().Add(-time.Hour))
			return &domain.EndpointTLS{ClientCertificate: c, ClientKey: k, CABundle: ca.pem}
		}(), "expired"},
	}
	before := rc.count()
	for _, c := range cases {
		e := r.endpoint(rc.URL, func(e *domain.Endpoint) { e.TLS = c.tls; e.EventTypes = []string{"tlsfail.x"} })
		d := r.settled(r.publish("tlsfail.x", `{}`), e.ID)
		a := d.AttemptLog[0]
		t.Logf("%s: %s", c.name, a.Error)
		if d.Status != domain.DeliveryPending || a.ErrorClass != "tls" || !strings.Contains(a.Error, c.want) {
			t.Errorf("%s: %s %s", c.name, d.Status, attemptsJSON(d))
		}
		if c.tls != nil && c.tls.ClientKey != "" {
			noSecretsIn(t, d, c.tls.ClientKey[40:80])
		}
	}
	if rc.count() != before {
		t.Errorf("the receiver served %d requests to failed handshakes", rc.count()-before)
	}
}

// The prepared endpoint keeps its TLS client while the TLS settings are
// unchanged and builds a new one when they change.
func TestTLSClientIsCachedPerEndpoint(t *testing.T) {
	ca := newTestCA(t, "CA")
	base := egress.New(egress.Options{})
	e := domain.Endpoint{ID: "ep_1", Secret: "whsec_dGVzdA==", TLS: &domain.EndpointTLS{CABundle: ca.pem}}
	p1, err := prepare(e, base, nil)
	if err != nil || p1.client == base || !p1.ownClient {
		t.Fatalf("prepare: %v, own client %v", err, p1.ownClient)
	}
	e.Name = "x"
	p2, _ := prepare(e, base, p1)
	if p2.client != p1.client {
		t.Error("an unrelated change rebuilt the TLS client")
	}
	other := newTestCA(t, "CA2")
	e.TLS = &domain.EndpointTLS{CABundle: other.pem}
	p3, _ := prepare(e, base, p2)
	if p3.client == p2.client {
		t.Error("a new CA bundle kept the old client")
	}
	e.TLS = nil
	if p4, _ := prepare(e, base, p3); p4.client != base || p4.ownClient {
		t.Error("without TLS settings the endpoint should use the shared client")
	}
}

// proxy is a tiny forward proxy: absolute-URI requests for http:// and
// CONNECT tunnels for https://. Every host is sent to target, as a proxy
// with its own DNS would resolve it.
func newProxy(t *testing.T, target func(host string) string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var used atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		used.Add(1)
		if r.Method == http.MethodConnect {
			up, err := net.Dial("tcp", target(r.Host))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				up.Close()
				return
			}
			io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
			go func() { io.Copy(up, buf); up.Close() }()
			io.Copy(conn, up)
			conn.Close()
			return
		}
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		up, err := net.Dial("tcp", target(r.URL.Host))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer up.Close()
		r.RequestURI = ""
		r.Header.Del("Proxy-Connection")
		if err := r.Write(up); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(up), r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, &used
}

func TestDeliveriesGoThroughTheEgressProxy(t *testing.T) {
	plain := newSink(t, nil)
	ca := newTestCA(t, "Receiver CA")
	secure, _ := mtlsReceiver(t, ca)
	clientCert, clientKey := ca.issue(t, "herald", true, time.Now().Add(time.Hour))
	proxy, used := newProxy(t, func(host string) string {
		if strings.HasSuffix(host, ":443") {
			return secure.Listener.Addr().String()
		}
		return plain.Listener.Addr().String()
	})
	pu, _ := url.Parse(proxy.URL)
	// Private destinations are not allowed: the proxy itself is on
	// loopback, and with a proxy the dial-time guard is the proxy's job.
	r := newRig(t, egress.Options{ProxyURL: pu})

	// Names that do not resolve here: only the proxy can reach them.
	httpEP := r.endpoint("http://receiver.herald.test/hook", func(e *domain.Endpoint) { e.EventTypes = []string{"p.http"} })
	r.succeeded(r.publish("p.http", `{}`), httpEP.ID)
	if h := plain.only(t); h.header.Get("webhook-id") == "" {
		t.Fatalf("headers through the proxy: %v", h.header)
	}
	// https through a CONNECT tunnel, with the endpoint's mTLS client.
	// (localhost would be refused: whatever the proxy's loopback holds is
	// not a destination.)
	httpsEP := r.endpoint("https://secure.herald.test/hook", func(e *domain.Endpoint) {
		e.EventTypes = []string{"p.https"}
		e.TLS = &domain.EndpointTLS{ClientCertificate: clientCert, ClientKey: clientKey, CABundle: ca.pem}
	})
	r.succeeded(r.publish("p.https", `{}`), httpsEP.ID)
	if h := secure.only(t); h.tls == nil || len(h.tls.PeerCertificates) == 0 {
		t.Fatal("no mutual TLS through the tunnel")
	}
	if used.Load() != 2 {
		t.Fatalf("the proxy saw %d requests, want 2", used.Load())
	}

	// A literal non-public address is refused before the proxy is asked.
	blocked := r.endpoint("http://169.254.169.254/latest/meta-data/", func(e *domain.Endpoint) { e.EventTypes = []string{"p.meta"} })
	d := r.settled(r.publish("p.meta", `{}`), blocked.ID)
	if d.AttemptLog[0].ErrorClass != "blocked" || used.Load() != 2 {
		t.Fatalf("metadata address through the proxy: %s (proxy used %d)", attemptsJSON(d), used.Load())
	}
}

// With private destinations refused, a delivery to one is an attempt with
// error class blocked, and nothing reaches the receiver; a redirect to an
// internal address is not followed.
func TestSSRFBlockedDeliveriesAreRecorded(t *testing.T) {
	rc := newSink(t, nil)
	port := rc.Listener.Addr().(*net.TCPAddr).Port
	r := newRig(t, egress.Options{})
	for _, u := range []string{
		rc.URL,
		"http://localhost:" + itoa(port) + "/hook",
		"http://[::ffff:127.0.0.1]:" + itoa(port) + "/hook",
		"http://[::1]:" + itoa(port) + "/hook",
		"http://0.0.0.0:" + itoa(port) + "/hook",
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1:" + itoa(port) + "/",
	} {
		e := r.endpoint(u, func(e *domain.Endpoint) { e.EventTypes = []string{"ssrf.x"} })
		d := r.settled(r.publish("ssrf.x", `{}`), e.ID)
		if a := d.AttemptLog[0]; a.ErrorClass != "blocked" || !strings.Contains(a.Error, "non-public") {
			t.Errorf("%s: %s", u, attemptsJSON(d))
		}
	}
	if rc.count() != 0 {
		t.Fatalf("the internal receiver took %d requests", rc.count())
	}

	// A public-looking receiver (opened with AllowCIDRs) that redirects to
	// an internal one: the 3xx is the answer, and the target is untouched.
	internal := newSink(t, nil)
	redirector := newSink(t, nil)
	redirector.Config.Handler = http.RedirectHandler(internal.URL+"/admin", http.StatusFound)
	r2 := newRig(t, egress.Options{AllowCIDRs: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("127.0.0.1"), 32)}})
	e := r2.endpoint(redirector.URL)
	d := r2.settled(r2.publish("a.b", `{}`), e.ID)
	if a := d.AttemptLog[0]; a.ResponseStatus != http.StatusFound || a.ErrorClass != "http" || d.Status != domain.DeliveryPending {
		t.Fatalf("redirect: %s %s", d.Status, attemptsJSON(d))
	}
	if internal.count() != 0 {
		t.Fatal("the redirect was followed")
	}
}
