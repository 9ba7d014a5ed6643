package dispatch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/webhook"
)

// rig is a real Dispatcher running against a real SQLite store in a temp
// directory, sending through a real egress client to real receivers.
type rig struct {
	t      *testing.T
	st     *sqlite.Store
	d      *Dispatcher
	client *egress.Client
	scope  domain.Scope
}

func newRig(t *testing.T, opts egress.Options) *rig {
	t.Helper()
	return newRigWith(t, opts, nil, nil)
}

// newRigWith is newRig whose dispatcher sees the store through wrap (when
// not nil) and takes the settings tune changes.
func newRigWith(t *testing.T, opts egress.Options, wrap func(Queue) Queue, tune func(*Config)) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, st: st, scope: domain.Scope{TenantID: "acme", Environment: domain.Production}}
	if err := st.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "Acme", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.client = egress.New(opts)
	cfg := Config{
		Lease: 30 * time.Second, Poll: 20 * time.Millisecond, Grace: 5 * time.Second,
		UserAgent: "Herald/test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tune != nil {
		tune(&cfg)
	}
	var q Queue = st
	if wrap != nil {
		q = wrap(st)
	}
	r.d = New(q, r.client, cfg)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.d.Run(runCtx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		r.client.CloseIdleConnections()
		st.Close()
	})
	return r
}

// endpoint creates an endpoint to url; configure sets the options under test.
func (r *rig) endpoint(url string, configure ...func(*domain.Endpoint)) *domain.Endpoint {
	r.t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		r.t.Fatal(err)
	}
	now := time.Now()
	e := &domain.Endpoint{
		ID: domain.NewID(domain.PrefixEndpoint), TenantID: r.scope.TenantID, Environment: r.scope.Environment,
		URL: url, Status: domain.EndpointActive, TimeoutMS: 5000, MaxConcurrency: 8, Success: domain.Success2xx,
		Secret: secret, RetryPolicy: domain.RetryPolicy{Delays: []string{"1h"}}, CreatedAt: now, UpdatedAt: now,
	}
	for _, f := range configure {
		f(e)
	}
	if err := e.RetryPolicy.Normalize(); err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.CreateEndpoint(context.Background(), e); err != nil {
		r.t.Fatal(err)
	}
	return e
}

// update saves a changed endpoint, as PATCH does.
func (r *rig) update(e *domain.Endpoint) {
	r.t.Helper()
	e.UpdatedAt = time.Now()
	if err := r.st.UpdateEndpoint(context.Background(), e); err != nil {
		r.t.Fatal(err)
	}
}

// publish commits an event for every subscribed endpoint and wakes the
// dispatcher; it returns the event id.
func (r *rig) publish(typ, data string) string {
	r.t.Helper()
	now := time.Now()
	ev := domain.Event{
		ID: domain.NewIDAt(domain.PrefixEvent, now), TenantID: r.scope.TenantID, Environment: r.scope.Environment,
		Type: typ, Job: &domain.Job{ID: "job_7f3a", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-123"}`)},
		Final: true, Data: json.RawMessage(data), CreatedAt: now,
	}
	if _, err := r.st.Publish(context.Background(), r.scope, []store.Publication{{Event: ev}}); err != nil {
		r.t.Fatal(err)
	}
	r.d.Wake()
	return ev.ID
}

// settled waits until the event's delivery to the endpoint has been
// attempted (or cancelled) and returns it with its attempt log.
func (r *rig) settled(eventID, endpointID string) *domain.Delivery {
	r.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := r.st.ListDeliveries(ctx, r.scope, store.DeliveryFilter{EventID: eventID, EndpointID: endpointID})
		if err != nil {
			r.t.Fatal(err)
		}
		if len(ds) == 1 && (ds[0].Attempts > 0 || ds[0].Status != domain.DeliveryPending) {
			d, err := r.st.GetDelivery(ctx, r.scope, ds[0].ID)
			if err != nil {
				r.t.Fatal(err)
			}
			return d
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("delivery of %s to %s not attempted within 10 s (%d deliveries)", eventID, endpointID, len(ds))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStatus waits until the delivery of the event to the endpoint has the
// status, through any retries before.
func (r *rig) waitStatus(eventID, endpointID, status string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := r.st.ListDeliveries(context.Background(), r.scope, store.DeliveryFilter{EventID: eventID, EndpointID: endpointID})
		if err != nil {
			r.t.Fatal(err)
		}
		if len(ds) == 1 && ds[0].Status == status {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("delivery of %s to %s not %s within 10 s (%d deliveries)", eventID, endpointID, status, len(ds))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// succeeded waits for a delivery and insists that it succeeded.
func (r *rig) succeeded(eventID, endpointID string) *domain.Delivery {
	r.t.Helper()
	d := r.settled(eventID, endpointID)
	if d.Status != domain.DeliverySucceeded {
		r.t.Fatalf("delivery %s: status %s, attempts %s", d.ID, d.Status, attemptsJSON(d))
	}
	return d
}

func attemptsJSON(d *domain.Delivery) string {
	b, _ := json.Marshal(d.AttemptLog)
	return string(b)
}

// noSecretsIn fails if the delivery, as stored and as the API would show
// it, holds any of the secrets.
func noSecretsIn(t *testing.T, d *domain.Delivery, secrets ...string) {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(string(b), s) {
			t.Errorf("the delivery record contains the secret %q: %s", s, b)
		}
	}
}

// hit is one request a test receiver took.
type hit struct {
	header http.Header
	body   []byte
	tls    *tls.ConnectionState
}

// sink is a receiver that keeps what it is sent and answers with answer.
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	answer func(r *http.Request, body []byte) int
}

func newSink(t *testing.T, answer func(r *http.Request, body []byte) int) *sink {
	s := &sink{answer: answer}
	s.Server = httptest.NewServer(s.handler())
	t.Cleanup(s.Close)
	return s
}

func (s *sink) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hits = append(s.hits, hit{header: r.Header.Clone(), body: body, tls: r.TLS})
		answer := s.answer
		s.mu.Unlock()
		status := http.StatusOK
		if answer != nil {
			status = answer(r, body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"ok":true}`)
	})
}

func (s *sink) respond(answer func(r *http.Request, body []byte) int) {
	s.mu.Lock()
	s.answer = answer
	s.mu.Unlock()
}

func (s *sink) all() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hits)
}

// only returns the one request the sink took.
func (s *sink) only(t *testing.T) hit {
	t.Helper()
	h := s.all()
	if len(h) != 1 {
		t.Fatalf("receiver took %d requests, want 1", len(h))
	}
	return h[0]
}

func itoa(n int) string { return strconv.Itoa(n) }

// nullLog silences a test server's complaints about failed handshakes.
func nullLog() *log.Logger { return log.New(io.Discard, "", 0) }

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue signs a leaf certificate: a server's for 127.0.0.1 and localhost,
// or a client's. It returns the PEM certificate and key.
func (ca *testCA) issue(t *testing.T, cn string, client bool, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost", "secure.herald.test"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}
