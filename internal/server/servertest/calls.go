package servertest

import (
	"net/http"
	"strings"
	"testing"
)

// At gives tests the calls of this package on a Herald already running at
// url (a process the test started, for example); stop, when not nil, is
// what Stop does.
func At(t *testing.T, url string, stop func()) *Herald {
	if stop == nil {
		stop = func() {}
	}
	return &Herald{T: t, URL: url, stop: stop}
}

// Tenant creates a tenant, as the operator.
func (h *Herald) Tenant(id string) {
	h.T.Helper()
	h.Must(http.StatusCreated, Call{Method: "POST", Path: "/v1/tenants", Body: map[string]string{"id": id, "name": id + " Inc"}})
}

// CreatedEndpoint is the answer to creating an endpoint.
type CreatedEndpoint struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	Status string `json:"status"`
}

// Endpoint creates an endpoint in a tenant's environment, as the operator.
func (h *Herald) Endpoint(tenant, env string, body map[string]any) CreatedEndpoint {
	h.T.Helper()
	var e CreatedEndpoint
	h.Must(http.StatusCreated, Call{Method: "POST", Path: "/v1/endpoints", Tenant: tenant, Env: env, Body: body}).JSON(h.T, &e)
	return e
}

// Published is the answer to publishing one event.
type Published struct {
	ID         string `json:"id"`
	Deliveries int    `json:"deliveries"`
}

// Publish publishes one event in a tenant's environment, as the operator.
func (h *Herald) Publish(tenant, env string, body any) Published {
	h.T.Helper()
	var p Published
	h.Must(http.StatusAccepted, Call{Method: "POST", Path: "/v1/events", Tenant: tenant, Env: env, Body: body}).JSON(h.T, &p)
	return p
}

// APIKey issues a key for a tenant's environment, as the operator.
func (h *Herald) APIKey(tenant, env string) string {
	h.T.Helper()
	var k struct {
		Key    string `json:"key"`
		Prefix string `json:"prefix"`
	}
	h.Must(http.StatusCreated, Call{Method: "POST", Path: "/v1/tenants/" + tenant + "/api-keys", Body: map[string]string{"environment": env}}).JSON(h.T, &k)
	if !strings.HasPrefix(k.Key, "hk_"+env+"_") || !strings.HasPrefix(k.Key, k.Prefix) {
		h.T.Fatalf("key %q prefix %q", k.Key, k.Prefix)
	}
	return k.Key
}

// DeliveryView is a delivery as the API shows it.
type DeliveryView struct {
	ID           string `json:"id"`
	EventID      string `json:"event_id"`
	EndpointID   string `json:"endpoint_id"`
	Status       string `json:"status"`
	AttemptCount int    `json:"attempt_count"`
	Attempts     []struct {
		Number          int               `json:"number"`
		DurationMS      int64             `json:"duration_ms"`
		RequestHeaders  map[string]string `json:"request_headers"`
		ResponseStatus  int               `json:"response_status"`
		ResponseHeaders map[string]string `json:"response_headers"`
		ResponseBody    string            `json:"response_body"`
		ErrorClass      string            `json:"error_class"`
	} `json:"attempts"`
}

// Deliveries lists a scope's deliveries; query is the URL's query ("" or "?…").
func (h *Herald) Deliveries(tenant, env, query string) []DeliveryView {
	h.T.Helper()
	var l struct {
		Data []DeliveryView `json:"data"`
	}
	h.Must(http.StatusOK, Call{Method: "GET", Path: "/v1/deliveries" + query, Tenant: tenant, Env: env}).JSON(h.T, &l)
	return l.Data
}

// Delivery gets one delivery with its attempts.
func (h *Herald) Delivery(tenant, env, id string) DeliveryView {
	h.T.Helper()
	var d DeliveryView
	h.Must(http.StatusOK, Call{Method: "GET", Path: "/v1/deliveries/" + id, Tenant: tenant, Env: env}).JSON(h.T, &d)
	return d
}
