package servertest

import (
	"bytes"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/webhook"
)

// Receiver is a customer's server: it verifies every request with the
// webhook package and answers what the test tells it to.
type Receiver struct {
	*httptest.Server
	t        *testing.T
	mu       sync.Mutex
	verifier *webhook.Verifier
	got      []Received
	answer   func(n int, r *http.Request) int
	arrived  chan Received
}

// Received is one request a Receiver took.
type Received struct {
	ID     string
	Header http.Header
	Body   []byte
	// Event is the parsed body when Valid is nil.
	Event *webhook.Event
	// Valid is the signature check's verdict (io.ErrUnexpectedEOF before
	// Trust).
	Valid   error
	Arrival time.Time
	// TLS is the connection's state on a TLS receiver: the client
	// certificate Herald presented.
	TLS *tls.ConnectionState
}

// NewReceiver starts a receiver that answers 200 until told otherwise.
func NewReceiver(t *testing.T) *Receiver {
	rc := newReceiver(t)
	rc.Start()
	return rc
}

// NewTLSReceiver starts a receiver on HTTPS with cfg: its certificate, and
// the client certificates it asks for.
func NewTLSReceiver(t *testing.T, cfg *tls.Config) *Receiver {
	rc := newReceiver(t)
	rc.TLS = cfg
	// Refused handshakes are what some tests are about, not noise.
	rc.Config.ErrorLog = log.New(io.Discard, "", 0)
	rc.StartTLS()
	return rc
}

func newReceiver(t *testing.T) *Receiver {
	rc := &Receiver{t: t, arrived: make(chan Received, 1024), answer: func(int, *http.Request) int { return http.StatusOK }}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rc.mu.Lock()
		v := rc.verifier
		n := len(rc.got) + 1
		rc.mu.Unlock()
		rec := Received{ID: r.Header.Get("webhook-id"), Header: r.Header.Clone(), Body: body, Arrival: time.Now(), TLS: r.TLS}
		if v == nil {
			rec.Valid = io.ErrUnexpectedEOF
		} else {
			rec.Event, rec.Valid = v.Parse(r.Header, body)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, rec)
		answer := rc.answer
		rc.mu.Unlock()
		status := answer(n, r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"received":true}`))
		rc.arrived <- rec
	}))
	t.Cleanup(rc.Close)
	return rc
}

// Trust makes the receiver verify signatures with this secret (or, for
// ed25519, public key).
func (rc *Receiver) Trust(secret string) {
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.mu.Lock()
	rc.verifier = v
	rc.mu.Unlock()
}

// Respond sets the status the receiver answers its n-th request (from 1)
// with; f may read the request's body.
func (rc *Receiver) Respond(f func(n int, r *http.Request) int) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

// Next waits for the next request.
func (rc *Receiver) Next(timeout time.Duration) Received {
	rc.t.Helper()
	select {
	case r := <-rc.arrived:
		return r
	case <-time.After(timeout):
		rc.t.Fatalf("no delivery arrived within %s", timeout)
		return Received{}
	}
}

// Quiet asserts nothing arrives for d.
func (rc *Receiver) Quiet(d time.Duration) {
	rc.t.Helper()
	select {
	case r := <-rc.arrived:
		rc.t.Fatalf("unexpected delivery %s", r.ID)
	case <-time.After(d):
	}
}

// Arrived delivers each request as it arrives, for tests that wait on
// several things at once.
func (rc *Receiver) Arrived() <-chan Received { return rc.arrived }
