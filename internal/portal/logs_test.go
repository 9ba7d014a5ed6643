package portal_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The log's "Older deliveries" link leads to the next page with the
// filters kept: its query must reach the server as a query, not as one
// escaped value.
func TestPortalLogsOlderLinkKeepsItsFiltersAndCursor(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	catalog(h)
	rcv := servertest.NewReceiver(t)
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rcv.URL})
	evs := make([]client.PublishEvent, 60)
	for i := range evs {
		evs[i] = client.PublishEvent{Type: "webhook.test", Data: json.RawMessage(`{"message":"hi"}`)}
	}
	servertest.Must(h.As("acme", "sandbox").PublishBatch(t.Context(), evs))(t)
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	first := b.get("/portal/logs?event_type=webhook.test")
	m := regexp.MustCompile(`<a href="([^"]+)">Older deliveries</a>`).FindStringSubmatch(first.Body)
	if first.Status != http.StatusOK || m == nil {
		t.Fatalf("first page: %d, no link to older deliveries: %.500s", first.Status, first.Body)
	}
	next, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if q := next.Query(); next.Path != "/portal/logs" || q.Get("cursor") == "" || q.Get("event_type") != "webhook.test" {
		t.Fatalf("older link %q: want /portal/logs with a cursor and event_type kept", m[1])
	}
	second := b.get(next.String())
	if second.Status != http.StatusOK || strings.Count(second.Body, "webhook.test") < 10 {
		t.Fatalf("second page: %d: %.500s", second.Status, second.Body)
	}
}
