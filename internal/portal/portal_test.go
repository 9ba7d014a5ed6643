package portal

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/store"
)

func TestPortalProblemLocationsBecomeFormFields(t *testing.T) {
	e := &client.Error{Status: 422, Detail: "bad", Errors: []client.FieldError{
		{Message: "refused", Location: "body.url"},
		{Message: "not a duration", Location: "body.retry_policy.delays[1]"},
		{Message: "required", Location: "header.Herald-Tenant"},
	}}
	f := e.Fields()
	if f["url"] != "refused" || f["retry_policy"] != "not a duration" || f[""] != "required" {
		t.Fatalf("fields = %v", f)
	}
	if got := (&client.Error{Status: 409, Detail: "taken"}).Fields(); got[""] != "taken" {
		t.Fatalf("a problem without errors: %v", got)
	}
	// The refusal's words on a page: the status's text when the API gave none.
	if d := detail(&client.Error{Status: 429}); d != "Too Many Requests" {
		t.Fatalf("detail of a bare 429: %q", d)
	}
}

func TestPortalSameOrigin(t *testing.T) {
	for _, c := range []struct {
		origin, site, fwdHost string
		want                  bool
	}{
		{"", "", "", true}, // not a browser: the CSRF token decides
		{"http://herald.test", "same-origin", "", true},
		{"http://herald.test", "", "", true},
		{"https://evil.test", "", "", false},
		{"null", "", "", false},
		{"", "cross-site", "", false},
		{"", "same-site", "", false},
		{"", "none", "", true}, // typed into the address bar
		{"https://portal.example", "", "portal.example", true},
	} {
		r := httptest.NewRequest("POST", "http://herald.test/portal/keys", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if c.fwdHost != "" {
			r.Header.Set("X-Forwarded-Host", c.fwdHost)
		}
		if got := sameOrigin(r); got != c.want {
			t.Errorf("origin %q site %q: %v, want %v", c.origin, c.site, got, c.want)
		}
	}
}

func TestPortalCSRFTokensDifferPerSession(t *testing.T) {
	a, b := csrfToken("hps_a"), csrfToken("hps_b")
	if a == b || a == csrfToken("") || strings.Contains(a, "hps_a") {
		t.Fatalf("tokens %q %q", a, b)
	}
}

func TestPortalTheChartDrawsBucketsAndTheFailureRate(t *testing.T) {
	since := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	c := hourly([]store.DeliveryCount{
		{Bucket: 0, EndpointID: "a", Succeeded: 3, Failed: 1},
		{Bucket: 23, EndpointID: "b", Succeeded: 1, Waiting: 2},
		{Bucket: 99, EndpointID: "a", Succeeded: 50}, // outside: ignored
	}, since, 24, "")
	s, f, w := c.Total()
	if s != 4 || f != 1 || w != 2 {
		t.Fatalf("totals %d %d %d", s, f, w)
	}
	svg := string(c.SVG())
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<title>") != 24 || !strings.Contains(svg, "<polyline") ||
		!strings.Contains(svg, `aria-label="7 deliveries: 4 succeeded, 1 failing, 2 not yet attempted (20.0% failing)"`) {
		t.Fatalf("svg: %s", svg)
	}
	if one := hourly(nil, since, 24, "a"); strings.Contains(string(one.SVG()), "<polyline") {
		t.Fatal("a line was drawn without attempts")
	}
	if niceCeil(7) != 10 || niceCeil(11) != 20 || niceCeil(0) != 1 || niceCeil(500) != 500 {
		t.Fatal("niceCeil")
	}
}
