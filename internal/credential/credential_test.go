package credential

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/webhook"
)

func TestEveryCredentialSaysWhatItIsAndIsKeptAsItsHash(t *testing.T) {
	key, label, keyHash, err := NewAPIKey(domain.Production)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "hk_production_") || label != key[:len("hk_production_")+6] {
		t.Fatalf("API key %q, label %q", key, label)
	}
	for _, c := range []struct {
		prefix string
		mint   func() (string, []byte, error)
	}{
		{OperatorTokenPrefix, NewOperatorToken},
		{PortalTokenPrefix, NewPortalToken},
		{PortalSessionPrefix, NewPortalSession},
		{"hk_production_", func() (string, []byte, error) { return key, keyHash, nil }},
	} {
		v, hash, err := c.mint()
		if err != nil {
			t.Fatal(err)
		}
		again, _, _ := c.mint()
		sum := sha256.Sum256([]byte(v))
		if !strings.HasPrefix(v, c.prefix) || string(hash) != string(sum[:]) || string(Hash(v)) != string(sum[:]) {
			t.Errorf("%q: want the prefix %s and its SHA-256 as its hash", v, c.prefix)
		}
		if c.prefix != "hk_production_" && v == again {
			t.Errorf("%s: two credentials are the same", c.prefix)
		}
	}
}

func TestSigningSecretsAndKeysAreWhatReceiversLibrariesRead(t *testing.T) {
	secret, err := SigningSecret("")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, SigningSecretPrefix) {
		t.Fatalf("secret %q", secret)
	}
	if _, err := webhook.NewVerifier(secret); err != nil {
		t.Fatalf("a verifier refuses the secret: %v", err)
	}
	pub, priv, err := NewSigningKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webhook.ParsePublicKey(pub); err != nil {
		t.Fatalf("public key %q: %v", pub, err)
	}
	if _, err := webhook.ParsePrivateKey(priv); err != nil {
		t.Fatalf("private key: %v", err)
	}
}

func TestSigningSecretKeepsAGivenOneAndChecksIt(t *testing.T) {
	given := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	if got, err := SigningSecret(given); err != nil || got != given {
		t.Fatalf("SigningSecret(given) = %q, %v", got, err)
	}
	if got, err := SigningSecret(""); err != nil || !strings.HasPrefix(got, SigningSecretPrefix) || got == given {
		t.Fatalf("SigningSecret(\"\") = %q, %v", got, err)
	}
	for _, bad := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_***", "whsec_dGVzdA==", "whsec_" + strings.Repeat("A", 100)} {
		var ve *domain.ValidationError
		if _, err := SigningSecret(bad); !errors.As(err, &ve) || ve.Field != "secret" {
			t.Errorf("SigningSecret(%q) = %v, want a validation error naming secret", bad, err)
		}
	}
}
