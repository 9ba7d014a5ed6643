package portal_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/server/servertest"
)

var typesError = regexp.MustCompile(`<p class="field-error" id="types-error">([^<]*)</p>`)

// TestPortalEndpointFormShowsAnUnregisteredTypeOnTheField: a misspelt type
// typed into the form is refused on the event types field, nothing saved;
// ticking "allow types that are not in the catalog" saves it.
func TestPortalEndpointFormShowsAnUnregisteredTypeOnTheField(t *testing.T) {
	h := servertest.Start(t)
	catalog(h)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	newForm := b.get("/portal/endpoints/new")
	token := csrfPattern.FindStringSubmatch(newForm.Body)[1]
	form := url.Values{"csrf": {token}, "url": {rc.URL + "/hook"}, "profile": {"standard"},
		"retry_preset": {"profile"}, "success": {"profile"}, "success_false_fails": {"profile"}, "identical_retries": {"profile"},
		"payload_mode": {"envelope"}, "signing": {"hmac"}, "auth_type": {"none"}, "timeout_ms": {"15000"},
		"event_types": {"verification.approved"}, "event_filters": {"verifcation.rejected"}}

	p := b.post("/portal/endpoints", form)
	m := typesError.FindStringSubmatch(p.Body)
	if p.Status != http.StatusUnprocessableEntity || m == nil || !strings.Contains(html.UnescapeString(m[1]), `"verifcation.rejected"`) {
		t.Fatalf("the misspelt type is not shown on the field: %d %s", p.Status, p.Body)
	}
	if eps := servertest.Must(h.As("acme", "sandbox").ListEndpoints(t.Context(), nil))(t); len(eps.Data) != 0 {
		t.Fatalf("a refused endpoint was saved: %+v", eps.Data)
	}

	form.Set("allow_unregistered_types", "on")
	if p := b.post("/portal/endpoints", form); p.Status != http.StatusOK {
		t.Fatalf("with the opt-in: %d %s", p.Status, p.Body)
	}
	eps := servertest.Must(h.As("acme", "sandbox").ListEndpoints(t.Context(), nil))(t)
	if len(eps.Data) != 1 || strings.Join(eps.Data[0].EventTypes, ",") != "verification.approved,verifcation.rejected" {
		t.Fatalf("saved: %+v", eps.Data)
	}
}
