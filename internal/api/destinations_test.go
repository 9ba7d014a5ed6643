package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestProductionDestinationsMustUseHTTPS(t *testing.T) {
	h := servertest.Start(t, func(s *servertest.Settings) { s.Config.ProductionHTTPSOnly = true })
	h.Tenant("acme")
	r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/endpoints", Tenant: "acme", Env: "production", Body: map[string]string{"url": "http://127.0.0.1:9/x"}})
	if !strings.Contains(string(r.Body), "body.url") || !strings.Contains(string(r.Body), "https") {
		t.Fatalf("answer: %s", r.Body)
	}
	h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/endpoints", Tenant: "acme", Env: "production", Body: map[string]string{"url": "https://127.0.0.1:9/x"}})
	h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/endpoints", Tenant: "acme", Env: "sandbox", Body: map[string]string{"url": "http://127.0.0.1:9/x"}})
	h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "production",
		Body: map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]string{"id": "j", "callback_url": "http://127.0.0.1:9/j"}}})
}

func TestEgressAddressesArePublished(t *testing.T) {
	h := servertest.Start(t, func(s *servertest.Settings) {
		s.Config.EgressIPs = []string{"203.0.113.7", "203.0.113.8"}
	})
	h.Tenant("acme")
	key := h.APIKey("acme", "sandbox")
	var got struct {
		IPs []string `json:"ips"`
	}
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/egress-ips", Token: &key}).JSON(t, &got)
	if len(got.IPs) != 2 || got.IPs[0] != "203.0.113.7" {
		t.Fatalf("egress ips = %+v", got)
	}
}

func TestBadReceiverOptionsAreRefusedWithTheField(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	cases := map[string]any{
		"body.auth.password":            map[string]any{"url": "http://127.0.0.1:9/x", "auth": map[string]string{"type": "basic", "username": "u"}},
		"body.auth.token_url":           map[string]any{"url": "http://127.0.0.1:9/x", "auth": map[string]string{"type": "oauth2_client_credentials", "token_url": "ftp://x", "client_id": "a", "client_secret": "b"}},
		"body.tls.client_certificate":   map[string]any{"url": "http://127.0.0.1:9/x", "tls": map[string]string{"client_certificate": "nope", "client_key": "nope"}},
		"body.compat_signature.header":  map[string]any{"url": "http://127.0.0.1:9/x", "compat_signature": map[string]string{"kind": "hmac-sha256-hex"}},
		"body.compat_signature.api_key": map[string]any{"url": "http://127.0.0.1:9/x", "compat_signature": map[string]string{"kind": "body-api-key", "field": "k"}},
		"body.payload_mode":             map[string]any{"url": "http://127.0.0.1:9/x", "payload_mode": "fat"},
		"body.signing":                  map[string]any{"url": "http://127.0.0.1:9/x", "signing": "rsa"},
	}
	for loc, body := range cases {
		r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/endpoints", Tenant: "acme", Env: "sandbox", Body: body})
		if !strings.Contains(string(r.Body), `"location":"`+loc) {
			t.Errorf("%s: %s", loc, r.Body)
		}
	}
}
