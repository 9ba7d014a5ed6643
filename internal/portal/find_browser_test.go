package portal_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"

	"github.com/chromedp/chromedp"
)

// Finding things in the portal, in a real Chromium: the log's search, the
// job list, the event-type catalog, the test form's edited data and the
// log on a phone. Every page these tests open is checked with axe-core.

// kycCatalog registers event types with a schema, for the catalog and the
// test form's validation.
func kycCatalog(h *servertest.Herald) {
	h.T.Helper()
	for name, et := range map[string]client.EventTypePut{
		"verification.approved": {Description: "The person was verified: the document and the selfie match.",
			Schema:  json.RawMessage(`{"type":"object","required":["status","score"],"properties":{"status":{"type":"string"},"score":{"type":"number","minimum":0,"maximum":1}}}`),
			Example: json.RawMessage(`{"status":"approved","score":0.98}`)},
		"verification.declined": {Description: "The verification failed; reason says why.",
			Example: json.RawMessage(`{"status":"declined","reason":"document_expired"}`)},
		"aml.hit": {Description: "A sanctions or PEP list named the person.", Example: json.RawMessage(`{"list":"ofac"}`)},
	} {
		servertest.Must(h.Client.PutEventType(h.T.Context(), name, &et))(h.T)
	}
}

// kycPortal starts Herald with kycCatalog's types, tenant acme and a
// receiver, and a browser signed in to acme's sandbox.
func kycPortal(t *testing.T) (context.Context, *servertest.Herald, *servertest.Receiver) {
	t.Helper()
	ctx := newBrowser(t)
	h := servertest.Start(t)
	kycCatalog(h)
	h.Tenant("acme")
	do(t, ctx, chromedp.Navigate(portalLink(h, "acme", "sandbox", "")), chromedp.WaitVisible(chromedp.ID("new-endpoint")))
	return ctx, h, servertest.NewReceiver(t)
}

// axeSource is axe-core's script (testdata/axe, MPL-2.0), read once.
var axeSource = sync.OnceValues(func() ([]byte, error) { return os.ReadFile("testdata/axe/axe.min.js") })

// axeClean runs axe-core on the page the browser shows and fails the test
// with each violation it finds (WCAG 2.x A and AA, and best practices).
func axeClean(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatal(err)
	}
	// Evaluated through the DevTools protocol, so the page's
	// Content-Security-Policy (script-src 'self') does not apply.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+";true")); err != nil {
		t.Fatalf("load axe-core on %s: %v", what, err)
	}
	type violation struct {
		ID, Impact, Help string
		Nodes            []struct{ Target []any }
	}
	res := run(t, ctx, chromedp.Evaluate[struct {
		Passes     int
		Violations []violation
	}](`axe.run(document).then(r => ({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target}))}))}))`, chromedp.EvalAwaitPromise))
	if res.Passes == 0 {
		t.Fatalf("axe-core checked nothing on %s", what)
	}
	vs := res.Violations
	for _, v := range vs {
		var where []string
		for _, n := range v.Nodes {
			b, _ := json.Marshal(n.Target)
			where = append(where, string(b))
		}
		t.Errorf("axe on %s: %s (%s): %s at %s", what, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
	}
}

// visit opens a page, waits for sel, and checks it with axe-core.
func visit(t *testing.T, ctx context.Context, url string, sel string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
	axeClean(t, ctx, url)
}

// search types into the log's search box and waits for the answer.
func search(t *testing.T, ctx context.Context, q string) {
	t.Helper()
	do(t, ctx, chromedp.SetValue(chromedp.ID("q"), q), chromedp.Click(chromedp.ID("filter")))
	waitFor(t, ctx, `new URLSearchParams(location.search).get("q") === `+jsString(q)+` && document.readyState === "complete"`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// submit clicks a form's button and waits for the page it leads to, where
// ready holds: the page before it may hold the same elements.
func submit(t *testing.T, ctx context.Context, button, ready string) {
	t.Helper()
	run(t, ctx, chromedp.Evaluate[bool](`window.herald_before = true`))
	do(t, ctx, chromedp.Click(chromedp.ID(button)))
	waitFor(t, ctx, `!window.herald_before && document.readyState === "complete" && `+ready)
}

// logRows lists the delivery ids the log shows.
func logRows(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#log tbody tr .c-id code")].map(c => c.textContent)`))
}

func TestPortalBrowserSearchFindsDeliveriesByEventDeliveryJobAndPartnerParam(t *testing.T) {
	ctx, h, rc := kycPortal(t)
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Name: "KYC receiver"})
	publish := func(job, user string) string {
		ev := client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","score":0.5}`)}
		if job != "" {
			ev.Job = &client.JobRef{ID: job, Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"` + user + `"}`)}
		}
		return h.Publish("acme", "sandbox", ev).ID
	}
	evA := publish("job_a", "u-123")
	publish("job_b", "u-456")
	publish("", "")
	for range 3 {
		rc.Next(5 * time.Second)
	}
	ds := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{EventID: evA})
	if len(ds) != 1 {
		t.Fatalf("deliveries of %s: %+v", evA, ds)
	}
	dlvA := ds[0].ID

	visit(t, ctx, h.URL+"/portal/logs", "#log")
	if n := len(logRows(t, ctx)); n != 3 {
		t.Fatalf("the log shows %d deliveries, want 3", n)
	}
	for _, c := range []struct{ q, found string }{
		{evA, "Deliveries of event " + evA},
		{dlvA, "Delivery " + dlvA},
		{"job_a", "Deliveries of job job_a"},
		{"u-123", `partner params hold "u-123": job_a`},
	} {
		search(t, ctx, c.q)
		if rows := logRows(t, ctx); len(rows) != 1 || rows[0] != dlvA {
			t.Fatalf("search %q shows %v, want [%s]: %s", c.q, rows, dlvA, bodyText(t, ctx))
		}
		if found := run(t, ctx, chromedp.Text(chromedp.ID("found"))); !strings.Contains(found, c.found) {
			t.Fatalf("search %q says %q", c.q, found)
		}
	}
	axeClean(t, ctx, "the log searched by partner param")
	screenshot(t, ctx, "logs-search")
	// Filters apply to what the search finds; a value nothing holds says
	// what was looked for.
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/logs?q=u-123&status=failed"), chromedp.WaitVisible(chromedp.ID("no-deliveries")))
	search(t, ctx, "u-12")
	if msg := run(t, ctx, chromedp.Text(chromedp.ID("search-error"))); !strings.Contains(msg, "no job's partner params hold that value") {
		t.Fatalf("a search that finds nothing says %q", msg)
	}
	axeClean(t, ctx, "a search that finds nothing")

	// The job list, filtered by partner param, leads to the job and back
	// to its deliveries.
	visit(t, ctx, h.URL+"/portal/jobs", "#jobs")
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#jobs tbody tr").length`)); n != 2 {
		t.Fatalf("the job list shows %d jobs, want 2", n)
	}
	do(t, ctx, chromedp.SetValue(chromedp.ID("partner_param"), "u-456"), chromedp.Click(chromedp.ID("filter-jobs")))
	waitFor(t, ctx, `location.search.includes("partner_param=u-456") && document.readyState === "complete"`)
	jobs := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#jobs tbody tr .c-id code")].map(c => c.textContent)`))
	if len(jobs) != 1 || jobs[0] != "job_b" {
		t.Fatalf("jobs holding u-456: %v", jobs)
	}
	axeClean(t, ctx, "the filtered job list")
	screenshot(t, ctx, "jobs-list")
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/jobs?final=true"), chromedp.WaitVisible(chromedp.ID("no-jobs")))
	visit(t, ctx, h.URL+"/portal/jobs?id=job_a", "main section.card")
	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href^="/portal/logs?q="]`)))
	waitFor(t, ctx, `location.search === "?q=job_a" && document.getElementById("log") !== null`)
}

func TestPortalBrowserEventCatalogShowsSchemasExamplesAndWhoReceivesEach(t *testing.T) {
	ctx, h, rc := kycPortal(t)
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL + "/v", Name: "Verifications", EventTypes: []string{"verification.*"}})
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL + "/aml", Name: "Compliance", EventTypes: []string{"aml.hit"}})
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL + "/all", Name: "Everything"})

	visit(t, ctx, h.URL+"/portal/event-types", "section.catalog-type")
	type entry struct {
		Description, Example, Schema string
		Receivers                    []string
	}
	read := func(name string) entry {
		t.Helper()
		return run(t, ctx, chromedp.Evaluate[entry](`(() => { const s = document.getElementById("type-`+name+`"); return {
			description: s.querySelector(".description") ? s.querySelector(".description").textContent : "",
			example: s.querySelector("pre.example") ? s.querySelector("pre.example").textContent : "",
			schema: s.querySelector("details.schema").textContent,
			receivers: [...s.querySelectorAll("ul.receivers a")].map(a => a.textContent) }; })()`))
	}
	approved := read("verification.approved")
	if !strings.Contains(approved.Description, "document and the selfie match") || !strings.Contains(approved.Example, `"score": 0.98`) ||
		!strings.Contains(approved.Schema, `"required"`) || strings.Join(approved.Receivers, ",") != "Verifications,Everything" {
		t.Fatalf("verification.approved in the catalog: %+v", approved)
	}
	if hit := read("aml.hit"); strings.Join(hit.Receivers, ",") != "Compliance,Everything" || !strings.Contains(hit.Schema, "any JSON object") {
		t.Fatalf("aml.hit in the catalog: %+v", hit)
	}
	// The docs' picture: the index, then one type in full.
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/event-types#type-verification.approved"), chromedp.WaitVisible(chromedp.CSS("section.catalog-type")))
	png := run(t, ctx, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "event-types.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}

	// The endpoint form's picker says what each type is.
	visit(t, ctx, h.URL+"/portal/endpoints/new", "#url")
	if d := run(t, ctx, chromedp.Evaluate[string](`document.querySelector('input[name="event_types"][value="aml.hit"]').closest("label").textContent`)); !strings.Contains(d, "sanctions or PEP list") {
		t.Fatalf("the picker's aml.hit: %q", d)
	}
}

func TestPortalBrowserTestSendsEditedDataAndShowsTheSchemaErrorOnTheField(t *testing.T) {
	ctx, h, rc := kycPortal(t)
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Name: "KYC receiver"})
	rc.Trust(ep.Secret)

	visit(t, ctx, h.URL+"/portal/test?endpoint="+ep.ID+"&event_type=verification.approved", "#data")
	if data := run(t, ctx, chromedp.Value(chromedp.ID("data"))); !strings.Contains(data, `"score": 0.98`) {
		t.Fatalf("the data starts as %q, not the example", data)
	}
	// Another type, data untouched: its example replaces the data.
	do(t, ctx, chromedp.SetValue(chromedp.ID("event_type"), "verification.declined"))
	run(t, ctx, chromedp.Evaluate[bool](`document.getElementById("event_type").dispatchEvent(new Event("change"))`))
	if data := run(t, ctx, chromedp.Value(chromedp.ID("data"))); !strings.Contains(data, "document_expired") {
		t.Fatalf("after choosing verification.declined the data is %q", data)
	}
	do(t, ctx, chromedp.SetValue(chromedp.ID("event_type"), "verification.approved"))
	run(t, ctx, chromedp.Evaluate[bool](`document.getElementById("event_type").dispatchEvent(new Event("change"))`))

	// The edited data is what the receiver gets.
	do(t, ctx, chromedp.SetValue(chromedp.ID("data"), `{"status": "approved", "score": 0.42, "note": "edited in the portal"}`),
		chromedp.Click(chromedp.ID("send-test")), chromedp.WaitVisible(chromedp.ID("test-result")))
	got := rc.Next(5 * time.Second)
	var data struct {
		Score float64
		Note  string
	}
	if got.Valid != nil || got.Event == nil || json.Unmarshal(got.Event.Data, &data) != nil || data.Score != 0.42 || data.Note != "edited in the portal" || !got.Event.Test {
		t.Fatalf("the receiver got %+v (%s)", got, got.Body)
	}
	axeClean(t, ctx, "the test sent")
	screenshot(t, ctx, "test-edited")

	// Data the schema refuses, and data that is not JSON, stay on the
	// form with the error on the field; nothing is sent.
	for _, c := range []struct{ bad, want, shot string }{
		{`{"status": "approved"`, "not valid JSON", ""},
		{`{"status": "approved", "score": 7}`, "data.score", "test-schema-error"},
	} {
		do(t, ctx, chromedp.SetValue(chromedp.ID("data"), c.bad))
		submit(t, ctx, "send-test", `document.getElementById("data-error") !== null`)
		if msg := run(t, ctx, chromedp.Text(chromedp.ID("data-error"))); !strings.Contains(msg, c.want) {
			t.Fatalf("data %s: the field says %q, want %q", c.bad, msg, c.want)
		}
		if inv := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("data").getAttribute("aria-invalid") + " " + document.getElementById("data").value`)); inv != "true "+c.bad {
			t.Fatalf("data %s: the field is %q", c.bad, inv)
		}
		axeClean(t, ctx, "the test refused: "+c.bad)
		if c.shot != "" {
			screenshot(t, ctx, c.shot)
		}
	}
	rc.Quiet(300 * time.Millisecond)
}

func TestPortalBrowserLogsAtPhoneWidthShowStatusAndTimeAndOpenOnTap(t *testing.T) {
	ctx, h, rc := kycPortal(t)
	rc.Respond(func(n int, _ *http.Request) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Name: "KYC receiver", RetryPolicy: &client.RetryPolicy{Preset: "none"}})
	for range 3 {
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","score":0.5}`),
			Job: &client.JobRef{ID: "job_phone", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}})
		rc.Next(5 * time.Second)
	}
	servertest.Eventually(t, 5*time.Second, "the deliveries to end", func() bool {
		for _, d := range h.Deliveries("acme", "sandbox", nil) {
			if d.Status == client.DeliveryPending {
				return false
			}
		}
		return true
	})

	do(t, ctx, chromedp.EmulateViewport(390, 844))
	visit(t, ctx, h.URL+"/portal/logs", "#log")
	type box struct {
		Visible                  bool
		Left, Right, Top, Bottom float64
		Text                     string
	}
	cells := run(t, ctx, chromedp.Evaluate[map[string][]box](`(() => {
		const box = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
			return {visible: s.display !== "none" && s.visibility !== "hidden" && r.width > 0 && r.height > 0,
				left: r.left, right: r.right, top: r.top, bottom: r.bottom, text: el.innerText.trim()}; };
		const out = {};
		for (const c of ["c-status", "c-time", "c-id", "c-more"]) out[c] = [...document.querySelectorAll("#log tbody ." + c)].map(box);
		return out; })()`))
	width := run(t, ctx, chromedp.Evaluate[float64](`document.documentElement.clientWidth`))
	if width != 390 {
		t.Fatalf("the viewport is %v px wide", width)
	}
	if len(cells["c-status"]) != 3 || len(cells["c-time"]) != 3 {
		t.Fatalf("rows: %+v", cells)
	}
	var statuses []string
	for i := range cells["c-status"] {
		for _, c := range []box{cells["c-status"][i], cells["c-time"][i], cells["c-id"][i]} {
			if !c.Visible || c.Left < 0 || c.Right > width || c.Text == "" {
				t.Fatalf("row %d: a cell %+v is hidden or outside the %v px viewport", i, c, width)
			}
		}
		if s, tm := cells["c-status"][i], cells["c-time"][i]; s.Bottom <= tm.Top || tm.Bottom <= s.Top {
			t.Fatalf("row %d: the status %+v and the time %+v are not side by side", i, s, tm)
		}
		statuses = append(statuses, cells["c-status"][i].Text)
	}
	if !strings.Contains(strings.Join(statuses, " "), "failed") || !strings.Contains(strings.Join(statuses, " "), "succeeded") {
		t.Fatalf("statuses shown: %v", statuses)
	}
	if scroll := run(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`)); scroll > width {
		t.Fatalf("the page scrolls sideways: %v px in a %v px viewport", scroll, width)
	}
	screenshot(t, ctx, "logs-390")
	// A tap anywhere on a row (here its time) opens the delivery.
	do(t, ctx, chromedp.Click(chromedp.CSS("#log tbody tr:first-child .c-time")), chromedp.WaitVisible(chromedp.ID("resend")))
	if loc := location(t, ctx); !strings.Contains(loc, "/portal/logs/dlv_") {
		t.Fatalf("the tap opened %s", loc)
	}
	axeClean(t, ctx, "a delivery at 390 px")
}

// axePortal makes a portal with an endpoint, a delivery and a job, and
// lists its pages.
func axePortal(t *testing.T) (context.Context, *servertest.Herald, []string) {
	t.Helper()
	ctx, h, rc := kycPortal(t)
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Name: "KYC receiver"})
	pub := h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","score":0.5}`),
		Job: &client.JobRef{ID: "job_axe", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}})
	rc.Next(5 * time.Second)
	var dlv string
	servertest.Eventually(t, 5*time.Second, "the delivery to be recorded", func() bool {
		ds := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{EventID: pub.ID})
		if len(ds) == 1 && ds[0].AttemptCount == 1 {
			dlv = ds[0].ID
		}
		return dlv != ""
	})
	return ctx, h, []string{"/portal/endpoints", "/portal/endpoints/new", "/portal/endpoints/" + ep.ID, "/portal/endpoints/" + ep.ID + "/edit",
		"/portal/endpoints/" + ep.ID + "/delete", "/portal/test?endpoint=" + ep.ID, "/portal/logs", "/portal/logs?q=u-1", "/portal/logs/" + dlv,
		"/portal/jobs", "/portal/jobs?id=job_axe", "/portal/event-types", "/portal/keys", "/portal/audit", "/portal/verify"}
}

// sweep checks pages with axe-core at a width.
func sweep(t *testing.T, ctx context.Context, base string, width int64, paths []string) {
	t.Helper()
	do(t, ctx, chromedp.EmulateViewport(width, 900))
	for _, path := range paths {
		visit(t, ctx, base+path, "main h1")
	}
}

// Every page of the portal and the console passes axe-core, at a
// desktop's width and a phone's: the pages of this issue and the ones
// before.
func TestPortalBrowserEveryPortalPagePassesAxeOnADesktop(t *testing.T) {
	ctx, h, pages := axePortal(t)
	sweep(t, ctx, h.URL, 1280, pages)
}

func TestPortalBrowserEveryPortalPagePassesAxeOnAPhone(t *testing.T) {
	ctx, h, pages := axePortal(t)
	sweep(t, ctx, h.URL, 390, pages)
}

func TestPortalBrowserEveryConsolePagePassesAxe(t *testing.T) {
	ctx := newBrowser(t)
	h := servertest.Start(t)
	h.Tenant("acme")
	visit(t, ctx, h.URL+"/portal/login", "#api_key")
	visit(t, ctx, h.URL+"/console/login", "#token")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), servertest.Token), chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.ID("tenants")))
	console := []string{"/console/tenants", "/console/event-types", "/console/health", "/console/audit"}
	sweep(t, ctx, h.URL, 1280, console)
	sweep(t, ctx, h.URL, 390, console)
}
