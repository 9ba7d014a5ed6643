package api_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
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

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"

	"github.com/heraldhq/herald/webhook"
)

// settledDelivery waits for the delivery of an event to an endpoint to be
// attempted and returns it as the API shows it, with its raw JSON (for what
// the answer must not hold).
func settledDelivery(h *servertest.Herald, tenant, env, eventID, endpointID string) (client.Delivery, string) {
	h.T.Helper()
	var found client.Delivery
	servertest.Eventually(h.T, 10*time.Second, "the delivery to be attempted", func() bool {
		for _, d := range h.Deliveries(tenant, env, &client.DeliveryListParams{EventID: eventID}) {
			if d.EndpointID == endpointID && d.AttemptCount > 0 {
				found = d
				return true
			}
		}
		return false
	})
	raw := h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/deliveries/" + found.ID, Tenant: tenant, Env: env})
	var d client.Delivery
	raw.JSON(h.T, &d)
	return d, string(raw.Body)
}

// endpointText is an endpoint as the API answers it, for what it must not
// hold.
func endpointText(h *servertest.Herald, tenant, env, id string) string {
	h.T.Helper()
	return string(h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints/" + id, Tenant: tenant, Env: env}).Body)
}

func mustVerify(t *testing.T, key string, c servertest.Received) {
	t.Helper()
	v, err := webhook.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(c.Header, c.Body); err != nil {
		t.Fatalf("signature does not verify: %v (body %s)", err, c.Body)
	}
}

func mustNotContain(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the secret %q: %s", what, s, text)
		}
	}
}

func TestPayloadModesCompatSignaturesAndAuthThroughTheAPI(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	const token = "static-bearer-token-0a1b2c3d4e5f"
	const apiKey = "cbk_live_5e6f7a8b9c0d"
	const password = "s3cret-basic-password"

	// raw body, Smart-KYC-style hex signature, bearer token.
	var rawSecret string
	raw := servertest.NewReceiver(t)
	raw.Respond(func(_ int, r *http.Request) int {
		body, _ := io.ReadAll(r.Body)
		key, _ := webhook.ParseSecret(rawSecret)
		m := hmac.New(sha256.New, key)
		m.Write(body)
		if r.Header.Get("Authorization") != "Bearer "+token || r.Header.Get("X-SmartKYC-Signature") != hex.EncodeToString(m.Sum(nil)) {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	epRaw := h.Endpoint("acme", "sandbox", client.EndpointCreate{
		URL: raw.URL, EventTypes: []string{"modes.*"}, AllowUnregisteredTypes: true, PayloadMode: "raw",
		CompatSignature: &client.CompatSignature{Kind: client.CompatHMACHex, Header: "X-SmartKYC-Signature"},
		Auth:            &client.EndpointAuth{Type: client.AuthBearer, Token: token},
	})
	rawSecret = epRaw.Secret

	// thin body with the receiver's API key in it, basic auth.
	thin := servertest.NewReceiver(t)
	thin.Respond(func(_ int, r *http.Request) int {
		var m map[string]any
		u, p, _ := r.BasicAuth()
		if json.NewDecoder(r.Body).Decode(&m) != nil || m["callbackApiKey"] != apiKey || u != "acme" || p != password {
			return http.StatusForbidden
		}
		return http.StatusOK
	})
	epThin := h.Endpoint("acme", "sandbox", client.EndpointCreate{
		URL: thin.URL, EventTypes: []string{"modes.*"}, AllowUnregisteredTypes: true, PayloadMode: "thin",
		CompatSignature: &client.CompatSignature{Kind: client.CompatBodyAPIKey, Field: "callbackApiKey", APIKey: apiKey},
		Auth:            &client.EndpointAuth{Type: client.AuthBasic, Username: "acme", Password: password},
	})

	// ed25519 signatures: the API made the key pair.
	ed := servertest.NewReceiver(t)
	epEd := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: ed.URL, EventTypes: []string{"modes.*"}, AllowUnregisteredTypes: true, Signing: "ed25519"})
	if epEd.Signing != "ed25519" || !strings.HasPrefix(epEd.SigningPublicKey, "whpk_") {
		t.Fatalf("ed25519 endpoint: %+v", epEd)
	}

	p := h.Publish("acme", "sandbox", client.PublishEvent{
		Type: "modes.checked", Job: &client.JobRef{ID: "job_1"},
		Data: json.RawMessage(`{"status": "approved", "name": "Ada Lovelace"}`),
	})

	got := raw.Next(10 * time.Second)
	mustVerify(t, epRaw.Secret, got)
	var data map[string]any
	if json.Unmarshal(got.Body, &data) != nil || data["status"] != "approved" || data["id"] != nil {
		t.Fatalf("raw body %s", got.Body)
	}

	got = thin.Next(10 * time.Second)
	mustVerify(t, epThin.Secret, got)
	if strings.Contains(string(got.Body), "Lovelace") || !strings.Contains(string(got.Body), p.ID) {
		t.Fatalf("thin body %s", got.Body)
	}

	got = ed.Next(10 * time.Second)
	mustVerify(t, epEd.SigningPublicKey, got)
	sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(got.Header.Get("webhook-signature"), "v1a,"))
	pub, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(epEd.SigningPublicKey, "whpk_"))
	if !ed25519.Verify(pub, []byte(p.ID+"."+got.Header.Get("webhook-timestamp")+"."+string(got.Body)), sig) {
		t.Fatal("crypto/ed25519 does not verify the delivery")
	}

	for _, ep := range []*client.EndpointWithSecret{epRaw, epThin, epEd} {
		d, text := settledDelivery(h, "acme", "sandbox", p.ID, ep.ID)
		if d.Status != client.DeliverySucceeded {
			t.Errorf("delivery to %s: %s", ep.ID, text)
		}
		mustNotContain(t, "the delivery log", text, token, apiKey, password)
		mustNotContain(t, "the endpoint", endpointText(h, "acme", "sandbox", ep.ID), token, apiKey, password)
	}
}

func TestOAuth2AndMutualTLSThroughTheAPI(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")

	// A token endpoint that counts.
	var fetches atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		id, secret, _ := r.BasicAuth()
		r.ParseForm()
		if id != "herald" || secret != "oauth-client-secret-77" || r.PostForm.Get("grant_type") != "client_credentials" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, fetches.Load())
	}))
	defer tokens.Close()

	// A receiver that demands a client certificate from its own CA and a token.
	ca := newE2ECA(t)
	rc := ca.receiver(t)
	rc.Respond(func(_ int, r *http.Request) int {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer at-") {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	clientCert, clientKey := ca.issue(t, "herald-client", true)

	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{
		URL: rc.URL, MaxConcurrency: client.Ptr(4),
		Auth: &client.EndpointAuth{
			Type: client.AuthOAuth2, TokenURL: tokens.URL + "/token",
			ClientID: "herald", ClientSecret: "oauth-client-secret-77", Scope: "callbacks",
		},
		TLS: &client.EndpointTLS{ClientCertificate: clientCert, ClientKey: clientKey, CABundle: ca.pem},
	})
	var ids []string
	for range 12 {
		ids = append(ids, h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)}).ID)
	}
	for range ids {
		got := rc.Next(10 * time.Second)
		mustVerify(t, ep.Secret, got)
		if got.TLS == nil || len(got.TLS.PeerCertificates) == 0 || got.TLS.PeerCertificates[0].Subject.CommonName != "herald-client" {
			t.Fatal("no client certificate")
		}
	}
	for _, id := range ids {
		d, text := settledDelivery(h, "acme", "sandbox", id, ep.ID)
		if d.Status != client.DeliverySucceeded {
			t.Fatalf("delivery: %s", text)
		}
		mustNotContain(t, "the delivery log", text, "oauth-client-secret-77", "at-1", clientKey[40:80])
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d token fetches for 12 deliveries, want 1", n)
	}
	mustNotContain(t, "the endpoint", endpointText(h, "acme", "sandbox", ep.ID), "oauth-client-secret-77", clientKey[40:80])
}

type e2eCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newE2ECA(t *testing.T) *e2eCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Receiver CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &e2eCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// receiver is a receiver on HTTPS, with a certificate from ca, that demands
// a client certificate from ca.
func (ca *e2eCA) receiver(t *testing.T) *servertest.Receiver {
	t.Helper()
	srvCert, srvKey := ca.issue(t, "receiver", false)
	pair, err := tls.X509KeyPair([]byte(srvCert), []byte(srvKey))
	if err != nil {
		t.Fatal(err)
	}
	return servertest.NewTLSReceiver(t, &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool()})
}

func (ca *e2eCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func (ca *e2eCA) issue(t *testing.T, cn string, client bool) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// With --egress-proxy every delivery leaves through the proxy: here a
// forward proxy that alone can reach the receiver's name.
func TestDeliveriesGoThroughTheEgressProxyFlag(t *testing.T) {
	rc := servertest.NewReceiver(t)
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() || r.URL.Host != "receiver.herald.test" {
			http.Error(w, "not a proxy request for receiver.herald.test", http.StatusBadGateway)
			return
		}
		proxied.Add(1)
		out, _ := http.NewRequest(r.Method, rc.URL+r.URL.Path, r.Body)
		out.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	h := servertest.Start(t, func(s *servertest.Settings) {
		pu, _ := url.Parse(proxy.URL)
		s.Config.Egress.ProxyURL = pu
		s.Config.EgressIPs = []string{"203.0.113.7"}
		s.Config.Egress.AllowPrivate = false // the proxy is on loopback: with a proxy that is its business
	})
	h.Tenant("acme")
	if ips := servertest.Must(h.Client.GetEgressIPs(t.Context()))(t); len(ips.IPs) != 1 || ips.IPs[0] != "203.0.113.7" || !ips.Proxy {
		t.Fatalf("egress IPs %+v", ips)
	}
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "http://receiver.herald.test/hook"})
	p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
	mustVerify(t, ep.Secret, rc.Next(10*time.Second))
	if d, text := settledDelivery(h, "acme", "sandbox", p.ID, ep.ID); d.Status != client.DeliverySucceeded || proxied.Load() != 1 {
		t.Fatalf("through the proxy (%d): %s", proxied.Load(), text)
	}
}
