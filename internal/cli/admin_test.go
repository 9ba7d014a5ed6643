package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestTenantsAreCreatedListedShownAndChanged(t *testing.T) {
	isolate(t)
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		created := okJSON[client.Tenant](t, op(h, "tenants", "create", "--id", "acme", "--name", "Acme Bank", "--rate-limit-per-minute", "60")...)
		if created.ID != "acme" || created.Name != "Acme Bank" || created.RateLimitPerMinute != 60 {
			t.Fatalf("created %+v", created)
		}
		okJSON[client.Tenant](t, op(h, "tenants", "create", "--id", "globex", "--name", "Globex")...)

		// One page of one, then every page.
		page := okJSON[client.List[client.Tenant]](t, op(h, "tenants", "list", "--limit", "1")...)
		if len(page.Data) != 1 || page.Data[0].ID != "acme" || page.NextCursor == "" {
			t.Fatalf("first page %+v", page)
		}
		all := okJSON[client.List[client.Tenant]](t, op(h, "tenants", "list", "--limit", "1", "--all")...)
		if len(all.Data) != 2 || all.Data[1].ID != "globex" || all.NextCursor != "" {
			t.Fatalf("--all %+v", all)
		}
		rest := okJSON[client.List[client.Tenant]](t, op(h, "tenants", "list", "--cursor", page.NextCursor)...)
		if len(rest.Data) != 1 || rest.Data[0].ID != "globex" {
			t.Fatalf("--cursor %+v", rest)
		}
		// The table, for people.
		out := ok(t, op(h, "tenants", "list")...)
		if !strings.HasPrefix(out, "ID ") || !strings.Contains(out, "Acme Bank") || !strings.Contains(out, "60/min") {
			t.Fatalf("table:\n%s", out)
		}

		updated := okJSON[client.Tenant](t, op(h, "tenants", "update", "acme", "--name", "Acme Bank plc")...)
		if updated.Name != "Acme Bank plc" || updated.RateLimitPerMinute != 60 {
			t.Fatalf("updated %+v", updated)
		}
		if out := ok(t, op(h, "tenants", "get", "acme")...); !strings.Contains(out, "Acme Bank plc") {
			t.Fatalf("get:\n%s", out)
		}
		link := okJSON[client.PortalSession](t, op(h, "tenants", "portal-link", "acme", "-e", "production")...)
		if !strings.HasPrefix(link.URL, h.URL+"/") || link.Environment != client.Production {
			t.Fatalf("portal link %+v", link)
		}
		refused(t, 404, op(h, "tenants", "get", "nobody")...)
	})
}

func TestKeysAreIssuedRotatedAndRevoked(t *testing.T) {
	isolate(t)
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		scope := []string{"--tenant", "acme", "--environment", "sandbox"}
		key := okJSON[client.APIKeyWithSecret](t, op(h, append([]string{"keys", "create"}, scope...)...)...)
		if key.TenantID != "acme" || key.Environment != client.Sandbox || !strings.HasPrefix(key.Key, key.Prefix) {
			t.Fatalf("key %+v", key)
		}
		// The new key works from the environment, scoped to its own tenant.
		t.Setenv("HERALD_URL", h.URL)
		t.Setenv("HERALD_TOKEN", key.Key)
		keys := okJSON[client.List[client.APIKey]](t, "keys", "list")
		if len(keys.Data) != 1 || keys.Data[0].ID != key.ID {
			t.Fatalf("keys listed with the key itself: %+v", keys)
		}
		// Rotated: the new key works, and so does the old one, until
		// revoked.
		rotated := okJSON[client.APIKeyWithSecret](t, op(h, append([]string{"keys", "rotate", key.ID, "--grace-period", "1h"}, scope...)...)...)
		if rotated.Key == "" || rotated.Key == key.Key {
			t.Fatalf("rotated %+v", rotated)
		}
		ok(t, "endpoints", "list", "--token", rotated.Key)
		ok(t, "endpoints", "list")
		out := ok(t, op(h, append([]string{"keys", "list"}, scope...)...)...)
		if !strings.Contains(out, key.ID) || !strings.Contains(out, rotated.ID) || !strings.Contains(out, "EXPIRES") {
			t.Fatalf("keys table:\n%s", out)
		}
		ok(t, op(h, append([]string{"keys", "revoke", key.ID}, scope...)...)...)
		refused(t, 401, "endpoints", "list")
		// A table shows the new key once, and says so.
		r := herald(t, t.Context(), "", op(h, append([]string{"keys", "create"}, scope...)...)...)
		if r.Err != nil || !strings.Contains(r.Stdout, "hk_sandbox_") || !strings.Contains(r.Stderr, "shown only now") {
			t.Fatalf("keys create table: %v\n%s\n%s", r.Err, r.Stdout, r.Stderr)
		}
	})
}

func TestEndpointsAreCreatedPausedResumedTestedAndDeleted(t *testing.T) {
	isolate(t)
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		rc := servertest.NewReceiver(t)
		t.Setenv("HERALD_URL", h.URL)
		t.Setenv("HERALD_TOKEN", servertest.Token)
		t.Setenv("HERALD_TENANT", "acme")

		ep := okJSON[client.EndpointWithSecret](t, "endpoints", "create", "--url", rc.URL+"/hook", "--name", "main",
			"--event-type", "verification.approved", "--event-type", "verification.rejected", "--header", "X-Team=kyc", "--timeout", "5s")
		if ep.Secret == "" || ep.Status != client.EndpointActive || len(ep.EventTypes) != 2 || ep.Headers["X-Team"] != "kyc" || ep.TimeoutMS != 5000 {
			t.Fatalf("created %+v", ep)
		}
		rc.Trust(ep.Secret)

		paused := okJSON[client.Endpoint](t, "endpoints", "pause", ep.ID)
		if paused.Status != client.EndpointPaused {
			t.Fatalf("paused: %s", paused.Status)
		}
		resumed := okJSON[client.Endpoint](t, "endpoints", "resume", ep.ID)
		if resumed.Status != client.EndpointActive {
			t.Fatalf("resumed: %s", resumed.Status)
		}
		updated := okJSON[client.Endpoint](t, "endpoints", "update", ep.ID, "--name", "primary", "--all-event-types")
		if updated.Name != "primary" || len(updated.EventTypes) != 0 || updated.URL != ep.URL {
			t.Fatalf("updated %+v", updated)
		}

		// The whole request from standard input, a flag over it.
		r := herald(t, t.Context(), `{"url": "`+rc.URL+`/other", "name": "from-stdin", "status": "paused", "retry_policy": {"preset": "once"}}`,
			"endpoints", "create", "--file", "-", "--name", "flag-wins", "-o", "json")
		if r.Err != nil || !strings.Contains(r.Stdout, `"name": "flag-wins"`) || !strings.Contains(r.Stdout, `"preset": "once"`) || !strings.Contains(r.Stdout, `"status": "paused"`) {
			t.Fatalf("create from stdin: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
		}
		r = herald(t, t.Context(), `{"ulr": "x"}`, "endpoints", "create", "--file", "-")
		if r.Err == nil || !strings.Contains(r.Err.Error(), "ulr") {
			t.Fatalf("a misspelt field in --file: %v", r.Err)
		}

		list := okJSON[client.List[client.Endpoint]](t, "endpoints", "list")
		if len(list.Data) != 2 {
			t.Fatalf("listed %d endpoints", len(list.Data))
		}
		if out := ok(t, "endpoints", "get", ep.ID); !strings.Contains(out, "primary") || !strings.Contains(out, "event types:") {
			t.Fatalf("get:\n%s", out)
		}

		res := okJSON[client.TestSendResult](t, "endpoints", "test", ep.ID, "verification.approved")
		if res.Status != client.DeliverySucceeded || res.ResponseStatus != 200 {
			t.Fatalf("test send %+v", res)
		}
		got := rc.Next(10 * time.Second)
		if got.Valid != nil || !got.Event.Test || got.Event.Type != "verification.approved" {
			t.Fatalf("the test send arrived as %+v (%v)", got.Event, got.Valid)
		}

		rot := okJSON[client.RotatedSecret](t, "endpoints", "rotate-secret", ep.ID)
		if rot.Secret == "" || rot.Secret == ep.Secret {
			t.Fatalf("rotated %+v", rot)
		}

		ok(t, "endpoints", "delete", ep.ID)
		refused(t, 404, "endpoints", "get", ep.ID)
	})
}
