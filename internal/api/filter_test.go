package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// TestFilterNamingAnUnregisteredTypeIsRefused: a misspelt type in an
// endpoint's filter would match nothing, silently; it is a 422 naming the
// entry, on create and on PATCH, and nothing is saved. A pattern is
// accepted when it matches a registered type; allow_unregistered_types
// saves what the caller means on purpose.
func TestFilterNamingAnUnregisteredTypeIsRefused(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		rc := servertest.NewReceiver(t)
		api := h.As("acme", "sandbox")
		ctx := t.Context()

		_, err := api.CreateEndpoint(ctx, &client.EndpointCreate{URL: rc.URL, EventTypes: []string{"verification.approved", "aml.*", "verifcation.rejected"}})
		ae := servertest.Refused(t, err, http.StatusUnprocessableEntity)
		if len(ae.Errors) != 1 || ae.Errors[0].Location != "body.event_types[2]" || !strings.Contains(ae.Errors[0].Message, "verifcation.rejected") {
			t.Fatalf("the refusal does not name body.event_types[2]: %+v", ae)
		}
		_, err = api.CreateEndpoint(ctx, &client.EndpointCreate{URL: rc.URL, EventTypes: []string{"kyc.*"}})
		if ae := servertest.Refused(t, err, http.StatusUnprocessableEntity); ae.Errors[0].Location != "body.event_types[0]" {
			t.Fatalf("a pattern over no registered type: %+v", ae)
		}
		if eps := servertest.Must(api.ListEndpoints(ctx, nil))(t); len(eps.Data) != 0 {
			t.Fatalf("a refused endpoint was saved: %+v", eps.Data)
		}

		ep := servertest.Must(api.CreateEndpoint(ctx, &client.EndpointCreate{URL: rc.URL, EventTypes: []string{"verification.*", "aml.match.found", "*"}}))(t)
		optIn := servertest.Must(api.CreateEndpoint(ctx, &client.EndpointCreate{URL: rc.URL, EventTypes: []string{"partner.custom"}, AllowUnregisteredTypes: true}))(t)
		if len(optIn.EventTypes) != 1 || optIn.EventTypes[0] != "partner.custom" {
			t.Fatalf("the opt-in did not save the filter: %+v", optIn.EventTypes)
		}

		_, err = api.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{EventTypes: []string{"verification.aproved"}})
		if ae := servertest.Refused(t, err, http.StatusUnprocessableEntity); ae.Errors[0].Location != "body.event_types[0]" {
			t.Fatalf("PATCH: %+v", ae)
		}
		if got := servertest.Must(api.GetEndpoint(ctx, ep.ID))(t); len(got.EventTypes) != 3 {
			t.Fatalf("a refused PATCH changed the filter: %v", got.EventTypes)
		}
		// A PATCH that leaves the filter alone keeps an opted-in one.
		servertest.Must(api.UpdateEndpoint(ctx, optIn.ID, &client.EndpointUpdate{Name: client.Ptr("renamed")}))(t)
		up := servertest.Must(api.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{EventTypes: []string{"kyc.custom"}, AllowUnregisteredTypes: true}))(t)
		if len(up.EventTypes) != 1 || up.EventTypes[0] != "kyc.custom" {
			t.Fatalf("PATCH with the opt-in: %v", up.EventTypes)
		}

		// Registering the type makes the pattern over it acceptable.
		servertest.Must(h.Client.PutEventType(ctx, "kyc.custom", &client.EventTypePut{Description: "ours"}))(t)
		servertest.Must(api.CreateEndpoint(ctx, &client.EndpointCreate{URL: rc.URL, EventTypes: []string{"kyc.*"}}))(t)
	})
}
