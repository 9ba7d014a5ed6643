package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// platform is the platform's own site, on another origin than Herald's:
// Herald listens on 127.0.0.1, the platform is reached as localhost, so
// the two are different sites to the browser (cookies included), as a
// dashboard and a Herald of their own domains are.
type platform struct {
	URL string // http://localhost:port
}

// newPlatform serves /embed?src=…, a dashboard page that frames src, and
// /back, where portal sessions return.
func newPlatform(t *testing.T) *platform {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /embed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Platform dashboard</title></head>
<body style="margin:0;font-family:sans-serif;background:#eef"><h1 style="margin:8px 16px">Platform dashboard</h1>
<iframe id="portal" title="Webhooks" src="%s" style="width:100%%;height:760px;border:0"></iframe></body></html>`, html.EscapeString(r.URL.Query().Get("src")))
	})
	mux.HandleFunc("GET /back", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>Back on the platform</title></head><body><h1 id="back">Back on the platform</h1></body></html>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &platform{URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}
}

// brandView is what a page shows of the branding, read in the browser.
type brandView struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Logo is the loaded logo's natural width (0: none, or not loaded).
	Logo int `json:"logo"`
	// Bar is the header's box-shadow: the accent's rule under it.
	Bar    string `json:"bar"`
	Accent string `json:"accent"`
	Header string `json:"header"`
	// Foreign lists the resources loaded from another origin.
	Foreign []string `json:"foreign"`
	// Contrast is the lowest contrast of a link's or button's text with
	// what is behind it (links measured against the page's background).
	Contrast float64 `json:"contrast"`
}

const readBrand = `(() => {
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = c => { const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map(lin); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const shown = [...document.querySelectorAll("main a, main button:not(.link)")].filter(e => e.offsetParent !== null);
  const logo = document.querySelector(".brand img.logo");
  return {
    name: (document.getElementById("brand-name") || {}).innerText || "",
    title: document.title,
    logo: logo && logo.complete ? logo.naturalWidth : 0,
    bar: getComputedStyle(document.querySelector("header.top")).boxShadow,
    accent: getComputedStyle(document.documentElement).getPropertyValue("--accent").trim(),
    header: document.querySelector("header.top").innerText,
    foreign: performance.getEntriesByType("resource").map(e => e.name).filter(n => !n.startsWith(location.origin + "/")),
    contrast: Math.min(21, ...shown.map(e => {
      const s = getComputedStyle(e);
      const bg = s.backgroundColor === "rgba(0, 0, 0, 0)" ? "rgb(247, 248, 250)" : s.backgroundColor;
      return ratio(s.color, bg);
    })),
  };
})()`

// checkBrand reads the page's branding and fails unless it is Acme Bank's
// with the accent bar (as rgb(…)), all from Herald's origin, readable.
func checkBrand(t *testing.T, ctx context.Context, where, bar string) brandView {
	t.Helper()
	waitFor(t, ctx, `document.readyState === "complete" && document.querySelector("header.top") !== null`)
	return brandShown(t, where, bar, run(t, ctx, chromedp.Evaluate[brandView](readBrand)))
}

func brandShown(t *testing.T, where, bar string, v brandView) brandView {
	t.Helper()
	if v.Name != "Acme Bank" || !strings.HasSuffix(v.Title, " · Acme Bank") || v.Logo != 96 || !strings.Contains(v.Bar, bar) ||
		strings.Contains(v.Header, "acme") || strings.Contains(v.Header, "Herald") || len(v.Foreign) > 0 || v.Contrast < 4.5 {
		t.Errorf("%s: branding shown %+v", where, v)
	}
	return v
}

func TestPortalBrowserBrandingOnEveryPage(t *testing.T) {
	ctx := newBrowser(t)
	h := servertest.Start(t)
	catalog(h)
	h.Tenant("acme")
	brand(h, "acme", "#0f766e")
	rc := servertest.NewReceiver(t)
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Name: "Acme receiver", EventTypes: []string{"verification.approved"}})
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","score":0.9}`), Job: &client.JobRef{ID: "job-1"}})
	rc.Next(5 * time.Second)
	var ds []client.Delivery
	servertest.Eventually(t, 5*time.Second, "the delivery", func() bool { ds = h.Deliveries("acme", "sandbox", nil); return len(ds) == 1 })

	do(t, ctx, chromedp.Navigate(portalLink(h, "acme", "sandbox", "")), chromedp.WaitVisible(chromedp.ID("endpoints")))
	v := checkBrand(t, ctx, "endpoints", "rgb(15, 118, 110)")
	if v.Accent != "#0f766e" {
		t.Fatalf("a readable accent was changed: %s", v.Accent)
	}
	screenshot(t, ctx, "01-branded-endpoints")
	// Every section of the header, and the pages they lead to.
	sections := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("header nav a")].map(a => a.href)`))
	if len(sections) < 7 {
		t.Fatalf("only %d sections in the header", len(sections))
	}
	pages := append(sections,
		h.URL+"/portal/endpoints/new", h.URL+"/portal/endpoints/"+ep.ID, h.URL+"/portal/endpoints/"+ep.ID+"/edit",
		h.URL+"/portal/endpoints/"+ep.ID+"/delete", h.URL+"/portal/logs/"+ds[0].ID, h.URL+"/portal/jobs?id=job-1",
		h.URL+"/portal/test?endpoint="+ep.ID+"&event_type=verification.approved",
		h.URL+"/portal/endpoints/ep_not_there", // a refusal is branded too
	)
	for _, u := range pages {
		do(t, ctx, chromedp.Navigate(u))
		checkBrand(t, ctx, u, "rgb(15, 118, 110)")
	}
	// A secret shown once, after a form.
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/keys"), chromedp.WaitVisible(chromedp.ID("create-key")),
		chromedp.Click(chromedp.ID("create-key")), chromedp.WaitVisible(chromedp.CSS(".reveal")))
	checkBrand(t, ctx, "new key", "rgb(15, 118, 110)")
	screenshot(t, ctx, "02-branded-key")

	// A light accent stays on the header's rule, and is darkened where
	// text is: links and white text on buttons stay readable.
	servertest.Must(h.Client.UpdateTenantBranding(t.Context(), "acme", &client.TenantBrandingUpdate{BrandingUpdate: client.BrandingUpdate{AccentColor: client.Ptr("#ffcc00")}}))(t)
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/endpoints"), chromedp.WaitVisible(chromedp.ID("endpoints")))
	if v := checkBrand(t, ctx, "light accent", "rgb(255, 204, 0)"); v.Accent == "#ffcc00" {
		t.Fatal("an unreadable accent was used for text")
	}
	screenshot(t, ctx, "03-light-accent")
}

// childFrame is the page's first child frame, as the page's frame tree
// has it: its address, and the address it failed to show, if it did.
func childFrame(t *testing.T, ctx context.Context) *cdp.Frame {
	t.Helper()
	tree, err := chromedp.Call(ctx, cdppage.GetFrameTree, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if tree.FrameTree == nil || len(tree.FrameTree.ChildFrames) == 0 {
		return nil
	}
	return tree.FrameTree.ChildFrames[0].Frame
}

// inFrame evaluates a JavaScript expression in the page's frame, in a
// world of its own (the frame's DOM, styles and timings, not its
// scripts), once the frame shows url and has loaded. A frame that
// shows url may still be leaving it (a form posted to the page it is
// on), and its world then goes before the answer comes: the expression
// is tried again in the next document, so one that starts a navigation
// must start it after it answers (setTimeout), or it would run twice.
func inFrame[T any](t *testing.T, ctx context.Context, url, expr string) T {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for {
		if f := childFrame(t, ctx); f != nil && f.URL == url && f.UnreachableURL == "" {
			w, err := chromedp.Call(ctx, cdppage.CreateIsolatedWorld, cdppage.CreateIsolatedWorldParams{FrameID: f.ID})
			if err == nil {
				var ready bool
				ready, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === "complete"`, inContext(w.ExecutionContextID)))
				if err == nil && ready {
					var v T
					if v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expr, inContext(w.ExecutionContextID))); err == nil {
						return v
					}
				}
			}
			last = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("the frame did not show %s: %+v (last error %v)", url, childFrame(t, ctx), last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func inContext(id runtime.ExecutionContextID) chromedp.EvaluateOption {
	return func(p *runtime.EvaluateParams) { p.ContextID = id }
}

func TestPortalBrowserEmbeddedOnlyByTheOriginsItAllows(t *testing.T) {
	// Site isolation off, so that the frame of another site stays in the
	// page's process, where the test can read it; what a frame may show
	// and which cookies it gets do not depend on it.
	ctx := newBrowser(t, chromedp.Flag("disable-features", "SitePerProcess,IsolateOrigins"), chromedp.Flag("disable-site-isolation-trials", true))
	h := servertest.Start(t)
	site := newPlatform(t)
	h.Tenant("acme")
	h.Tenant("globex")
	brand(h, "acme", "#0f766e", site.URL)
	h.Tenant("initech")
	brand(h, "globex", "#0f766e", "https://dashboard.globex.example") // framed by its own dashboard only
	brand(h, "initech", "#0f766e")                                    // by no site

	// Allowed: the dashboard shows acme's portal, signed in and branded,
	// although Herald is another site (the cookie is SameSite=None).
	back := site.URL + "/back"
	do(t, ctx, chromedp.Navigate(site.URL+"/embed?src="+url.QueryEscape(linkBack(h, "acme", back))), chromedp.WaitVisible(chromedp.ID("portal")))
	brandShown(t, "framed endpoints", "rgb(15, 118, 110)", inFrame[brandView](t, ctx, h.URL+"/portal/endpoints", readBrand))
	screenshot(t, ctx, "01-embedded")
	// A form inside the frame is the portal's own: it works (CSRF intact).
	inFrame[bool](t, ctx, h.URL+"/portal/endpoints", `setTimeout(() => location.assign("/portal/keys")), true`)
	inFrame[bool](t, ctx, h.URL+"/portal/keys", `setTimeout(() => document.getElementById("create-key").click()), true`)
	servertest.Eventually(t, 15*time.Second, "the new key in the frame", func() bool {
		return inFrame[bool](t, ctx, h.URL+"/portal/keys", `document.getElementById("secret") !== null && document.getElementById("secret").value.startsWith("hk_sandbox_")`)
	})
	// Signing out in the frame goes to the return URL (in the frame: the
	// platform's page can then move its own window).
	inFrame[bool](t, ctx, h.URL+"/portal/keys", `setTimeout(() => document.querySelector('form[action="/portal/logout"] button').click()), true`)
	waitFor(t, ctx, `document.getElementById("portal").contentWindow.location.href === `+jsString(back))

	// Refused: globex's portal, signed in (its cookie is SameSite=None too),
	// is blocked by the browser on this site, and initech's, framed by
	// none, as well (whichever of its pages the frame reached).
	for _, tenant := range []string{"globex", "initech"} {
		do(t, ctx, chromedp.Navigate(site.URL+"/embed?src="+url.QueryEscape(portalLink(h, tenant, "sandbox", ""))), chromedp.WaitVisible(chromedp.ID("portal")))
		deadline := time.Now().Add(15 * time.Second)
		for {
			f := childFrame(t, ctx)
			if f != nil && strings.HasPrefix(f.URL, "chrome-error:") && (f.UnreachableURL == h.URL+"/portal/endpoints" || tenant == "initech" && strings.HasPrefix(f.UnreachableURL, h.URL+"/portal/")) {
				break
			}
			if f != nil && strings.HasPrefix(f.URL, h.URL) {
				t.Fatalf("the frame shows %s's portal: %+v", tenant, f)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's frame was not refused: %+v", tenant, f)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	screenshot(t, ctx, "02-embedding-refused")
}

func TestPortalBrowserReturnsToThePlatformOnSignOutAndWhenTheSessionEnds(t *testing.T) {
	ctx := newBrowser(t)
	const ttl = 6 * time.Second
	h := servertest.Start(t, func(s *servertest.Settings) { s.Config.PortalSessionTTL = ttl })
	site := newPlatform(t)
	h.Tenant("acme")
	back := site.URL + "/back?from=herald"

	do(t, ctx, chromedp.Navigate(linkBack(h, "acme", back)), chromedp.WaitVisible(chromedp.ID("no-endpoints")),
		chromedp.Click(chromedp.CSS(`form[action="/portal/logout"] button`)), chromedp.WaitVisible(chromedp.ID("back")))
	if loc := location(t, ctx); loc != back {
		t.Fatalf("after sign-out the browser is at %s", loc)
	}

	do(t, ctx, chromedp.Navigate(linkBack(h, "acme", back)), chromedp.WaitVisible(chromedp.ID("no-endpoints")))
	signedIn := time.Now()
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/logs"), chromedp.WaitVisible(chromedp.ID("main")))
	if loc := location(t, ctx); loc != h.URL+"/portal/logs" {
		t.Fatalf("within the session the browser is at %s", loc)
	}
	time.Sleep(time.Until(signedIn.Add(ttl + 500*time.Millisecond)))
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/keys"), chromedp.WaitVisible(chromedp.ID("back")))
	if loc := location(t, ctx); loc != back {
		t.Fatalf("after the session ended the browser is at %s", loc)
	}
}
