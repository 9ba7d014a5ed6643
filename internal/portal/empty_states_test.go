package portal_test

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/server/servertest"
)

// A tenant with nothing yet is told, on every page that would be empty,
// what to do next, with a link to do it; a filter that matches nothing says
// how to widen it instead.
func TestPortalEmptyPagesSayWhatToDoNext(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	for path, want := range map[string][]string{
		"/portal/endpoints": {`id="no-endpoints"`, `href="/portal/endpoints/new">Add one</a>`, `id="chart-empty"`,
			`href="/portal/test">Send a test</a>`, "Add an endpoint first"},
		"/portal/logs":               {`id="no-deliveries"`, `href="/portal/test">Send a test</a>`},
		"/portal/logs?status=failed": {`id="no-deliveries"`, "No deliveries match", `href="/portal/logs">clear them</a>`},
		"/portal/jobs":               {`id="no-jobs"`, "publishes an event that names one"},
		"/portal/jobs?kind=kyb":      {`id="no-jobs"`, "No jobs match", `href="/portal/jobs">clear the filters</a>`},
		"/portal/jobs?id=job_none":   {"No job job_none in this environment", `href="/portal/jobs">List the jobs</a>`},
		"/portal/test":               {`href="/portal/endpoints/new">add endpoint</a>`},
		"/portal/keys":               {"create one above"},
	} {
		p := b.get(path)
		body := html.UnescapeString(p.Body)
		if p.Status != http.StatusOK {
			t.Errorf("%s: %d", path, p.Status)
			continue
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s does not say %q", path, w)
			}
		}
	}
}
