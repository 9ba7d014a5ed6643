package portal_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// An erased job and its deliveries show as erased in the portal, without
// the data they held, and the console lists the receipt without the
// partner-param value.
func TestPortalShowsErasedItemsAndTheConsoleListsErasures(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	rcv := servertest.NewReceiver(t)
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rcv.URL})
	acme := h.As("acme", "sandbox")
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{"name":"SECRET-NAME-51"}`),
		Job: &client.JobRef{ID: "job-9", PartnerParams: json.RawMessage(`{"user_id":"USER-VALUE-51"}`)}})
	rcv.Next(10 * time.Second)
	servertest.Must(acme.Erase(t.Context(), &client.ErasureRequest{PartnerParamKey: "user_id", PartnerParamValue: "USER-VALUE-51"}))(t)

	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	job := b.get("/portal/jobs?id=job-9")
	if job.Status != http.StatusOK || !strings.Contains(job.Body, "erased") || strings.Contains(job.Body, "SECRET-NAME-51") ||
		strings.Contains(job.Body, "USER-VALUE-51") {
		t.Fatalf("job page: %d %s", job.Status, job.Body)
	}
	logs := b.get("/portal/logs")
	if logs.Status != http.StatusOK || !strings.Contains(logs.Body, `class="badge erased"`) {
		t.Fatalf("log page: %d %s", logs.Status, logs.Body)
	}
	d := servertest.Must(acme.ListDeliveries(t.Context(), nil))(t).Data[0]
	if p := b.get("/portal/logs/" + d.ID); p.Status != http.StatusOK || !strings.Contains(p.Body, "erased") {
		t.Fatalf("delivery page: %d %s", p.Status, p.Body)
	}

	op := newBrowserClient(t, h.URL)
	if p := op.as("POST", "/console/login", url.Values{"token": {servertest.Token}}); p.Status != http.StatusSeeOther {
		t.Fatalf("console sign-in: %d", p.Status)
	}
	list := op.as("GET", "/console/erasures", nil)
	if list.Status != http.StatusOK || !strings.Contains(list.Body, "<code>user_id</code>") || !strings.Contains(list.Body, "1 jobs, 1 events") ||
		strings.Contains(list.Body, "USER-VALUE-51") {
		t.Fatalf("console erasures: %d %s", list.Status, list.Body)
	}
}
