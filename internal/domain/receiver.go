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

// Validate checks an auth configuration.
func (a *EndpointAuth) Validate() error {
	req := func(field, v string) error {
		if strings.TrimSpace(v) == "" {
			return Invalid("auth."+field, "is required for auth type %s", a.Type)
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
	for _, f := range []*string{&c.Password, &c.Token, &c.Value, &c.ClientSecret} {
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

// Validate checks the PEM sizes; the TLS layer parses them.
func (t *EndpointTLS) Validate() error {
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
