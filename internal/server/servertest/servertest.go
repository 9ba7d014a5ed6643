// Package servertest starts a real Herald in the test's process: the whole
// server of internal/server (API, portal, dispatcher) on a real port, over a
// real SQLite file or a fresh PostgreSQL schema, and gives tests the receivers
// they share and the operator's typed client (client/) to call the API with;
// Call is for the tests about the wire itself. The API's, the portal's and the
// server's tests use it, so each package tests its behaviour without building
// cmd/herald.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/server"
	"github.com/heraldhq/herald/internal/signals"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// Token is the operator token of every test server.
const Token = "test-operator-token"

// Herald is a running server.
type Herald struct {
	T *testing.T
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string
	// Client is the operator's client of the API, over HTTP to URL; As
	// scopes it to a tenant's environment.
	Client *client.Client
	// Store is the server's store, for what the API does not show.
	Store store.Store
	// MetricsURL is the Prometheus exposition's URL when the server was
	// started WithMetrics, else empty.
	MetricsURL string
	// Server is the server itself, for what only it knows (its limits'
	// state); nil for a Herald started elsewhere (At).
	Server *server.Server
	stop   func()
}

// Option changes the server's settings before it starts.
type Option func(*Settings)

// Settings are what a test may change: the server's Config, and the
// database (empty: a new SQLite file in the test's temporary directory; a
// postgres:// URL; or a SQLite file's path).
type Settings struct {
	Config   server.Config
	Database string
}

// OnPostgres runs the server on a fresh PostgreSQL schema (pgtest.URL).
func OnPostgres(t *testing.T) Option {
	url := pgtest.URL(t)
	return func(s *Settings) { s.Database = url }
}

// WithMetrics serves the metrics on a listener of their own, as
// --metrics-listen does; Herald.MetricsURL is where.
func WithMetrics(t *testing.T) Option {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return func(s *Settings) { s.Config.MetricsListener = ln }
}

// WithLogger sends the server's log to log (the default discards it, or
// writes it to the test's output with -v).
func WithLogger(log *slog.Logger) Option {
	return func(s *Settings) { s.Config.Logger = log }
}

// WithOperatorWebhook sends every operational event to url too, signed
// with secret (empty: one is made; Server.GeneratedOperatorWebhookSecret).
func WithOperatorWebhook(url, secret string) Option {
	return func(s *Settings) { s.Config.OperatorWebhook = signals.Operator{URL: url, Secret: secret} }
}

// Start starts Herald with the options applied to the test defaults: private
// destinations allowed (receivers are on loopback), production may use http,
// a one-minute lease. It stops when the test ends.
func Start(t *testing.T, opts ...Option) *Herald {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // on a failed start; Stop cancels first
	srv, st, set := build(t, ctx, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	h := &Herald{T: t, URL: url, Client: client.New(url, Token), Store: st, Server: srv}
	if ml := set.Config.MetricsListener; ml != nil {
		h.MetricsURL = "http://" + ml.Addr().String() + "/metrics"
	}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("herald stopped with %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

// Handler builds Herald as Start does but neither serves nor delivers: its
// handler answers the API and the portal, test sends go out, and published
// deliveries stay pending. It is for tests of the API's answers alone, over
// a socket of their own or in process (client.HandlerTransport).
func Handler(t testing.TB, opts ...Option) http.Handler {
	t.Helper()
	srv, _, _ := build(t, t.Context(), opts)
	return srv.Handler()
}

// build opens the store and builds the server with the options applied to
// the test defaults; the store is closed when the test ends.
func build(t testing.TB, ctx context.Context, opts []Option) (*server.Server, store.Store, Settings) {
	t.Helper()
	set := Settings{Config: server.Config{
		OperatorTokenHash: credential.Hash(Token),
		Lease:             time.Minute,
		RetryAfterCap:     time.Hour,
		Retention:         720 * time.Hour,
		ShutdownGrace:     5 * time.Second,
		Version:           "test",
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	set.Config.Egress.AllowPrivate = true
	if testing.Verbose() {
		set.Config.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, o := range opts {
		o(&set)
	}
	st := open(t, ctx, set.Database)
	set.Config.Store = st
	srv, err := server.New(ctx, set.Config)
	if err != nil {
		t.Fatalf("build herald: %v", err)
	}
	return srv, st, set
}

// Stop stops the server now (it also stops when the test ends).
func (h *Herald) Stop() { h.stop() }

// testKey is the master key of every test server.
var testKey = bytes.Repeat([]byte{9}, secrets.KeySize)

// open opens and seals the store; it is closed when the test ends, after the
// server has stopped (cleanups run last-registered first).
func open(t testing.TB, ctx context.Context, db string) store.Store {
	t.Helper()
	box, err := secrets.NewBox(testKey)
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store
	switch {
	case db == "":
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), box)
	case strings.HasPrefix(db, "postgres"):
		st, err = postgres.Open(ctx, db, box)
	default:
		st, err = sqlite.Open(ctx, db, box)
	}
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s := st.(interface {
		CheckSealer(ctx context.Context) error
	})
	if err := s.CheckSealer(ctx); err != nil {
		t.Fatalf("seal the store: %v", err)
	}
	return st
}

// Starter starts Herald on the store of the subtest.
type Starter func(opts ...Option) *Herald

// EachStore runs a test on SQLite and on PostgreSQL: everything Herald
// offers must work the same on both.
func EachStore(t *testing.T, test func(t *testing.T, start Starter)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, func(opts ...Option) *Herald { return Start(t, opts...) })
	})
	t.Run("postgres", func(t *testing.T) {
		pg := OnPostgres(t)
		test(t, func(opts ...Option) *Herald { return Start(t, append([]Option{pg}, opts...)...) })
	})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Call is one raw API request, for tests about the wire itself (bad input,
// headers, status codes).
type Call struct {
	Method, Path string
	// Tenant and Env are sent as the scope headers when set.
	Tenant, Env string
	// Body is sent as is when []byte or string, else encoded as JSON.
	Body    any
	Headers map[string]string
	// Token replaces the operator token when set; a pointer to "" sends none.
	Token *string
}

// Response is the answer to a Call.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do performs a call.
func (h *Herald) Do(c Call) Response {
	h.T.Helper()
	var body io.Reader
	switch b := c.Body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.T.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(c.Method, h.URL+c.Path, body)
	if err != nil {
		h.T.Fatal(err)
	}
	token := Token
	if c.Token != nil {
		token = *c.Token
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Tenant != "" {
		req.Header.Set("Herald-Tenant", c.Tenant)
	}
	if c.Env != "" {
		req.Header.Set("Herald-Environment", c.Env)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.T.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Must performs a call and insists on the status.
func (h *Herald) Must(status int, c Call) Response {
	h.T.Helper()
	r := h.Do(c)
	if r.Status != status {
		h.T.Fatalf("%s %s: status %d, want %d: %s", c.Method, c.Path, r.Status, status, r.Body)
	}
	return r
}

// Eventually polls until f is true.
func Eventually(t *testing.T, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
