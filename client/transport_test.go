package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// over returns a client whose calls h serves in process.
func over(h http.HandlerFunc, opts ...client.Option) *client.Client {
	hc := &http.Client{Transport: client.HandlerTransport(h)}
	return client.New("http://herald.test/base/", "tok", append([]client.Option{client.WithHTTPClient(hc)}, opts...)...)
}

func TestHandlerTransportGivesTheHandlerAServerRequestAndKeepsTheResponse(t *testing.T) {
	var seen *http.Request
	var body string
	h := func(w http.ResponseWriter, r *http.Request) {
		seen = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("X-Early", "1")
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-Late", "1") // after the status: not sent, as on a connection
		_, _ = io.WriteString(w, `{"id":"kyc","name":"KYC"}`)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://herald.test/v1/tenants?x=1", strings.NewReader(`{"name":"KYC"}`))
	resp, err := client.HandlerTransport(http.HandlerFunc(h)).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Early") != "1" || resp.Header.Get("X-Late") != "" ||
		string(got) != `{"id":"kyc","name":"KYC"}` || resp.ContentLength != int64(len(got)) || resp.Request != req {
		t.Fatalf("response %d %v %q", resp.StatusCode, resp.Header, got)
	}
	if seen.Host != "herald.test" || seen.RequestURI != "/v1/tenants?x=1" || body != `{"name":"KYC"}` || seen == req {
		t.Fatalf("the handler saw %s %s (host %s), body %q", seen.Method, seen.RequestURI, seen.Host, body)
	}
}

func TestHandlerTransportEndsTheCallWhenItsContextEnds(t *testing.T) {
	stopped := make(chan struct{})
	h := func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(stopped)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := over(h).GetEgressIPs(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not see its context end")
	}

	done, stop := context.WithCancel(t.Context())
	stop()
	if _, err := over(h).GetEgressIPs(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call with a cancelled context: %v", err)
	}
}

func TestHandlerTransportRaisesAHandlersPanicInTheCaller(t *testing.T) {
	h := func(http.ResponseWriter, *http.Request) { panic("boom") }
	defer func() {
		if p := fmt.Sprint(recover()); !strings.Contains(p, "boom") || !strings.Contains(p, "transport_test.go") {
			t.Fatalf("recovered %q, want the panic with the handler's stack", p)
		}
	}()
	_, _ = over(h).GetEgressIPs(t.Context())
	t.Fatal("no panic")
}

func TestTheClientSendsItsCredentialScopeAndQuery(t *testing.T) {
	var r *http.Request
	h := func(w http.ResponseWriter, req *http.Request) {
		r = req
		_, _ = io.WriteString(w, `{"data":[]}`)
	}
	c := over(h, client.WithUserAgent("ops-tool/2"), client.WithHeader("X-Forwarded-Proto", "https")).
		WithScope("acme", client.Production).WithToken("hk_other")
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	_, err := c.ListDeliveries(t.Context(), &client.DeliveryListParams{
		ListParams: client.ListParams{Cursor: "dlv_1", Limit: 10}, Status: "failed", Since: since,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Authorization": "Bearer hk_other", "User-Agent": "ops-tool/2", "X-Forwarded-Proto": "https",
		"Herald-Tenant": "acme", "Herald-Environment": "production",
	}
	for k, v := range want {
		if r.Header.Get(k) != v {
			t.Errorf("header %s: %q, want %q", k, r.Header.Get(k), v)
		}
	}
	if r.URL.Path != "/base/v1/deliveries" || r.URL.RawQuery != "cursor=dlv_1&limit=10&since=2026-01-02T02%3A04%3A05Z&status=failed" {
		t.Errorf("asked for %s?%s", r.URL.Path, r.URL.RawQuery)
	}

	_, _ = c.ListJobs(t.Context(), &client.JobListParams{Final: client.Ptr(false)})
	if r.URL.RawQuery != "final=false" {
		t.Errorf("jobs query %s", r.URL.RawQuery)
	}
	_, _ = c.GetEvent(t.Context(), "evt/../x")
	if r.URL.EscapedPath() != "/base/v1/events/evt%2F..%2Fx" {
		t.Errorf("escaped path %s", r.URL.EscapedPath())
	}
}

func TestAnAnswerThatIsNotAProblemIsStillAnError(t *testing.T) {
	retryAt := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	h := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Retry-After", retryAt)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "<h1>upstream down</h1>")
	}
	_, err := over(h).GetEgressIPs(t.Context())
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("want a *client.Error with status 503, got %v", err)
	}
	if e.Title != "Service Unavailable" || e.RetryAfter < 20*time.Second || e.RetryAfter > 31*time.Second {
		t.Fatalf("error %+v", e)
	}
	if f := e.Fields(); f[""] != "Service Unavailable" {
		t.Fatalf("fields %v", f)
	}
}
