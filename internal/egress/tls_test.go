package egress

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &pki{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func (p *pki) leaf(t *testing.T, client bool, notAfter time.Time) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"receiver.example"},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func TestParseTLS(t *testing.T) {
	ca := newPKI(t)
	cert, key := ca.leaf(t, true, time.Now().Add(time.Hour))
	_, otherKey := ca.leaf(t, true, time.Now().Add(time.Hour))
	oldCert, oldKey := ca.leaf(t, true, time.Now().Add(-time.Minute))

	if p, err := ParseTLS("", "", ""); p != nil || err != nil {
		t.Fatalf("empty: %v, %v", p, err)
	}
	p, err := ParseTLS(cert, key, ca.pem)
	if err != nil || p.Certificate == nil || p.RootCAs == nil || p.Certificate.Leaf.Subject.CommonName != "leaf" {
		t.Fatalf("valid: %+v, %v", p, err)
	}
	if p, err := ParseTLS("", "", ca.pem); err != nil || p.Certificate != nil || p.RootCAs == nil {
		t.Fatalf("CA only: %+v, %v", p, err)
	}
	for _, c := range []struct {
		name                string
		cert, key, ca, want string
	}{
		{"certificate without key", cert, "", "", "tls.client_key: a client certificate needs its private key"},
		{"key without certificate", "", key, "", "tls.client_certificate: a client key needs its certificate"},
		{"not PEM", "MIIBszCCAVmgAwIBAgIU", key, "", "tls.client_certificate: no PEM block found"},
		{"key in the certificate field", key, key, "", "tls.client_certificate: no CERTIFICATE PEM block found (found [PRIVATE KEY])"},
		{"certificate in the key field", cert, cert, "", "tls.client_key: no PRIVATE KEY PEM block found"},
		{"key of another certificate", cert, otherKey, "", "private key does not match public key"},
		{"expired", oldCert, oldKey, "", "expired on"},
		{"CA not PEM", "", "", "hello", "tls.ca_bundle: no PEM block found"},
		{"CA garbage", "", "", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "tls.ca_bundle: certificate 1:"},
	} {
		_, err := ParseTLS(c.cert, c.key, c.ca)
		if !errors.Is(err, ErrInvalidTLS) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if Classify(err) != ClassTLS {
			t.Errorf("%s: class %s", c.name, Classify(err))
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY-----") {
			t.Errorf("%s: the message quotes the key: %v", c.name, err)
		}
	}
}

func TestWithTLSPresentsTheClientCertificateAndKeepsThePool(t *testing.T) {
	ca := newPKI(t)
	srvCert, srvKey := ca.leaf(t, false, time.Now().Add(time.Hour))
	pair, _ := tls.X509KeyPair([]byte(srvCert), []byte(srvKey))
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.Config.ErrorLog = nullLogger()
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()

	base := New(Options{AllowPrivate: true})
	defer base.CloseIdleConnections()
	// The shared client knows neither the CA nor a certificate.
	if _, err := get(t, base, srv.URL); Classify(err) != ClassTLS {
		t.Fatalf("shared client: %v", err)
	}
	cert, key := ca.leaf(t, true, time.Now().Add(time.Hour))
	p, err := ParseTLS(cert, key, ca.pem)
	if err != nil {
		t.Fatal(err)
	}
	c := base.WithTLS(p)
	defer c.CloseIdleConnections()
	for range 3 {
		resp, err := get(t, c, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "leaf" {
			t.Fatalf("server saw %q", body)
		}
	}
	if n := conns.Load(); n != 2 { // the shared client's failed handshake, then one kept-alive connection
		t.Errorf("%d connections, want 2", n)
	}
	tr := c.HTTPClient().Transport.(*http.Transport)
	if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || tr.TLSClientConfig.InsecureSkipVerify {
		t.Error("TLS floor or verification lost")
	}
	if base.WithTLS(nil) != base {
		t.Error("WithTLS(nil) should be the client itself")
	}
}

// connectProxy is an HTTP proxy that tunnels CONNECT to target and counts.
func connectProxy(t *testing.T, target string) (*url.URL, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		n.Add(1)
		up, err := net.Dial("tcp", target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, _ := w.(http.Hijacker).Hijack()
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { io.Copy(up, buf); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u, &n
}

// socks5Proxy is a minimal RFC 1928 server (no auth, CONNECT) that sends
// every connection to target and records the host it was asked for.
func socks5Proxy(t *testing.T, target string) (*url.URL, *atomic.Value) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var asked atomic.Value
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 262)
				if _, err := io.ReadFull(c, b[:2]); err != nil || b[0] != 5 {
					return
				}
				if _, err := io.ReadFull(c, b[:b[1]]); err != nil {
					return
				}
				c.Write([]byte{5, 0})
				if _, err := io.ReadFull(c, b[:4]); err != nil || b[1] != 1 {
					return
				}
				var host string
				switch b[3] {
				case 1:
					io.ReadFull(c, b[:4])
					host = net.IP(b[:4]).String()
				case 4:
					io.ReadFull(c, b[:16])
					host = net.IP(b[:16]).String()
				case 3:
					io.ReadFull(c, b[:1])
					l := int(b[0])
					io.ReadFull(c, b[:l])
					host = string(b[:l])
				}
				io.ReadFull(c, b[:2])
				asked.Store(net.JoinHostPort(host, itoa(int(binary.BigEndian.Uint16(b[:2])))))
				up, err := net.Dial("tcp", target)
				if err != nil {
					c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
					return
				}
				defer up.Close()
				c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return &url.URL{Scheme: "socks5", Host: ln.Addr().String()}, &asked
}

func TestProxyHTTPSConnectAndSOCKS5(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "via "+r.Host) }))
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	target := srv.Listener.Addr().String()

	pu, tunnels := connectProxy(t, target)
	c := New(Options{ProxyURL: pu, RootCAs: roots})
	defer c.CloseIdleConnections()
	// httptest's certificate is valid for example.com; the name is only
	// resolved by the proxy.
	resp, err := get(t, c, "https://example.com/hook")
	if err != nil {
		t.Fatalf("through CONNECT: %v", err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "via example.com" || tunnels.Load() != 1 {
		t.Fatalf("body %q, tunnels %d", body, tunnels.Load())
	}

	su, asked := socks5Proxy(t, target)
	s := New(Options{ProxyURL: su, RootCAs: roots})
	defer s.CloseIdleConnections()
	resp, err = get(t, s, "https://example.com/hook")
	if err != nil {
		t.Fatalf("through SOCKS5: %v", err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "via example.com" {
		t.Fatalf("body %q", body)
	}
	// The name goes to the proxy unresolved: its DNS, its policy.
	if got, _ := asked.Load().(string); got != "example.com:443" {
		t.Fatalf("the SOCKS5 proxy was asked for %q", got)
	}

	// With a proxy, a literal non-public address is still refused here.
	for _, cl := range []*Client{c, s} {
		if _, err := get(t, cl, "http://169.254.169.254/latest/meta-data/"); Classify(err) != ClassBlocked {
			t.Errorf("metadata through proxy: %v", err)
		}
		if _, err := get(t, cl, "http://[::ffff:10.0.0.1]/"); Classify(err) != ClassBlocked {
			t.Errorf("mapped private through proxy: %v", err)
		}
	}
	if tunnels.Load() != 1 {
		t.Fatalf("the proxy was asked for a blocked address")
	}
}
