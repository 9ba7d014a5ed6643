package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// "****" is how the API shows a stored auth secret or client key. Written
// back, it keeps the stored value where that value still applies (the same
// auth type, and for OAuth2 the same token URL; any stored client key) and
// is a 422 naming the field elsewhere, with nothing changed: never saved as
// the secret.
func TestAMaskedAuthSecretOrClientKeyKeepsTheStoredOneOrIsRefused(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")

		tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, secret, _ := r.BasicAuth(); id != "herald" || secret != "oauth-secret-1" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`))
		}))
		defer tokens.Close()
		ca := newE2ECA(t)
		rc := ca.receiver(t)
		rc.Respond(func(_ int, r *http.Request) int {
			if u, p, _ := r.BasicAuth(); (u != "user-2" || p != "pw-1") && r.Header.Get("Authorization") != "Bearer at-1" {
				return http.StatusUnauthorized
			}
			return http.StatusOK
		})
		cert, key := ca.issue(t, "herald-client", true)
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL,
			Auth: &client.EndpointAuth{Type: client.AuthBasic, Username: "user-1", Password: "pw-1"},
			TLS:  &client.EndpointTLS{ClientCertificate: cert, ClientKey: key, CABundle: ca.pem}})
		sends := func(what string) {
			t.Helper()
			got := servertest.Must(sc.TestEndpoint(t.Context(), ep.ID, &client.TestSend{EventType: "webhook.test"}))(t)
			if got.Status != client.DeliverySucceeded {
				t.Fatalf("%s: the test send %+v", what, got)
			}
			rc.Next(5 * time.Second)
		}

		// Read back and written back with the user name changed: the stored
		// password and client key are kept, and the receiver takes them.
		read := servertest.Must(sc.GetEndpoint(t.Context(), ep.ID))(t)
		if read.Auth.Password != "****" || read.TLS.ClientKey != "****" {
			t.Fatalf("read back: auth %+v tls %+v", read.Auth, read.TLS)
		}
		read.Auth.Username = "user-2"
		servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Auth: read.Auth, TLS: read.TLS}))(t)
		sends("basic auth and client key kept")

		// Where nothing stored applies, the mask is refused naming the field.
		for field, in := range map[string]*client.EndpointUpdate{
			"body.auth.token": {Auth: &client.EndpointAuth{Type: client.AuthBearer, Token: "****"}},
			"body.auth.client_secret": {Auth: &client.EndpointAuth{Type: client.AuthOAuth2, TokenURL: tokens.URL,
				ClientID: "herald", ClientSecret: "****"}},
			"body.compat_signature.api_key": {CompatSignature: &client.CompatSignature{Kind: "body-api-key", Field: "k", APIKey: "****"}},
		} {
			_, err := sc.UpdateEndpoint(t.Context(), ep.ID, in)
			wantInvalid(t, err, field)
		}
		_, err := sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: rc.URL, TLS: &client.EndpointTLS{ClientCertificate: cert, ClientKey: "****"}})
		wantInvalid(t, err, "body.tls.client_key")
		_, err = sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: rc.URL, Auth: &client.EndpointAuth{Type: client.AuthBasic, Username: "u", Password: "****"}})
		wantInvalid(t, err, "body.auth.password")
		if after := servertest.Must(sc.GetEndpoint(t.Context(), ep.ID))(t); after.Auth.Type != client.AuthBasic || after.Auth.Username != "user-2" || len(after.Signatures) != 1 {
			t.Fatalf("a refused update changed the endpoint: %+v", after)
		}
		sends("after the refusals")

		// OAuth2: the client secret is kept with the same token URL only,
		// since it is sent there.
		oauth := &client.EndpointAuth{Type: client.AuthOAuth2, TokenURL: tokens.URL + "/token", ClientID: "herald", ClientSecret: "oauth-secret-1"}
		servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Auth: oauth}))(t)
		read = servertest.Must(sc.GetEndpoint(t.Context(), ep.ID))(t)
		read.Auth.Scope = "callbacks"
		servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Auth: read.Auth}))(t)
		sends("OAuth2 client secret kept")
		read.Auth.TokenURL = tokens.URL + "/elsewhere"
		_, err = sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Auth: read.Auth})
		wantInvalid(t, err, "body.auth.client_secret")
	})
}
