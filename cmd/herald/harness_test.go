package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/webhook"
)

const testToken = "test-operator-token"

// herald is a real Herald server, in this process, on a real port and a
// real SQLite file.
type herald struct {
	t    *testing.T
	base string
	stop func()
}

// startHeraldErr starts Herald expecting it to refuse, and returns why.
func startHeraldErr(t *testing.T, configure ...func(*serveCmd)) error {
	t.Helper()
	cmd := testServeCmd(t, configure...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := cmd.run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(string) { cancel() })
	return err
}

func testServeCmd(t *testing.T, configure ...func(*serveCmd)) serveCmd {
	cmd := serveCmd{
		databaseFlag:             databaseFlag{Database: filepath.Join(t.TempDir(), "herald.db")},
		Listen:                   "127.0.0.1:0",
		OperatorToken:            testToken,
		AllowPrivateDestinations: true,
		Lease:                    time.Minute,
		RetryAfterCap:            time.Hour,
		Retention:                720 * time.Hour,
		masterKeyFlags:           masterKeyFlags{MasterKey: secrets.EncodeKey(bytes.Repeat([]byte{9}, secrets.KeySize))},
		ShutdownGrace:            5 * time.Second,
	}
	for _, f := range configure {
		f(&cmd)
	}
	return cmd
}

func startHerald(t *testing.T, configure ...func(*serveCmd)) *herald {
	t.Helper()
	cmd := testServeCmd(t, configure...)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	go func() { done <- cmd.run(ctx, log, func(addr string) { ready <- addr }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("herald did not start: %v", err)
	}
	h := &herald{t: t, base: "http://" + addr}
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

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// call is one API request.
type call struct {
	method, path string
	tenant, env  string
	body         any
	headers      map[string]string
	token        *string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem decodes an RFC 9457 answer.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

func (h *herald) do(c call) response {
	h.t.Helper()
	var body io.Reader
	switch b := c.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(c.method, h.base+c.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	token := testToken
	if c.token != nil {
		token = *c.token
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tenant != "" {
		req.Header.Set("Herald-Tenant", c.tenant)
	}
	if c.env != "" {
		req.Header.Set("Herald-Environment", c.env)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// must performs a call and insists on the status.
func (h *herald) must(status int, c call) response {
	h.t.Helper()
	r := h.do(c)
	if r.status != status {
		h.t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, r.status, status, r.body)
	}
	return r
}

func (h *herald) tenant(id string) {
	h.t.Helper()
	h.must(http.StatusCreated, call{method: "POST", path: "/v1/tenants", body: map[string]string{"id": id, "name": id + " Inc"}})
}

type createdEndpoint struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	Status string `json:"status"`
}

func (h *herald) endpoint(tenant, env string, body map[string]any) createdEndpoint {
	h.t.Helper()
	var e createdEndpoint
	h.must(http.StatusCreated, call{method: "POST", path: "/v1/endpoints", tenant: tenant, env: env, body: body}).json(h.t, &e)
	return e
}

type published struct {
	ID         string `json:"id"`
	Deliveries int    `json:"deliveries"`
}

func (h *herald) publish(tenant, env string, body any) published {
	h.t.Helper()
	var p published
	h.must(http.StatusAccepted, call{method: "POST", path: "/v1/events", tenant: tenant, env: env, body: body}).json(h.t, &p)
	return p
}

// receiver is a customer's server: it verifies every request and answers
// what the test tells it to.
type receiver struct {
	*httptest.Server
	t        *testing.T
	mu       sync.Mutex
	verifier *webhook.Verifier
	got      []received
	answer   func(n int, r *http.Request) int
	arrived  chan received
}

type received struct {
	ID      string
	Header  http.Header
	Body    []byte
	Event   *webhook.Event
	Valid   error
	Arrival time.Time
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, arrived: make(chan received, 1024), answer: func(int, *http.Request) int { return http.StatusOK }}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		v := rc.verifier
		n := len(rc.got) + 1
		rc.mu.Unlock()
		rec := received{ID: r.Header.Get("webhook-id"), Header: r.Header.Clone(), Body: body, Arrival: time.Now()}
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

func (rc *receiver) trust(secret string) {
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.mu.Lock()
	rc.verifier = v
	rc.mu.Unlock()
}

func (rc *receiver) respond(f func(n int, r *http.Request) int) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

// next waits for the next request.
func (rc *receiver) next(timeout time.Duration) received {
	rc.t.Helper()
	select {
	case r := <-rc.arrived:
		return r
	case <-time.After(timeout):
		rc.t.Fatalf("no delivery arrived within %s", timeout)
		return received{}
	}
}

// quiet asserts nothing arrives for d.
func (rc *receiver) quiet(d time.Duration) {
	rc.t.Helper()
	select {
	case r := <-rc.arrived:
		rc.t.Fatalf("unexpected delivery %s", r.ID)
	case <-time.After(d):
	}
}

// eventually polls until f is true.
func eventually(t *testing.T, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// starter starts Herald on the store of the subtest.
type starter func(configure ...func(*serveCmd)) *herald

// eachStore runs a test on SQLite and on PostgreSQL: everything the API
// offers must work the same on both.
func eachStore(t *testing.T, test func(t *testing.T, start starter)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, func(configure ...func(*serveCmd)) *herald { return startHerald(t, configure...) })
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		test(t, func(configure ...func(*serveCmd)) *herald {
			return startHerald(t, append([]func(*serveCmd){func(c *serveCmd) { c.Database = url }}, configure...)...)
		})
	})
}
