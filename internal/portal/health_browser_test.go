package portal_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestPortalBrowserAFailingEndpointShowsWhyInThePortalAndTheConsoleAndIsEnabledAgain(t *testing.T) {
	ctx := newBrowser(t)
	// Two failures open the circuit; a probe goes every second.
	h := servertest.Start(t, func(s *servertest.Settings) {
		s.Config.Breaker = domain.Breaker{Threshold: 2, Window: time.Minute, Cooldown: time.Second, DisableAfter: 120 * time.Hour}
	})
	h.Tenant("acme")
	acme := h.As("acme", "sandbox")
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	rc := servertest.NewReceiver(t)
	rc.Respond(func(int, *http.Request) int { mu.Lock(); defer mu.Unlock(); return status })
	answer := func(s int) { mu.Lock(); status = s; mu.Unlock() }
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Name: "acme receiver",
		RetryPolicy: &client.RetryPolicy{Delays: []string{"100ms", "100ms", "100ms", "100ms", "100ms", "100ms", "100ms", "100ms"}}})
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
	servertest.Eventually(t, 10*time.Second, "the circuit to open", func() bool {
		return servertest.Must(acme.EndpointHealth(t.Context(), ep.ID))(t).Circuit != client.CircuitClosed
	})

	// The portal's endpoint page says it is failing, and why.
	do(t, ctx, chromedp.Navigate(portalLink(h, "acme", "sandbox", "")), chromedp.WaitVisible(chromedp.ID("endpoints")),
		chromedp.Navigate(h.URL+"/portal/endpoints/"+ep.ID), chromedp.WaitVisible(chromedp.ID("endpoint-failing")))
	if txt := run(t, ctx, chromedp.Text(chromedp.ID("endpoint-failing"))); !strings.HasPrefix(txt, "Failing: its circuit is") || !strings.Contains(txt, "503") {
		t.Fatalf("the failing endpoint is shown as %q", txt)
	}
	if c := run(t, ctx, chromedp.Text(chromedp.ID("endpoint-circuit"))); c != "open" && c != "half_open" {
		t.Fatalf("circuit shown %q", c)
	}
	if hist := run(t, ctx, chromedp.Text(chromedp.ID("health-history"))); !strings.Contains(hist, "opened") || !strings.Contains(hist, "failed attempts in a row") {
		t.Fatalf("health history shown %q", hist)
	}
	screenshot(t, ctx, "01-endpoint-circuit-open")

	// So does the operator's console.
	consoleSignIn(t, ctx, h)
	do(t, ctx, chromedp.Navigate(h.URL+"/console/health"), chromedp.WaitVisible(chromedp.ID("open-circuits")))
	if txt := run(t, ctx, chromedp.Text(chromedp.ID("open-circuits"))); !strings.Contains(txt, "acme receiver") || !strings.Contains(txt, "503") {
		t.Fatalf("the console's open circuits: %q", txt)
	}
	screenshot(t, ctx, "02-console-open-circuits")

	// The receiver is gone: the next probe disables the endpoint.
	answer(http.StatusGone)
	servertest.Eventually(t, 10*time.Second, "the endpoint to be disabled", func() bool {
		return servertest.Must(acme.GetEndpoint(t.Context(), ep.ID))(t).Status == client.EndpointDisabled
	})
	do(t, ctx, chromedp.Navigate(h.URL+"/portal/endpoints/"+ep.ID), chromedp.WaitVisible(chromedp.ID("enable")))
	if txt := run(t, ctx, chromedp.Text(chromedp.ID("endpoint-failing"))); !strings.HasPrefix(txt, "Disabled: the receiver answered 410 Gone") {
		t.Fatalf("the disabled endpoint is shown as %q", txt)
	}
	screenshot(t, ctx, "03-endpoint-disabled")

	// Its tenant enables it from the page; the next delivery succeeds.
	answer(http.StatusOK)
	do(t, ctx, chromedp.Click(chromedp.ID("enable")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if s := run(t, ctx, chromedp.Text(chromedp.ID("endpoint-status"))); s != "active" {
		t.Fatalf("status after enabling: %q", s)
	}
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
	servertest.Eventually(t, 10*time.Second, "the recovery", func() bool {
		hl := servertest.Must(acme.EndpointHealth(t.Context(), ep.ID))(t)
		return len(hl.History) > 0 && hl.History[0].Kind == "recovered"
	})
	do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("health-history")))
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#endpoint-failing").length`)); n != 0 {
		t.Fatal("a recovered endpoint is still shown failing")
	}
	hist := run(t, ctx, chromedp.Text(chromedp.ID("health-history")))
	for _, kind := range []string{"recovered", "enabled", "disabled"} {
		if !strings.Contains(hist, kind) {
			t.Fatalf("history shown without %s: %q", kind, hist)
		}
	}
	screenshot(t, ctx, "04-endpoint-recovered")
}

// consoleSignIn signs in to the operator console with the operator token.
func consoleSignIn(t *testing.T, ctx context.Context, h *servertest.Herald) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(h.URL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), servertest.Token),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("create-tenant")),
	)
}
