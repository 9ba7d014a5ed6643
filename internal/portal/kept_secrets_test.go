package portal_test

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The edit form never shows a stored auth secret or client key, and never
// sends "****" as a new one: a secret left empty on the stored auth type,
// or a key left empty beside the stored certificate, is kept by the API;
// where nothing stored applies (an OAuth2 token URL changed) the API's
// refusal is shown on the form and nothing is saved.
func TestPortalEditKeepsStoredAuthSecretsAndClientKey(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	rc := servertest.NewTLSReceiver(t, &tls.Config{ClientAuth: tls.RequireAnyClientCert})
	rc.Respond(func(_ int, r *http.Request) int {
		if u, p, _ := r.BasicAuth(); u != "user-2" || p != "pw-1" {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	receiverCA := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.Certificate().Raw}))
	cert, key := clientCertificate(t)
	api := h.As("acme", "sandbox")
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL,
		Auth: &client.EndpointAuth{Type: client.AuthBasic, Username: "user-1", Password: "pw-1"},
		TLS:  &client.EndpointTLS{ClientCertificate: cert, ClientKey: key, CABundle: receiverCA}})

	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	edit := b.get("/portal/endpoints/" + ep.ID + "/edit")
	if strings.Contains(edit.Body, "****") {
		t.Fatalf("the edit form shows a mask to send back: %s", edit.Body)
	}
	another, _ := clientCertificate(t)
	form := url.Values{"csrf": {csrfPattern.FindStringSubmatch(edit.Body)[1]}, "url": {rc.URL}, "profile": {"standard"},
		"event_types_profile": {"on"}, "retry_preset": {"profile"}, "success": {"profile"}, "success_false_fails": {"profile"},
		"identical_retries": {"profile"}, "payload_mode": {"envelope"}, "signing": {"hmac"}, "timeout_ms": {"15000"},
		"auth_type": {"basic"}, "auth_username": {"user-2"}, "auth_password": {""},
		"tls_certificate": {cert}, "tls_key": {""}, "tls_ca": {receiverCA + "\n" + another}}
	if p := b.post("/portal/endpoints/"+ep.ID, form); p.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.Status, p.Body)
	}
	got := servertest.Must(api.GetEndpoint(t.Context(), ep.ID))(t)
	if got.Auth.Username != "user-2" || got.Auth.Password != "****" || !strings.Contains(got.TLS.CABundle, strings.TrimSpace(another)) {
		t.Fatalf("after edit: auth %+v tls %+v", got.Auth, got.TLS)
	}
	// The receiver takes user-2 with the kept password, over the kept key.
	sent := servertest.Must(api.TestEndpoint(t.Context(), ep.ID, &client.TestSend{EventType: "webhook.test"}))(t)
	if arrived := rc.Next(5 * time.Second); sent.Status != client.DeliverySucceeded || arrived.TLS == nil || len(arrived.TLS.PeerCertificates) == 0 {
		t.Fatalf("test send with the kept secrets: %+v", sent)
	}

	// OAuth2 stored, then its token URL changed with the secret left empty:
	// refused on the form, nothing saved.
	servertest.Must(api.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Auth: &client.EndpointAuth{Type: client.AuthOAuth2,
		TokenURL: "https://auth.example/token", ClientID: "herald", ClientSecret: "oauth-secret"}}))(t)
	form.Set("csrf", csrfPattern.FindStringSubmatch(b.get("/portal/endpoints/" + ep.ID + "/edit").Body)[1])
	form.Set("auth_type", client.AuthOAuth2)
	form.Set("auth_token_url", "https://elsewhere.example/token")
	form.Set("auth_client_id", "herald")
	form.Set("auth_client_secret", "")
	if p := b.post("/portal/endpoints/"+ep.ID, form); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `id="auth-error">auth.client_secret`) ||
		strings.Contains(p.Body, `value="****"`) {
		t.Fatalf("a changed token URL with the secret left empty: %d %s", p.Status, p.Body)
	}
	if got := servertest.Must(api.GetEndpoint(t.Context(), ep.ID))(t); got.Auth.TokenURL != "https://auth.example/token" {
		t.Fatalf("a refused edit changed the auth: %+v", got.Auth)
	}
}
