package portal_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

const browserAgent = "TestBrowser/1.0 (audit)"

// as sends what a browser named browserAgent sends.
func (b *browserClient) as(method, path string, form url.Values) page {
	b.t.Helper()
	hdr := map[string]string{"User-Agent": browserAgent}
	if method == "POST" {
		hdr["Origin"], hdr["Sec-Fetch-Site"] = b.URL, "same-origin"
	}
	return b.send(method, path, form, hdr)
}

var (
	olderEntries = regexp.MustCompile(`href="(/console/audit\?[^"]+)">Older entries`)
	shownAPIKey  = regexp.MustCompile(`hk_sandbox_[A-Za-z0-9_-]+`)
)

func TestPortalAndConsoleChangesAndSignInsAreInTheAuditLogAndItsPages(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		h.Tenant("acme")
		h.Tenant("globex")
		rc := servertest.NewReceiver(t)
		e := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL + "/hook"})

		// A person signs in with a link, pauses the endpoint and makes a key.
		b := newBrowserClient(t, h.URL)
		if p := b.as("GET", portalLink(h, "acme", "sandbox", ""), nil); p.Status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d %s", p.Status, p.Body)
		}
		csrf := csrfPattern.FindStringSubmatch(b.as("GET", "/portal/endpoints/"+e.ID, nil).Body)[1]
		if p := b.as("POST", "/portal/endpoints/"+e.ID+"/status", url.Values{"csrf": {csrf}, "status": {"paused"}}); p.Status != http.StatusSeeOther {
			t.Fatalf("pause: %d %s", p.Status, p.Body)
		}
		made := b.as("POST", "/portal/keys", url.Values{"csrf": {csrf}})
		newKey := shownAPIKey.FindString(made.Body)
		if made.Status != http.StatusOK || newKey == "" {
			t.Fatalf("key: %d %s", made.Status, made.Body)
		}
		// Another signs in with that key.
		k := newBrowserClient(t, h.URL)
		if p := k.as("POST", "/portal/login", url.Values{"api_key": {newKey}}); p.Status != http.StatusSeeOther {
			t.Fatalf("key sign-in: %d %s", p.Status, p.Body)
		}

		log := servertest.Must(h.Client.ListAuditLog(ctx, &client.AuditLogParams{Tenant: "acme", Environment: "sandbox", ListParams: client.ListParams{Limit: 500}}))(t).Data
		var session string
		for _, en := range log {
			if en.Action == "portal_session.signed_in" && en.ActorType == "portal_session" {
				session = en.ActorID
			}
		}
		if !strings.HasPrefix(session, "pss_") {
			t.Fatalf("no sign-in by link: %+v", log)
		}
		for _, want := range []struct{ action, actorType, actorID string }{
			{"portal_session.signed_in", "portal_session", session},
			{"endpoint.paused", "portal_session", session},
			{"api_key.created", "portal_session", session},
			{"portal_session.signed_in", "api_key", ""},
		} {
			found := false
			for _, en := range log {
				if en.Action == want.action && en.ActorType == want.actorType && (want.actorID == "" || en.ActorID == want.actorID) {
					found = true
					if en.UserAgent != browserAgent || en.ClientIP != "127.0.0.1" {
						t.Errorf("%s by %s: from %q %q, want the browser's", en.Action, en.ActorType, en.ClientIP, en.UserAgent)
					}
				}
			}
			if !found {
				t.Errorf("no %s by %s %s in %+v", want.action, want.actorType, want.actorID, log)
			}
		}

		// The portal's page: its own scope, the browser named, no key.
		pg := b.as("GET", "/portal/audit", nil)
		body := html.UnescapeString(pg.Body)
		for _, want := range []string{"endpoint.paused", "api_key.created", "portal_session.signed_in", browserAgent, e.ID, `id="audit"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the portal's audit page lacks %q", want)
			}
		}
		if pg.Status != http.StatusOK || strings.Contains(pg.Body, newKey) {
			t.Fatalf("audit page %d, or it shows the key: %s", pg.Status, pg.Body)
		}
		filtered := b.as("GET", "/portal/audit?action=api_key.created", nil).Body
		if strings.Contains(filtered, "endpoint.paused") || !strings.Contains(filtered, "api_key.created") {
			t.Fatalf("filtered by action: %s", filtered)
		}
		g := newBrowserClient(t, h.URL)
		g.signIn(portalLink(h, "globex", "sandbox", ""))
		if other := g.get("/portal/audit").Body; strings.Contains(other, e.ID) || strings.Contains(other, "endpoint.paused") {
			t.Fatalf("globex's audit page shows acme's changes: %s", other)
		}

		// Switching environment opens a session of the other, recorded there.
		if p := b.as("POST", "/portal/environment", url.Values{"csrf": {csrf}, "environment": {"production"}}); p.Status != http.StatusSeeOther {
			t.Fatalf("switch: %d %s", p.Status, p.Body)
		}
		sw := servertest.Must(h.Client.ListAuditLog(ctx, &client.AuditLogParams{Action: "portal_session.switched_environment"}))(t).Data
		if len(sw) != 1 || sw[0].ActorID != session || sw[0].Environment != "production" || sw[0].ResourceID == session {
			t.Fatalf("switch entries %+v", sw)
		}
		if p := b.as("GET", "/portal/endpoints", nil); p.Status != http.StatusOK {
			t.Fatalf("after the switch: %d", p.Status)
		}
		csrf = csrfPattern.FindStringSubmatch(b.as("GET", "/portal/keys", nil).Body)[1]
		session = sw[0].ResourceID

		// Signing out is recorded, by the session that ends.
		if p := b.as("POST", "/portal/logout", url.Values{"csrf": {csrf}}); p.Status != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", p.Status)
		}
		out := servertest.Must(h.Client.ListAuditLog(ctx, &client.AuditLogParams{Action: "portal_session.signed_out"}))(t).Data
		if len(out) != 1 || out[0].ActorID != session || out[0].ResourceID != session {
			t.Fatalf("sign-out entries %+v", out)
		}

		// The console: a sign-in of its own, every tenant's entries, pages.
		for i := range 50 {
			h.Tenant(fmt.Sprintf("t%02d", i))
		}
		op := newBrowserClient(t, h.URL)
		if p := op.as("POST", "/console/login", url.Values{"token": {servertest.Token}}); p.Status != http.StatusSeeOther {
			t.Fatalf("console sign-in: %d", p.Status)
		}
		in := servertest.Must(h.Client.ListAuditLog(ctx, &client.AuditLogParams{Action: "console_session.signed_in"}))(t).Data
		if len(in) != 1 || in[0].ActorType != "operator" || in[0].TenantID != "" || in[0].UserAgent != browserAgent {
			t.Fatalf("console sign-in entries %+v", in)
		}
		first := op.as("GET", "/console/audit", nil)
		next := olderEntries.FindStringSubmatch(first.Body)
		if first.Status != http.StatusOK || !strings.Contains(first.Body, "console_session.signed_in") || next == nil {
			t.Fatalf("console audit page: %d %s", first.Status, first.Body)
		}
		second := op.as("GET", html.UnescapeString(next[1]), nil)
		if second.Status != http.StatusOK || !strings.Contains(second.Body, "endpoint.paused") || strings.Contains(second.Body, "console_session.signed_in") {
			t.Fatalf("the console's second page: %d %s", second.Status, second.Body)
		}
		onlyGlobex := op.as("GET", "/console/audit?tenant=globex", nil).Body
		if strings.Contains(onlyGlobex, e.ID) || !strings.Contains(onlyGlobex, "portal_session.created") {
			t.Fatalf("the console filtered to globex: %s", onlyGlobex)
		}
	})
}
