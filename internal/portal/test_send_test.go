package portal_test

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The test page and the endpoint form's preview name a job, so that a
// profile placing job identifiers and partner params shows them: the test
// page's job is the sample until changed, its partner params go byte for
// byte, and a bad one is refused on the form with nothing sent.
func TestPortalTestSendsAndPreviewsNameAJob(t *testing.T) {
	h := servertest.Start(t)
	catalog(h)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Profile: "smile-id",
		ProfileOptions: map[string]json.RawMessage{"partner_id": json.RawMessage(`"085"`), "api_key": json.RawMessage(`"k"`)}})
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))

	page := b.get("/portal/test?endpoint=" + ep.ID + "&event_type=verification.approved")
	if !strings.Contains(page.Body, `name="job_id" type="text" value="job_sample"`) || !strings.Contains(html.UnescapeString(page.Body), `"user_id": "user_sample"`) {
		t.Fatalf("the test page offers no sample job: %s", page.Body)
	}
	token := csrfPattern.FindStringSubmatch(page.Body)[1]
	const params = "{ \"user_id\" : \"u<1>&\",\r\n  \"name\": \"Zoë\" }"
	form := url.Values{"csrf": {token}, "endpoint": {ep.ID}, "event_type": {"verification.approved"}, "job_id": {"job_p"}, "partner_params": {params}}
	if p := b.post("/portal/test", form); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="test-result"`) {
		t.Fatalf("send: %d %s", p.Status, p.Body)
	}
	if got := rc.Next(10 * time.Second); !bytes.Contains(got.Body, []byte(`"SmileJobID":"job_p","PartnerParams":`+params+`,`)) {
		t.Fatalf("received %s", got.Body)
	}

	for bad, want := range map[string]string{
		"{not json":    `id="job-error">partner params: not valid JSON`,
		`["an array"]`: `id="job-error">job.partner_params: must be a JSON object`,
	} {
		form.Set("partner_params", bad)
		if p := b.post("/portal/test", form); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, want) {
			t.Errorf("partner params %s: %d %s", bad, p.Status, p.Body)
		}
	}
	rc.Quiet(200 * time.Millisecond)

	newForm := b.get("/portal/endpoints/new")
	preview := url.Values{"csrf": {csrfPattern.FindStringSubmatch(newForm.Body)[1]}, "action": {"preview"}, "url": {rc.URL},
		"profile": {"smile-id"}, "po.smile-id.partner_id": {"085"}, "po.smile-id.api_key": {"k"}, "event_types_profile": {"on"},
		"retry_preset": {"profile"}, "success": {"profile"}, "success_false_fails": {"profile"}, "identical_retries": {"profile"},
		"payload_mode": {"envelope"}, "signing": {"hmac"}, "auth_type": {"none"}, "timeout_ms": {"15000"}, "preview_type": {"verification.approved"}}
	p := b.post("/portal/endpoints", preview)
	m := previewBody.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil || !strings.Contains(html.UnescapeString(m[1]), `"SmileJobID":"job_sample","PartnerParams":{"user_id": "user_sample", "job_id": "job_sample"}`) {
		t.Fatalf("preview: %d %s", p.Status, p.Body)
	}
}
