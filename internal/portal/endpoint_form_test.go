package portal_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// clientCertificate is a self-signed client certificate and its key, in PEM.
func clientCertificate(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// smartKYCSignature is Smart KYC's published check: the hex HMAC-SHA256 of
// the raw body keyed with the API secret as text.
func smartKYCSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

var previewBody = regexp.MustCompile(`(?s)<pre id="preview-body">(.*?)</pre>`)

func TestPortalEndpointFormTakesAProfilePreviewsAndEditsReceiverSettings(t *testing.T) {
	h := servertest.Start(t)
	catalog(h)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	b := newBrowserClient(t, h.URL)
	b.signIn(portalLink(h, "acme", "sandbox", ""))
	newForm := b.get("/portal/endpoints/new")
	if !strings.Contains(newForm.Body, `<option value="smart-kyc"`) || !strings.Contains(newForm.Body, `name="po.smart-kyc.api_secret" type="password"`) {
		t.Fatalf("the form offers no smart-kyc profile with a secret api_secret: %s", newForm.Body)
	}
	token := csrfPattern.FindStringSubmatch(newForm.Body)[1]
	form := url.Values{"csrf": {token}, "url": {rc.URL + "/kyc"}, "profile": {"smart-kyc"}, "po.smart-kyc.api_secret": {"s3cret"},
		"po.smile-id.api_key": {"another profile's: not sent"}, "event_types_profile": {"on"}, "retry_preset": {"profile"},
		"success": {"profile"}, "success_false_fails": {"profile"}, "identical_retries": {"profile"}, "payload_mode": {"envelope"},
		"signing": {"hmac"}, "auth_type": {"none"}, "timeout_ms": {"15000"}, "preview_type": {"verification.approved"}}

	// The preview: the body and the headers the profile would send; nothing saved.
	preview := url.Values{"action": {"preview"}}
	for k, v := range form {
		preview[k] = v
	}
	p := b.post("/portal/endpoints", preview)
	m := previewBody.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil {
		t.Fatalf("preview: %d %s", p.Status, p.Body)
	}
	body := html.UnescapeString(m[1])
	if !strings.HasPrefix(body, `{"event":"submission.approved"`) || !strings.Contains(html.UnescapeString(p.Body), "X-Smartkyc-Signature: "+smartKYCSignature("s3cret", []byte(body))) {
		t.Fatalf("preview body %s, page %s", body, p.Body)
	}
	if eps := servertest.Must(h.As("acme", "sandbox").ListEndpoints(t.Context(), nil))(t); len(eps.Data) != 0 {
		t.Fatalf("a preview saved an endpoint: %+v", eps.Data)
	}

	// Created: the profile supplies what the form left to it.
	if p := b.post("/portal/endpoints", form); p.Status != http.StatusOK || !strings.Contains(p.Body, "whsec_") {
		t.Fatalf("create: %d %s", p.Status, p.Body)
	}
	api := h.As("acme", "sandbox")
	e := servertest.Must(api.ListEndpoints(t.Context(), nil))(t).Data[0]
	if e.Profile != "smart-kyc" || string(e.ProfileOptions["api_secret"]) != `"****"` || !slices.Contains(e.ProfileFields, "signatures") ||
		!slices.Contains(e.ProfileFields, "event_types") || len(e.Signatures) != 2 || e.Signatures[1].Header != "X-SmartKYC-Signature" {
		t.Fatalf("created endpoint: %+v", e)
	}

	// Edit: the secret option shows as the API shows it, and left so, is kept.
	edit := b.get("/portal/endpoints/" + e.ID + "/edit")
	if !strings.Contains(edit.Body, `name="po.smart-kyc.api_secret" type="password" value="****"`) {
		t.Fatalf("edit form: %s", edit.Body)
	}
	form.Set("po.smart-kyc.api_secret", "****")
	form.Set("auth_type", "oauth2_client_credentials")
	form.Set("auth_token_url", "ftp://auth.example/token")
	form.Set("auth_client_id", "herald")
	form.Set("auth_client_secret", "client-s3cret")
	p = b.post("/portal/endpoints/"+e.ID, form)
	if p.Status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="auth-error">auth.token_url: [^<]*not an http`).MatchString(p.Body) {
		t.Fatalf("bad token URL: %d %s", p.Status, p.Body)
	}
	cert, key := clientCertificate(t)
	form.Set("auth_token_url", rc.URL+"/token")
	form.Set("tls_certificate", cert)
	form.Set("tls_key", "not a key")
	p = b.post("/portal/endpoints/"+e.ID, form)
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `id="tls-error">tls.client_key`) {
		t.Fatalf("bad client key: %d %s", p.Status, p.Body)
	}
	form.Set("tls_key", strings.ReplaceAll(key, "\n", "\r\n")) // as a browser sends a text area
	form.Set("signing", "ed25519")
	form.Set("success_false_fails", "yes")
	if p := b.post("/portal/endpoints/"+e.ID, form); p.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.Status, p.Body)
	}
	got := servertest.Must(api.GetEndpoint(t.Context(), e.ID))(t)
	if got.Auth == nil || got.Auth.Type != client.AuthOAuth2 || got.Auth.ClientSecret != "****" || got.TLS == nil ||
		got.TLS.ClientCertificate != strings.TrimSpace(cert) || got.TLS.ClientKey != "****" || got.Signing != "ed25519" ||
		got.SigningPublicKey == "" || !got.SuccessFalseFails || slices.Contains(got.ProfileFields, "success_false_fails") ||
		!slices.Contains(got.ProfileFields, "signatures") {
		t.Fatalf("after edit: %+v auth %+v tls %+v", got, got.Auth, got.TLS)
	}
	// The api_secret kept: the header still verifies with it.
	pv := servertest.Must(api.PreviewTransform(t.Context(), &client.PreviewRequest{EndpointID: e.ID,
		Event: &client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","score":0.5}`)}}))(t)
	if pv.Headers["X-Smartkyc-Signature"] != smartKYCSignature("s3cret", []byte(pv.Body)) {
		t.Fatalf("after edit the signature is %q over %s", pv.Headers["X-Smartkyc-Signature"], pv.Body)
	}
	page := b.get("/portal/endpoints/" + e.ID)
	if !strings.Contains(page.Body, "oauth2_client_credentials") || !strings.Contains(page.Body, "client certificate") || !strings.Contains(page.Body, "X-SmartKYC-Signature") {
		t.Fatalf("endpoint page: %s", page.Body)
	}
}
