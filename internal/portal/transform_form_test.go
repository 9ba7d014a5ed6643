package portal_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/server/servertest"
)

// The endpoint form takes a body transform: the preview shows the
// transformed body, a program that does not compile is shown on the field
// with its position, and the saved program comes back in the edit form.
func TestPortalEndpointFormTakesATransformAndPreviewsItsBody(t *testing.T) {
	h := servertest.Start(t)
	catalog(h)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	newForm := b.get("/portal/endpoints/new")
	if !strings.Contains(newForm.Body, `<textarea id="transform" name="transform"`) {
		t.Fatalf("the form has no transform field: %s", newForm.Body)
	}
	token := csrfPattern.FindStringSubmatch(newForm.Body)[1]
	form := url.Values{"csrf": {token}, "url": {rc.URL + "/hook"}, "profile": {"standard"}, "event_types_profile": {"on"},
		"retry_preset": {"profile"}, "success": {"profile"}, "success_false_fails": {"profile"}, "identical_retries": {"profile"},
		"payload_mode": {"envelope"}, "signing": {"hmac"}, "auth_type": {"none"}, "timeout_ms": {"15000"},
		"preview_type": {"verification.approved"}, "transform": {"{kind: .type,\r\n env: .environment}"}}

	preview := url.Values{"action": {"preview"}}
	for k, v := range form {
		preview[k] = v
	}
	p := b.post("/portal/endpoints", preview)
	m := previewBody.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil || html.UnescapeString(m[1]) != `{"env":"sandbox","kind":"verification.approved"}` {
		t.Fatalf("preview: %d %s", p.Status, p.Body)
	}

	form.Set("transform", "{kind: .type,\r\n env: nosuch}")
	p = b.post("/portal/endpoints", form)
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `id="transform-error"`) ||
		!strings.Contains(p.Body, "line 2, column 7") {
		t.Fatalf("a bad transform: %d %s", p.Status, p.Body)
	}
	if eps := servertest.Must(h.As("acme", "sandbox").ListEndpoints(t.Context(), nil))(t); len(eps.Data) != 0 {
		t.Fatalf("a bad transform saved an endpoint: %+v", eps.Data)
	}

	form.Set("transform", "{kind: .type}")
	if p := b.post("/portal/endpoints", form); p.Status != http.StatusOK {
		t.Fatalf("create: %d %s", p.Status, p.Body)
	}
	e := servertest.Must(h.As("acme", "sandbox").ListEndpoints(t.Context(), nil))(t).Data[0]
	if e.Transform != "{kind: .type}" {
		t.Fatalf("saved transform %q", e.Transform)
	}
	if edit := b.get("/portal/endpoints/" + e.ID + "/edit"); !strings.Contains(edit.Body, ">{kind: .type}</textarea>") {
		t.Fatalf("the edit form does not show the transform: %s", edit.Body)
	}
}
