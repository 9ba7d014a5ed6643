package servertest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
)

// At gives tests the calls of this package on a Herald already running at
// url (a process the test started, for example); stop, when not nil, is
// what Stop does.
func At(t *testing.T, url string, stop func()) *Herald {
	if stop == nil {
		stop = func() {}
	}
	return &Herald{T: t, URL: url, Client: client.New(url, Token), stop: stop}
}

// As is the operator's client acting for a tenant's environment.
func (h *Herald) As(tenant, env string) *client.Client { return h.Client.WithScope(tenant, env) }

// Tenant creates a tenant, as the operator.
func (h *Herald) Tenant(id string) *client.Tenant {
	h.T.Helper()
	return Must(h.Client.CreateTenant(h.T.Context(), &client.TenantCreate{ID: id, Name: id + " Inc"}))(h.T)
}

// Endpoint creates an endpoint in a tenant's environment, as the operator.
func (h *Herald) Endpoint(tenant, env string, in client.EndpointCreate) *client.EndpointWithSecret {
	h.T.Helper()
	return Must(h.As(tenant, env).CreateEndpoint(h.T.Context(), &in))(h.T)
}

// Publish publishes one event in a tenant's environment, as the operator.
func (h *Herald) Publish(tenant, env string, ev client.PublishEvent) *client.PublishResult {
	h.T.Helper()
	return Must(h.As(tenant, env).Publish(h.T.Context(), &ev))(h.T)
}

// APIKey issues a key for a tenant's environment, as the operator.
func (h *Herald) APIKey(tenant, env string) *client.APIKeyWithSecret {
	h.T.Helper()
	k := Must(h.Client.CreateTenantAPIKey(h.T.Context(), tenant, env))(h.T)
	if !strings.HasPrefix(k.Key, "hk_"+env+"_") || !strings.HasPrefix(k.Key, k.Prefix) {
		h.T.Fatalf("key %q prefix %q", k.Key, k.Prefix)
	}
	return k
}

// Deliveries lists the first page of a scope's deliveries, newest first; p
// filters it (nil for none).
func (h *Herald) Deliveries(tenant, env string, p *client.DeliveryListParams) []client.Delivery {
	h.T.Helper()
	return Must(h.As(tenant, env).ListDeliveries(h.T.Context(), p))(h.T).Data
}

// Delivery gets one delivery with its attempts.
func (h *Herald) Delivery(tenant, env, id string) *client.Delivery {
	h.T.Helper()
	return Must(h.As(tenant, env).GetDelivery(h.T.Context(), id))(h.T)
}

// Must(f())(t) is f's value, failing the test with f's error (for a refused
// call, the *client.Error: status, detail and fields).
func Must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// Refused is the *client.Error of a call the API must have refused with
// status, failing the test when it succeeded or failed otherwise.
func Refused(t testing.TB, err error, status int) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *client.Error with status %d, got %v", status, err)
	}
	if e.Status != status {
		t.Fatalf("status %d, want %d: %v", e.Status, status, e)
	}
	return e
}

// JSON is v encoded, for an event's data built from values.
func JSON(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		panic("servertest: encode event data: " + err.Error())
	}
	return raw
}
