package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// selfSigned makes a PEM certificate and key for client-certificate fields.
func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
}

// The database file holds no secret in clear: signing secrets, passwords,
// tokens, client keys and compatibility keys are all sealed, and the API
// shows them only when they are made.
func TestTheDatabaseFileHoldsNoSecretInClear(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "herald.db")
	h := startHerald(t, func(c *serveCmd) {
		c.Database = db
		c.masterKeyFlags = masterKeyFlags{} // the key file beside the database
	})
	h.Tenant("acme")
	certPEM, keyPEM := selfSigned(t)
	secretsInUse := []string{"basic-pa55word-xyz", "oauth-client-secret-xyz", "compat-api-key-xyz", "header-value-xyz", "custom-header-api-key-xyz"}
	e1 := h.Endpoint("acme", "sandbox", client.EndpointCreate{
		URL:             "http://127.0.0.1:9/hook",
		Auth:            &client.EndpointAuth{Type: client.AuthBasic, Username: "u", Password: secretsInUse[0]},
		TLS:             &client.EndpointTLS{ClientCertificate: certPEM, ClientKey: keyPEM},
		CompatSignature: &client.CompatSignature{Kind: client.CompatBodyAPIKey, Field: "callbackApiKey", APIKey: secretsInUse[2]},
		Signing:         "ed25519",
	})
	e2 := h.Endpoint("acme", "sandbox", client.EndpointCreate{
		URL:  "http://127.0.0.1:9/hook",
		Auth: &client.EndpointAuth{Type: client.AuthOAuth2, TokenURL: "http://127.0.0.1:9/token", ClientID: "cid", ClientSecret: secretsInUse[1]},
	})
	e3 := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "http://127.0.0.1:9/hook", Auth: &client.EndpointAuth{Type: client.AuthHeader, Name: "X-Key", Value: secretsInUse[3]},
		Headers: map[string]string{"X-Api-Key": secretsInUse[4]}})
	sc := h.As("acme", "sandbox")
	rot := servertest.Must(sc.RotateEndpointSecret(t.Context(), e3.ID, nil))(t)

	// The API never shows them again: raw, no field of the answer, known to
	// the client or not, may hold one.
	for _, id := range []string{e1.ID, e2.ID, e3.ID} {
		body := string(h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints/" + id, Tenant: "acme", Env: "sandbox"}).Body)
		for _, s := range append([]string{e1.Secret, e2.Secret, e3.Secret, rot.Secret, "PRIVATE KEY"}, secretsInUse...) {
			if strings.Contains(body, s) {
				t.Fatalf("GET endpoint %s shows a secret: %s", id, body)
			}
		}
	}
	if shown := servertest.Must(sc.GetEndpoint(t.Context(), e1.ID))(t); !strings.HasPrefix(shown.SigningPublicKey, "whpk_") {
		t.Fatalf("public key = %q", shown.SigningPublicKey)
	}
	h.Stop()

	files, _ := filepath.Glob(db + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	key, err := os.ReadFile(filepath.Join(dir, "herald.key"))
	if err != nil {
		t.Fatalf("the master key file was not created: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "herald.key")); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	needles := append([]string{e1.Secret, e2.Secret, e3.Secret, rot.Secret, strings.TrimPrefix(e1.Secret, "whsec_"), "PRIVATE KEY", "whsk_"}, secretsInUse...)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if bytes.Contains(raw, []byte(n)) {
				t.Fatalf("%s holds %q in clear", filepath.Base(f), n)
			}
		}
		if bytes.Contains(raw, bytes.TrimSpace(key)) {
			t.Fatalf("%s holds the master key", filepath.Base(f))
		}
	}

	// Another key cannot start on this database.
	other := startHeraldErr(t, func(c *serveCmd) {
		c.Database = db
		c.masterKeyFlags = masterKeyFlags{MasterKey: strings.Repeat("A", 43) + "="}
	})
	if other == nil || !strings.Contains(other.Error(), "master key") {
		t.Fatalf("start with the wrong key: %v", other)
	}
}

// herald rotate-master-key re-encrypts every secret under a new key; the
// signing secrets still sign the same after it, and the old key is refused.
func TestRotateMasterKeyReencryptsEverySecret(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	rc := servertest.NewReceiver(t)
	first := startProcess(t, db, "--operator-token", servertest.Token)
	first.Tenant("acme")
	ep := first.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Auth: &client.EndpointAuth{Type: client.AuthBearer, Token: "tok-abcdefghijklmnop"}})
	rc.Trust(ep.Secret)
	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	if err := first.wait(t, 20*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	keyFile := filepath.Join(filepath.Dir(db), "herald.key")
	oldKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(heraldBinary(t), "rotate-master-key", "--database", db).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "re-encrypted the secrets of 1 endpoints") {
		t.Fatalf("rotate-master-key: %v\n%s", err, out)
	}
	newKey, _ := os.ReadFile(keyFile)
	if bytes.Equal(oldKey, newKey) {
		t.Fatal("the key file still holds the old key")
	}
	// The old key no longer opens the database.
	old := exec.Command(heraldBinary(t), "serve", "--database", db, "--listen", "127.0.0.1:0", "--master-key", strings.TrimSpace(string(oldKey)))
	if out, err := old.CombinedOutput(); err == nil || !strings.Contains(string(out), "master key") {
		t.Fatalf("start with the old key: %v\n%s", err, out)
	}
	again := startProcess(t, db)
	again.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
	got := rc.Next(5 * time.Second)
	if got.Valid != nil || got.Header.Get("Authorization") != "Bearer tok-abcdefghijklmnop" {
		t.Fatalf("after the rotation: %v, auth %q", got.Valid, got.Header.Get("Authorization"))
	}
}
