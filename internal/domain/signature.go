package domain

import "strings"

// Signature schemes: how a delivery proves where it comes from. Each is
// computed over the final body bytes.
const (
	// SchemeStandardWebhooks is the webhook-signature header (v1, or v1a
	// when the endpoint signs with ed25519). Every delivery carries it.
	SchemeStandardWebhooks = "standard-webhooks"
	// SchemeHMACHex is the lower-case hex HMAC-SHA256 of the body in a
	// header of the receiver's choosing.
	SchemeHMACHex = "hmac-sha256-hex"
	// SchemeBodySignature is Smile ID's: "timestamp" and "signature"
	// members appended to the body, the signature covering the timestamp
	// and the partner id, not the body.
	SchemeBodySignature = "body-signature"
	// SchemeBodyAPIKey puts the receiver's API key in a top-level member.
	SchemeBodyAPIKey = "body-api-key"
)

// Keys of hmac-sha256-hex.
const (
	// KeyWhsec keys the HMAC with the decoded bytes of the endpoint's
	// whsec_ secret.
	KeyWhsec = "whsec"
	// KeyText keys it with the UTF-8 bytes of the scheme's own secret, as
	// given: what Node's crypto.createHmac("sha256", secret) does.
	KeyText = "text"
)

// Positions of body-api-key's member.
const (
	PositionFirst = "first"
	PositionLast  = "last"
)

// Signature is one signature scheme of an endpoint and its settings.
// Its secrets are encrypted at rest and never shown.
type Signature struct {
	Scheme string `json:"scheme" enum:"standard-webhooks,hmac-sha256-hex,body-signature,body-api-key"`
	// Header carries the hex HMAC (hmac-sha256-hex).
	Header string `json:"header,omitempty" example:"X-SmartKYC-Signature" doc:"hmac-sha256-hex: the header that carries the hex HMAC-SHA256 of the body."`
	Key    string `json:"key,omitempty" enum:"whsec,text" doc:"hmac-sha256-hex: whsec (default) keys the HMAC with the decoded bytes of the endpoint's whsec_ secret; text keys it with secret, as given."`
	Secret string `json:"secret,omitempty" doc:"hmac-sha256-hex with key text: the HMAC key, used as UTF-8 text. Secret: write-only."`
	// PartnerID and APIKey make Smile ID's body signature.
	PartnerID string `json:"partner_id,omitempty" example:"085" doc:"body-signature: the partner id the signature covers (a string: it may have leading zeros)."`
	APIKey    string `json:"api_key,omitempty" doc:"body-signature: the HMAC key; body-api-key: the value of the member. Secret: write-only."`
	// Field and Position place body-api-key's member.
	Field    string `json:"field,omitempty" example:"callbackApiKey" doc:"body-api-key: the top-level member that carries api_key."`
	Position string `json:"position,omitempty" enum:"first,last" doc:"body-api-key: last (default) appends the member, first puts it right after the opening brace. Any other member of the same name is removed."`
}

// DefaultSignatures is what an endpoint that names none is signed with.
func DefaultSignatures() []Signature { return []Signature{{Scheme: SchemeStandardWebhooks}} }

// Validate checks one signature scheme; field is its place, such as
// "signatures[1]".
func (s *Signature) Validate(field string) error {
	need := func(name, v, why string) error {
		if strings.TrimSpace(v) == "" {
			return Invalid(field+"."+name, "is required for scheme %s: %s", s.Scheme, why)
		}
		// Signing with the mask would break every delivery while looking
		// saved: a list read back from the API must have its secrets given.
		if v == maskedCredentialValue {
			return Invalid(field+"."+name, "%s is how a stored secret is shown: give the secret itself", maskedCredentialValue)
		}
		if len(v) > maxCredentialLength {
			return Invalid(field+"."+name, "at most %d bytes", maxCredentialLength)
		}
		return nil
	}
	unused := func(names ...string) error {
		for _, n := range names {
			if s.get(n) != "" {
				return Invalid(field+"."+n, "is not a setting of scheme %s", s.Scheme)
			}
		}
		return nil
	}
	switch s.Scheme {
	case SchemeStandardWebhooks:
		return unused("header", "key", "secret", "partner_id", "api_key", "field", "position")
	case SchemeHMACHex:
		if err := ValidateHeaders(map[string]string{s.Header: "x"}); err != nil || s.Header == "" {
			return Invalid(field+".header", "a header name is required, e.g. X-Signature")
		}
		switch s.Key {
		case "", KeyWhsec:
			if err := unused("secret"); err != nil {
				return Invalid(field+".secret", "is used only with key text (key whsec uses the endpoint's secret)")
			}
		case KeyText:
			if err := need("secret", s.Secret, "the HMAC key, as text"); err != nil {
				return err
			}
		default:
			return Invalid(field+".key", "%q is not one of whsec, text", s.Key)
		}
		return unused("partner_id", "api_key", "field", "position")
	case SchemeBodySignature:
		if err := need("partner_id", s.PartnerID, "the partner id the signature covers"); err != nil {
			return err
		}
		if err := need("api_key", s.APIKey, "the key of the signature's HMAC"); err != nil {
			return err
		}
		return unused("header", "key", "secret", "field", "position")
	case SchemeBodyAPIKey:
		if s.Field == "" || len(s.Field) > 128 {
			return Invalid(field+".field", "a top-level field name is required, e.g. callbackApiKey")
		}
		if err := need("api_key", s.APIKey, "the receiver's API key"); err != nil {
			return err
		}
		if s.Position != "" && s.Position != PositionFirst && s.Position != PositionLast {
			return Invalid(field+".position", "%q is not one of first, last", s.Position)
		}
		return unused("header", "key", "secret", "partner_id")
	}
	return Invalid(field+".scheme", "%q is not one of standard-webhooks, hmac-sha256-hex, body-signature, body-api-key", s.Scheme)
}

func (s *Signature) get(name string) string {
	switch name {
	case "header":
		return s.Header
	case "key":
		return s.Key
	case "secret":
		return s.Secret
	case "partner_id":
		return s.PartnerID
	case "api_key":
		return s.APIKey
	case "field":
		return s.Field
	case "position":
		return s.Position
	}
	return ""
}

// maxSignatures bounds an endpoint's list.
const maxSignatures = 8

// NormalizeSignatures validates a list of schemes and returns it as it
// is kept: defaults filled in, and standard-webhooks first when the list
// leaves it out, since every delivery carries it.
func NormalizeSignatures(list []Signature) ([]Signature, error) {
	if len(list) > maxSignatures {
		return nil, Invalid("signatures", "at most %d schemes", maxSignatures)
	}
	out := make([]Signature, 0, len(list)+1)
	standard := false
	for i, s := range list {
		if err := s.Validate(fieldIndex("signatures", i)); err != nil {
			return nil, err
		}
		switch s.Scheme {
		case SchemeStandardWebhooks:
			if standard {
				return nil, Invalid(fieldIndex("signatures", i)+".scheme", "standard-webhooks is listed twice")
			}
			standard = true
		case SchemeHMACHex:
			if s.Key == "" {
				s.Key = KeyWhsec
			}
		case SchemeBodyAPIKey:
			if s.Position == "" {
				s.Position = PositionLast
			}
		case SchemeBodySignature:
			if bodySignatures(out) > 0 {
				return nil, Invalid(fieldIndex("signatures", i)+".scheme", "body-signature is listed twice: the body has one timestamp and one signature")
			}
		}
		out = append(out, s)
	}
	if !standard {
		out = append([]Signature{{Scheme: SchemeStandardWebhooks}}, out...)
	}
	return out, nil
}

func bodySignatures(list []Signature) int {
	n := 0
	for _, s := range list {
		if s.Scheme == SchemeBodySignature {
			n++
		}
	}
	return n
}

// ShownSignatures is the list as the API shows it: secrets masked.
func ShownSignatures(list []Signature) []Signature {
	out := make([]Signature, len(list))
	for i, s := range list {
		for _, f := range []*string{&s.Secret, &s.APIKey} {
			if *f != "" {
				*f = maskedCredentialValue
			}
		}
		out[i] = s
	}
	return out
}

// SignatureList returns the schemes that sign the endpoint's deliveries.
func (e *Endpoint) SignatureList() []Signature {
	if len(e.Signatures) == 0 {
		return DefaultSignatures()
	}
	return e.Signatures
}

// Signature is the older form of a compatibility signature, as a scheme
// of the list.
func (c *CompatSignature) Signature() Signature {
	if c.Kind == CompatBodyAPIKey {
		return Signature{Scheme: SchemeBodyAPIKey, Field: c.Field, APIKey: c.APIKey, Position: PositionLast}
	}
	return Signature{Scheme: SchemeHMACHex, Header: c.Header, Key: KeyWhsec}
}

// ApplyCompatSignature sets the endpoint's compatibility signature in its
// older form: c replaces every hmac-sha256-hex and body-api-key scheme of
// the list (nil removes them), the rest of the list staying as it is.
func (e *Endpoint) ApplyCompatSignature(c *CompatSignature) {
	list := make([]Signature, 0, len(e.SignatureList())+1)
	for _, s := range e.SignatureList() {
		if s.Scheme != SchemeHMACHex && s.Scheme != SchemeBodyAPIKey {
			list = append(list, s)
		}
	}
	if c != nil {
		list = append(list, c.Signature())
	}
	e.Signatures = list
}

// CompatSignatureOf is the list in the older form, when it has one: a
// single hmac-sha256-hex keyed with the whsec_ secret, or a single
// body-api-key appended last, beside standard-webhooks.
func CompatSignatureOf(list []Signature) *CompatSignature {
	var found *CompatSignature
	for _, s := range list {
		switch {
		case s.Scheme == SchemeStandardWebhooks:
			continue
		case found != nil:
			return nil
		case s.Scheme == SchemeHMACHex && s.Key == KeyWhsec:
			found = &CompatSignature{Kind: CompatHMACHex, Header: s.Header}
		case s.Scheme == SchemeBodyAPIKey && s.Position == PositionLast:
			found = &CompatSignature{Kind: CompatBodyAPIKey, Field: s.Field, APIKey: s.APIKey}
		default:
			return nil
		}
	}
	return found
}
