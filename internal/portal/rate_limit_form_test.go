package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/server/servertest"
)

var rateLimitError = regexp.MustCompile(`id="rate-limit-error">([^<]*)<`)

func TestPortalEndpointFormSetsAndShowsTheRateLimit(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	newForm := b.get("/portal/endpoints/new")
	if !strings.Contains(newForm.Body, `id="rate_limit" name="rate_limit" type="number" min="0" max="10000"`) {
		t.Fatalf("the new endpoint form has no rate limit: %s", newForm.Body)
	}
	form := url.Values{"csrf": {csrfPattern.FindStringSubmatch(newForm.Body)[1]}, "url": {rc.URL + "/hook"},
		"event_types_profile": {"on"}, "retry_preset": {"profile"}, "success": {"profile"}, "success_false_fails": {"profile"},
		"identical_retries": {"profile"}, "payload_mode": {"envelope"}, "signing": {"hmac"}, "auth_type": {"none"},
		"timeout_ms": {"15000"}}
	// Refused by the form (not a number) and by the API (too many), each
	// under the field.
	for value, says := range map[string]string{"many": "whole number of requests a second", "10001": "10000"} {
		form.Set("rate_limit", value)
		p := b.post("/portal/endpoints", form)
		m := rateLimitError.FindStringSubmatch(p.Body)
		if p.Status != http.StatusUnprocessableEntity || m == nil || !strings.Contains(m[1], says) {
			t.Fatalf("rate limit %q: %d %s", value, p.Status, p.Body)
		}
	}
	form.Set("rate_limit", "20")
	if p := b.post("/portal/endpoints", form); p.Status != http.StatusOK {
		t.Fatalf("create: %d %s", p.Status, p.Body)
	}
	e := servertest.Must(h.As("acme", "sandbox").ListEndpoints(t.Context(), nil))(t).Data[0]
	if e.RateLimit != 20 {
		t.Fatalf("the form saved a rate limit of %d, want 20", e.RateLimit)
	}
	if edit := b.get("/portal/endpoints/" + e.ID + "/edit"); !strings.Contains(edit.Body, `name="rate_limit" type="number" min="0" max="10000" step="1" value="20"`) {
		t.Fatalf("the edit form does not show the rate limit: %s", edit.Body)
	}
}
