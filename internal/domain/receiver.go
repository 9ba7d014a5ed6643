package domain

import (
	"net/url"
	"strings"
)

// Payload modes: what the body of a delivery holds.
const (
	// PayloadEnvelope is the full envelope (DESIGN.md's wire format).
	PayloadEnvelope = "envelope"
	// PayloadRaw is the event's data alone, for receivers built to an older flat format.
	PayloadRaw = "raw"
	// PayloadThin is the envelope without data: no personal data in transit;
	// the receiver fetches it with GET /v1/events/{id}.
	PayloadThin = "thin"
)

// Signing schemes of the Standard Webhooks signature.
const (
	SigningHMAC    = "hmac"
	SigningEd25519 = "ed25519"
)

// Auth types towards the receiver.
const (
	AuthBasic             = "basic"
	AuthBearer            = "bearer"
	AuthHeader            = "header"
	AuthOAuth2            = "oauth2_client_credentials"
	CompatHMACHex         = "hmac-sha256-hex"
	CompatBodyAPIKey      = "body-api-key"
	maxCredentialLength   = 4096
	maxCertificateLength  = 64 << 10
	maskedCredentialValue = "****"
)

// EndpointAuth is how Herald authenticates to a receiver, beyond the
// signature. Its secret fields are encrypted at rest and never shown.
type EndpointAuth struct {
	Type string `json:"type" enum:"basic,bearer,header,oauth2_client_credentials,none"`
	// basic
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty" doc:"Secret: write-only."`
	// bearer
	Token string `json:"token,omitempty" doc:"Secret: write-only."`
	// header
	Name  string `json:"name,omitempty" doc:"The header's name, for type header."`
	Value string `json:"value,omitempty" doc:"Secret: write-only."`
	// oauth2_client_credentials
	TokenURL     string `json:"token_url,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty" doc:"Secret: write-only."`
	Scope        string `json:"scope,omitempty"`
	Audience     string `json:"audience,omitempty"`
	// BasicEncoding is how the client id and secret go into the token
	// request's Basic header. RFC 6749 form-encodes them first; some
	// receivers (Incode) decode plain base64(id:secret), which differs
	// for secrets with + / = : @ or %.
	BasicEncoding string `json:"basic_encoding,omitempty" enum:"form,raw" doc:"oauth2_client_credentials: form (default, RFC 6749: the id and secret are form-encoded before base64) or raw (base64 of id:secret as they are, as Incode's token endpoint expects)."`
}

// Basic encodings of an OAuth2 token request's client credentials.
const (
	BasicEncodingForm = "form"
	BasicEncodingRaw  = "raw"
)

// EndpointTLS is mutual TLS towards the receiver and, optionally, the CA
// that signed the receiver's certificate. The key is secret.
type EndpointTLS struct {
	ClientCertificate string `json:"client_certificate,omitempty" doc:"PEM certificate chain presented to the receiver."`
	ClientKey         string `json:"client_key,omitempty" doc:"PEM private key of the client certificate. Secret: write-only."`
	CABundle          string `json:"ca_bundle,omitempty" doc:"PEM CA certificates that the receiver's certificate must chain to, instead of the system's."`
}

// CompatSignature serves receivers built to an older scheme, on top of the
// Standard Webhooks headers (always sent).
type CompatSignature struct {
	Kind string `json:"kind" enum:"hmac-sha256-hex,body-api-key,none"`
	// Header carries the hex HMAC-SHA256 of the body, keyed with the
	// endpoint's secret (hmac-sha256-hex).
	Header string `json:"header,omitempty" example:"X-SmartKYC-Signature"`
	// Field is the top-level body field that carries APIKey (body-api-key).
	Field  string `json:"field,omitempty" example:"callbackApiKey"`
	APIKey string `json:"api_key,omitempty" doc:"The receiver's API key, for body-api-key. Secret: write-only."`
}

// secrets are a's write-only fields by name.
func (a *EndpointAuth) secrets() map[string]*string {
	return map[string]*string{"password": &a.Password, "token": &a.Token, "value": &a.Value, "client_secret": &a.ClientSecret}
}

// KeepStored puts the stored auth's secrets back where a gives them as
// "****" (as the API shows them), so that an auth read back can be written
// back with its other settings changed. Only a stored auth of the same type
// keeps them, and for OAuth2 only with the same token URL, since the client
// secret is sent there; elsewhere the mask stays, and Validate refuses it.
func (a *EndpointAuth) KeepStored(stored *EndpointAuth) {
	if stored == nil || stored.Type != a.Type || a.Type == AuthOAuth2 && a.TokenURL != stored.TokenURL {
		return
	}
	kept := stored.secrets()
	for name, v := range a.secrets() {
		if *v == maskedCredentialValue && *kept[name] != "" {
			*v = *kept[name]
		}
	}
}

// Validate checks an auth configuration.
func (a *EndpointAuth) Validate() error {
	secrets := a.secrets()
	req := func(field, v string) error {
		if strings.TrimSpace(v) == "" {
			return Invalid("auth."+field, "is required for auth type %s", a.Type)
		}
		// Sending the mask would fail every delivery while looking saved.
		if _, secret := secrets[field]; secret && v == maskedCredentialValue {
			return Invalid("auth."+field, "%s is how a stored secret is shown; it keeps the stored one only for the same auth type (and OAuth2 token URL): give the secret itself", maskedCredentialValue)
		}
		if len(v) > maxCredentialLength {
			return Invalid("auth."+field, "at most %d bytes", maxCredentialLength)
		}
		return nil
	}
	switch a.Type {
	case AuthBasic:
		if err := req("username", a.Username); err != nil {
			return err
		}
		if strings.Contains(a.Username, ":") {
			return Invalid("auth.username", "must not contain ':' (HTTP basic auth)")
		}
		return req("password", a.Password)
	case AuthBearer:
		return req("token", a.Token)
	case AuthHeader:
		if err := req("name", a.Name); err != nil {
			return err
		}
		if err := ValidateHeaders(map[string]string{a.Name: a.Value}); err != nil {
			return Invalid("auth.name", "%v", err)
		}
		return req("value", a.Value)
	case AuthOAuth2:
		for _, f := range [][2]string{{"token_url", a.TokenURL}, {"client_id", a.ClientID}, {"client_secret", a.ClientSecret}} {
			if err := req(f[0], f[1]); err != nil {
				return err
			}
		}
		if u, err := url.Parse(a.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Invalid("auth.token_url", "%q is not an http(s) URL", a.TokenURL)
		}
		if a.BasicEncoding != "" && a.BasicEncoding != BasicEncodingForm && a.BasicEncoding != BasicEncodingRaw {
			return Invalid("auth.basic_encoding", "%q is not one of form, raw", a.BasicEncoding)
		}
		return nil
	}
	return Invalid("auth.type", "%q is not one of basic, bearer, header, oauth2_client_credentials", a.Type)
}

// Shown is the auth as the API shows it: secrets masked.
func (a *EndpointAuth) Shown() *EndpointAuth {
	if a == nil {
		return nil
	}
	c := *a
	for _, f := range c.secrets() {
		if *f != "" {
			*f = maskedCredentialValue
		}
	}
	return &c
}

// Validate checks a compatibility signature.
func (c *CompatSignature) Validate() error {
	switch c.Kind {
	case CompatHMACHex:
		if err := ValidateHeaders(map[string]string{c.Header: "x"}); err != nil || c.Header == "" {
			return Invalid("compat_signature.header", "a header name is required, e.g. X-Signature")
		}
		return nil
	case CompatBodyAPIKey:
		if c.Field == "" || len(c.Field) > 128 {
			return Invalid("compat_signature.field", "a top-level field name is required, e.g. callbackApiKey")
		}
		if c.APIKey == "" || len(c.APIKey) > maxCredentialLength {
			return Invalid("compat_signature.api_key", "the receiver's API key is required")
		}
		// As for signatures[].api_key: what was read back must have its
		// secret given again.
		if c.APIKey == maskedCredentialValue {
			return Invalid("compat_signature.api_key", "%s is how a stored secret is shown: give the secret itself", maskedCredentialValue)
		}
		return nil
	}
	return Invalid("compat_signature.kind", "%q is not one of hmac-sha256-hex, body-api-key", c.Kind)
}

// Shown is the compatibility signature as the API shows it.
func (c *CompatSignature) Shown() *CompatSignature {
	if c == nil {
		return nil
	}
	s := *c
	if s.APIKey != "" {
		s.APIKey = maskedCredentialValue
	}
	return &s
}

// KeepStored puts the stored client key back when t gives it as "****"
// (as the API shows it), so that a renewed certificate of the same key, or
// a new CA bundle, needs no key; the TLS layer then checks that the key is
// the certificate's. Without a stored key the mask stays, and Validate
// refuses it.
func (t *EndpointTLS) KeepStored(stored *EndpointTLS) {
	if t.ClientKey == maskedCredentialValue && stored != nil && stored.ClientKey != "" {
		t.ClientKey = stored.ClientKey
	}
}

// Validate checks the PEM sizes; the TLS layer parses them.
func (t *EndpointTLS) Validate() error {
	if t.ClientKey == maskedCredentialValue {
		return Invalid("tls.client_key", "%s is how a stored key is shown, and none is stored: give the PEM key", maskedCredentialValue)
	}
	if (t.ClientCertificate == "") != (t.ClientKey == "") {
		return Invalid("tls.client_key", "a client certificate and its key go together")
	}
	for f, v := range map[string]string{"client_certificate": t.ClientCertificate, "client_key": t.ClientKey, "ca_bundle": t.CABundle} {
		if len(v) > maxCertificateLength {
			return Invalid("tls."+f, "at most %d bytes", maxCertificateLength)
		}
	}
	return nil
}

// Shown is the TLS configuration as the API shows it.
func (t *EndpointTLS) Shown() *EndpointTLS {
	if t == nil {
		return nil
	}
	c := *t
	if c.ClientKey != "" {
		c.ClientKey = maskedCredentialValue
	}
	return &c
}
