package api_test

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestEndpointRateLimitIsBoundedKeptAndAudited(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		h.Tenant("acme")
		api := h.As("acme", "sandbox")
		plain := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "https://example.com/plain"})
		if plain.RateLimit != 0 {
			t.Fatalf("an endpoint made without a rate limit has %d", plain.RateLimit)
		}
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "https://example.com/hook", RateLimit: client.Ptr(50)})
		if ep.RateLimit != 50 {
			t.Fatalf("rate limit %d, want 50", ep.RateLimit)
		}
		for _, bad := range []int{-1, 10001} {
			_, err := api.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{RateLimit: client.Ptr(bad)})
			e := servertest.Refused(t, err, http.StatusUnprocessableEntity)
			if len(e.Errors) != 1 || e.Errors[0].Location != "body.rate_limit" {
				t.Fatalf("rate limit %d refused with %+v, want the field body.rate_limit named", bad, e.Errors)
			}
			_, err = api.CreateEndpoint(ctx, &client.EndpointCreate{URL: "https://example.com/x", RateLimit: client.Ptr(bad)})
			servertest.Refused(t, err, http.StatusUnprocessableEntity)
		}
		if got := servertest.Must(api.GetEndpoint(ctx, ep.ID))(t); got.RateLimit != 50 {
			t.Fatalf("a refused change left the rate limit at %d", got.RateLimit)
		}
		// Another change leaves it alone; 0 removes it.
		if got := servertest.Must(api.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{Name: client.Ptr("hook")}))(t); got.RateLimit != 50 {
			t.Fatalf("renaming the endpoint changed its rate limit to %d", got.RateLimit)
		}
		if got := servertest.Must(api.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{RateLimit: client.Ptr(0)}))(t); got.RateLimit != 0 {
			t.Fatalf("rate limit %d after setting 0", got.RateLimit)
		}
		log := servertest.Must(h.Client.ListAuditLog(ctx, &client.AuditLogParams{ResourceID: ep.ID, Action: "endpoint.updated"}))(t)
		if len(log.Data) != 2 {
			t.Fatalf("%d audit entries of the endpoint's updates, want 2", len(log.Data))
		}
		change, ok := log.Data[0].Changes["rate_limit"]
		if !ok || string(change.From) != "50" || (len(change.To) > 0 && string(change.To) != "0") {
			t.Fatalf("the audit entry of the rate limit's removal: %+v", log.Data[0].Changes)
		}
	})
}
