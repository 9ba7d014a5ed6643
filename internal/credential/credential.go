// Package credential mints every secret Herald hands out: the operator
// token, tenants' API keys, the portal's sign-in tokens and session
// secrets, and endpoints' signing secrets and keys. Each kind starts with
// its own prefix, so a leaked string says what it is and which check it
// belongs to; Herald keeps only the SHA-256 of the bearer kinds.
package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/webhook"
)

// Prefixes of the credentials' text forms.
const (
	// OperatorTokenPrefix starts the operator token.
	OperatorTokenPrefix = "hop_"
	// APIKeyPrefix starts every API key; the environment follows, so a
	// key says where it works: hk_sandbox_… or hk_production_….
	APIKeyPrefix = "hk_"
	// PortalSessionPrefix starts a portal session's secret (the browser's
	// cookie).
	PortalSessionPrefix = "hps_"
	// PortalTokenPrefix starts the one-time token of a portal sign-in link.
	PortalTokenPrefix = "hpt_"
	// SigningSecretPrefix starts an endpoint's HMAC signing secret, in the
	// Standard Webhooks form receivers' libraries read.
	SigningSecretPrefix = webhook.SecretPrefix
)

// Random bytes in each bearer credential.
const (
	tokenSize  = 24 // operator token, API key
	portalSize = 32 // portal sign-in token and session secret
	// apiKeyShown is how many characters of the random part an API key's
	// label keeps, enough to tell a tenant's keys apart in a list.
	apiKeyShown = 6
)

// Hash is what Herald keeps of a bearer credential, and looks it up by.
func Hash(value string) []byte {
	sum := sha256.Sum256([]byte(value))
	return sum[:]
}

// newToken returns a bearer credential, shown once, and its hash.
func newToken(prefix string, size int) (string, []byte, error) {
	raw := make([]byte, size)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("mint %s credential: %w", prefix, err)
	}
	v := prefix + base64.RawURLEncoding.EncodeToString(raw)
	return v, Hash(v), nil
}

// NewOperatorToken mints the operator token.
func NewOperatorToken() (token string, hash []byte, err error) {
	return newToken(OperatorTokenPrefix, tokenSize)
}

// NewAPIKey mints an API key for an environment. label is the key's start,
// kept in clear so that lists can show which key is which.
func NewAPIKey(env domain.Environment) (key, label string, hash []byte, err error) {
	p := APIKeyPrefix + string(env) + "_"
	if key, hash, err = newToken(p, tokenSize); err != nil {
		return "", "", nil, err
	}
	return key, key[:len(p)+apiKeyShown], hash, nil
}

// NewPortalToken mints the one-time token of a portal sign-in link.
func NewPortalToken() (token string, hash []byte, err error) {
	return newToken(PortalTokenPrefix, portalSize)
}

// NewPortalSession mints a portal session's secret.
func NewPortalSession() (secret string, hash []byte, err error) {
	return newToken(PortalSessionPrefix, portalSize)
}

// Sizes of a given signing secret, in decoded bytes: the Standard Webhooks
// specification's range.
const (
	minGivenSecret = 24
	maxGivenSecret = 64
)

// SigningSecret is the signing secret of a new endpoint or a rotation:
// given, once checked, when the caller brings one (a platform that moves to
// Herald keeps the secrets its customers' receivers already hold), and a
// new one (whsec_…) otherwise.
func SigningSecret(given string) (string, error) {
	if given == "" {
		return webhook.NewSecret()
	}
	rest, ok := strings.CutPrefix(given, SigningSecretPrefix)
	if !ok {
		return "", domain.Invalid("secret", "must start with %s, then the standard base64 of the key", SigningSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", domain.Invalid("secret", "what follows %s is not standard base64 (with = padding)", SigningSecretPrefix)
	}
	if len(key) < minGivenSecret || len(key) > maxGivenSecret {
		return "", domain.Invalid("secret", "the key is %d bytes; it must be %d to %d", len(key), minGivenSecret, maxGivenSecret)
	}
	return given, nil
}

// NewSigningKeyPair mints an endpoint's ed25519 signing keys: the public
// key (whpk_…) for receivers, the private one (whsk_…) for Herald alone.
func NewSigningKeyPair() (public, private string, err error) { return webhook.NewKeyPair() }
