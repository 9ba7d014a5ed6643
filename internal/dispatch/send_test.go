package dispatch

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

func testJob(policy domain.RetryPolicy, success string, attemptsBefore int) *job {
	_ = policy.Normalize()
	return &job{
		claimed: store.Claimed{Attempts: attemptsBefore},
		ep:      &endpoint{Endpoint: domain.Endpoint{RetryPolicy: policy, Success: success}},
	}
}

func outcomeFor(j *job, status int, body string) store.Outcome {
	return store.Outcome{Attempt: domain.Attempt{Number: j.claimed.Attempts + 1, At: time.Now(), ResponseStatus: status, ResponseBody: body}}
}

func TestSuccessRules(t *testing.T) {
	const json = "application/json"
	cases := []struct {
		mode        string
		falseFails  bool
		status      int
		contentType string
		body        string
		want        bool
	}{
		{domain.Success2xx, false, 200, "", "", true},
		{domain.Success2xx, false, 202, "text/plain", "whatever", true},
		{domain.Success2xx, false, 299, "", "", true},
		{domain.Success2xx, false, 301, "", "", false},
		{domain.Success2xx, false, 500, "", "", false},
		{domain.SuccessJSONOr204, false, 204, "", "", true},
		{domain.SuccessJSONOr204, false, 200, json, `{"ok":true}`, true},
		{domain.SuccessJSONOr204, false, 200, json, "OK", false},
		{domain.SuccessJSONOr204, false, 200, json, "", false},
		{domain.SuccessJSONOr204, false, 202, json, `{}`, false},
		// Incode: "200 OK with response type application/json".
		{domain.SuccessJSONOr204, false, 200, "application/json; charset=utf-8", `{"success":true}`, true},
		{domain.SuccessJSONOr204, false, 200, "text/plain", `{"success":true}`, false},
		{domain.SuccessJSONOr204, false, 200, "", `{}`, false},
		{domain.SuccessJSONOr204, false, 200, "application/jsonp", `{}`, false},
		{domain.SuccessJSONOr204, false, 200, "application/problem+json", `{}`, false},
		// success_false_fails.
		{domain.SuccessJSONOr204, false, 200, json, `{"success":false}`, true},
		{domain.SuccessJSONOr204, true, 200, json, `{"success":false}`, false},
		{domain.SuccessJSONOr204, true, 200, json, `{ "success" : false }`, false},
		{domain.Success2xx, true, 200, json, `{"success":false}`, false},
		{domain.SuccessJSONOr204, true, 200, json, `{"success":true}`, true},
		{domain.SuccessJSONOr204, true, 200, json, `{"success":"false"}`, true},
		{domain.SuccessJSONOr204, true, 200, json, `{"Success":false}`, true},
		{domain.SuccessJSONOr204, true, 200, json, `{}`, true},
		{domain.SuccessJSONOr204, true, 200, json, `[{"success":false}]`, true},
		{domain.Success2xx, true, 202, json, `{"success":false}`, true},
		{domain.SuccessJSONOr204, true, 204, "", "", true},
	}
	for _, c := range cases {
		if got, why := succeeded(c.mode, c.falseFails, c.status, c.contentType, []byte(c.body)); got != c.want {
			t.Errorf("succeeded(%s, %v, %d, %q, %q) = %v %q, want %v", c.mode, c.falseFails, c.status, c.contentType, c.body, got, why, c.want)
		}
	}
}

func TestDecideRetriesOnTheScheduleThenFails(t *testing.T) {
	d := New(nil, nil, Config{})
	policy := domain.RetryPolicy{Delays: []string{"10s"}}
	j := testJob(policy, domain.Success2xx, 0)
	o := d.decide(j, outcomeFor(j, 500, ""), &http.Response{StatusCode: 500, Header: http.Header{}})
	if o.Status != domain.DeliveryPending || o.Attempt.ErrorClass != "http" {
		t.Fatalf("first failure = %+v", o)
	}
	if wait := time.Until(o.NextAttemptAt); wait < 7*time.Second || wait > 13*time.Second {
		t.Fatalf("next attempt in %s, want 10 s ±20%%", wait)
	}
	j = testJob(policy, domain.Success2xx, 1)
	if o := d.decide(j, outcomeFor(j, 500, ""), &http.Response{StatusCode: 500, Header: http.Header{}}); o.Status != domain.DeliveryFailed {
		t.Fatalf("after the last retry = %+v", o)
	}
	// Connection errors retry the same way.
	j = testJob(policy, domain.Success2xx, 0)
	if o := d.decide(j, outcomeFor(j, 0, ""), nil); o.Status != domain.DeliveryPending {
		t.Fatalf("connection error = %+v", o)
	}
}

func TestDecideGoneDisablesAndRetryAfterIsHonouredUpToTheCap(t *testing.T) {
	d := New(nil, nil, Config{RetryAfterCap: time.Hour})
	policy := domain.RetryPolicy{Delays: []string{"1s"}}
	j := testJob(policy, domain.Success2xx, 0)
	o := d.decide(j, outcomeFor(j, 410, ""), &http.Response{StatusCode: 410, Header: http.Header{}})
	if o.Status != domain.DeliveryFailed || o.DisableEndpoint == "" {
		t.Fatalf("410 = %+v", o)
	}
	for _, c := range []struct {
		status     int
		retryAfter string
		min, max   time.Duration
	}{
		{429, "120", 119 * time.Second, 121 * time.Second},
		{503, "86400", 59 * time.Minute, 61 * time.Minute}, // capped
		{429, "0", 0, 2 * time.Second},                     // never shorter than the schedule
		{429, "2", 1 * time.Second, 3 * time.Second},
		{500, "120", 0, 2 * time.Second}, // only 429 and 503
		{503, time.Now().Add(5 * time.Minute).UTC().Format(http.TimeFormat), 4 * time.Minute, 6 * time.Minute},
	} {
		j := testJob(policy, domain.Success2xx, 0)
		resp := &http.Response{StatusCode: c.status, Header: http.Header{"Retry-After": {c.retryAfter}}}
		o := d.decide(j, outcomeFor(j, c.status, ""), resp)
		if wait := time.Until(o.NextAttemptAt); o.Status != domain.DeliveryPending || wait < c.min || wait > c.max {
			t.Errorf("%d Retry-After %s: next in %s, want %s..%s", c.status, c.retryAfter, wait, c.min, c.max)
		}
	}
}

func TestSecretLookingHeadersAreMaskedInTheLog(t *testing.T) {
	h := http.Header{
		"X-Api-Key": {"sk_live_abcdef123456"}, "Authorization": {"Bearer abcdefghijklmnopqrstuvwxyz"}, "X-Team": {"kyc"},
		"webhook-signature": {"v1,abc"}, "X-Partner": {"partner-credential-0123456789"}, "X-Smartkyc-Signature": {"00ff"},
		"Proxy-Authorization": {"Basic dXNlcjpwYXNz"}, "X-Other-Signature": {"0123456789abcdef0123"},
	}
	got := recordedHeaders(h, "X-Partner", []string{"X-Smartkyc-Signature"})
	if got["X-Api-Key"] != "****3456" || got["Authorization"] != "Bearer ****" || got["Proxy-Authorization"] != "Basic ****" {
		t.Fatalf("masked = %v", got)
	}
	// The header of header auth is masked whatever its name, in full.
	if got["X-Partner"] != "****" {
		t.Fatalf("auth header = %q", got["X-Partner"])
	}
	if got["X-Team"] != "kyc" || got["webhook-signature"] != "v1,abc" || got["X-Smartkyc-Signature"] != "00ff" {
		t.Fatalf("unmasked = %v", got)
	}
	if got["X-Other-Signature"] != "****0123" {
		t.Fatalf("another signature-looking header = %q", got["X-Other-Signature"])
	}
	if got := recordedHeaders(http.Header{"Authorization": {"opaque-credential-without-scheme"}}, "", nil); got["Authorization"] != "****" {
		t.Fatalf("schemeless authorization = %q", got["Authorization"])
	}
}
