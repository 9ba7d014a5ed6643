package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Endpoint orderings: OrderingJob delivers a job's events one at a time,
// in publish order.
const (
	OrderingNone = "none"
	OrderingJob  = "job"
)

// Endpoint statuses.
const (
	EndpointActive   = "active"
	EndpointPaused   = "paused"
	EndpointDisabled = "disabled"
)

// Endpoint is a receiver URL and how Herald delivers to it. Credentials
// (auth, TLS key, compatibility API key, secret-looking headers) come back
// masked.
type Endpoint struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenant_id"`
	Environment string `json:"environment"`
	URL         string `json:"url"`
	Name        string `json:"name,omitempty"`
	// Status is active, paused, or disabled (by Herald, DisabledReason says why).
	Status         string            `json:"status"`
	DisabledReason string            `json:"disabled_reason,omitempty"`
	EventTypes     []string          `json:"event_types"`
	Headers        map[string]string `json:"headers,omitempty"`
	RetryPolicy    RetryPolicy       `json:"retry_policy"`
	TimeoutMS      int               `json:"timeout_ms"`
	MaxConcurrency int               `json:"max_concurrency"`
	RateLimit      int               `json:"rate_limit"` // requests a second at most, all processes together; 0: none
	// Success is 2xx or json-or-204.
	Success         string `json:"success"`
	DefaultCallback bool   `json:"default_callback"`
	// PayloadMode is envelope, raw or thin.
	PayloadMode string `json:"payload_mode"`
	// Signing is hmac or ed25519; for ed25519, SigningPublicKey verifies.
	Signing          string        `json:"signing"`
	SigningPublicKey string        `json:"signing_public_key,omitempty"`
	Auth             *EndpointAuth `json:"auth,omitempty"`
	TLS              *EndpointTLS  `json:"tls,omitempty"`
	// CompatSignature is Signatures in their older form, when they have one.
	CompatSignature *CompatSignature `json:"compat_signature,omitempty"`
	// Signatures sign every delivery, each over the final body; secrets
	// come back as ****.
	Signatures []Signature `json:"signatures"`
	// SuccessFalseFails: a 200 whose JSON object body has "success": false
	// is a failure.
	SuccessFalseFails bool `json:"success_false_fails"`
	// IdenticalRetries: every automatic retry sends the first attempt's
	// bytes and headers.
	IdenticalRetries bool `json:"identical_retries"`
	// ThinPartnerParams keeps the job's partner params in a thin body.
	ThinPartnerParams bool `json:"thin_partner_params"`
	// Profile is the delivery profile (ListProfiles); ProfileOptions its
	// options, secret ones as ****.
	Profile        string                     `json:"profile"`
	ProfileOptions map[string]json.RawMessage `json:"profile_options"`
	// ProfileFields name the settings the profile supplies: no request set
	// them, and they follow the profile and its options.
	ProfileFields []string `json:"profile_fields"`
	// Transform is the body transform, a jq program; empty: none.
	Transform string `json:"transform"`
	// Ordering is none or job: a job's deliveries one at a time, in
	// publish order.
	Ordering string `json:"ordering"`
	// ResponseBody is what attempts keep of the receiver's answer: full,
	// headers or none.
	ResponseBody            string     `json:"response_body"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// EndpointWithSecret is a new endpoint with its signing secret, which is
// shown only once.
type EndpointWithSecret struct {
	Endpoint
	Secret string `json:"secret"`
}

// RetryPolicy is how long to wait before each retry.
type RetryPolicy struct {
	// Preset is default, standard-webhooks, once, none or fast; ignored
	// when Delays is set.
	Preset string `json:"preset,omitempty"`
	// Delays are the waits before each retry, as durations such as 5s, 10m, 2h.
	Delays []string `json:"delays,omitempty"`
}

// Auth types; AuthNone removes an endpoint's auth.
const (
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthHeader = "header"
	AuthOAuth2 = "oauth2_client_credentials"
	AuthNone   = "none"
)

// EndpointAuth is how Herald authenticates to the receiver. The secret
// fields are write-only: they come back as ****.
type EndpointAuth struct {
	Type string `json:"type"`
	// Basic.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Bearer.
	Token string `json:"token,omitempty"`
	// Header: a header named Name with the value Value.
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
	// OAuth2 client credentials.
	TokenURL     string `json:"token_url,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Scope        string `json:"scope,omitempty"`
	Audience     string `json:"audience,omitempty"`
	// BasicEncoding is form (RFC 6749, the default) or raw: base64 of
	// id:secret as they are, as Incode's token endpoint expects.
	BasicEncoding string `json:"basic_encoding,omitempty"`
}

// EndpointTLS is the client certificate (mutual TLS) and the CA of the
// receiver's certificate, in PEM. An empty EndpointTLS removes it.
type EndpointTLS struct {
	ClientCertificate string `json:"client_certificate,omitempty"`
	// ClientKey is write-only: it comes back as ****.
	ClientKey string `json:"client_key,omitempty"`
	CABundle  string `json:"ca_bundle,omitempty"`
}

// Compatibility signature kinds; CompatNone removes it.
const (
	CompatHMACHex    = "hmac-sha256-hex"
	CompatBodyAPIKey = "body-api-key"
	CompatNone       = "none"
)

// CompatSignature is an extra signature for receivers built to an older
// scheme: an HMAC-SHA256 hex of the body in Header, or the receiver's
// APIKey in the body's top-level Field.
type CompatSignature struct {
	Kind   string `json:"kind"`
	Header string `json:"header,omitempty"`
	Field  string `json:"field,omitempty"`
	// APIKey is write-only: it comes back as ****.
	APIKey string `json:"api_key,omitempty"`
}

// Signature schemes.
const (
	SchemeStandardWebhooks = "standard-webhooks"
	SchemeHMACHex          = "hmac-sha256-hex"
	SchemeBodySignature    = "body-signature"
	SchemeBodyAPIKey       = "body-api-key"
)

// Signature is one signature scheme of an endpoint.
type Signature struct {
	Scheme string `json:"scheme"`
	// hmac-sha256-hex: the header, and the key: whsec (the endpoint's
	// secret, the default) or text (Secret, as UTF-8 text).
	Header string `json:"header,omitempty"`
	Key    string `json:"key,omitempty"`
	// Secret is write-only: it comes back as ****.
	Secret string `json:"secret,omitempty"`
	// body-signature (Smile ID): the partner id and the API key.
	PartnerID string `json:"partner_id,omitempty"`
	// APIKey (body-signature, body-api-key) is write-only: it comes back
	// as ****.
	APIKey string `json:"api_key,omitempty"`
	// body-api-key: the member's name and its position, first or last
	// (the default).
	Field    string `json:"field,omitempty"`
	Position string `json:"position,omitempty"`
}

// EndpointCreate is a new endpoint; URL is required, and a field left
// zero (nil for the pointers) takes the profile's value or Herald's
// default. The numbers and yes/no settings are pointers so that an explicit
// 0 or false is sent: a false overrides a profile's true.
type EndpointCreate struct {
	URL  string `json:"url,omitempty"`
	Name string `json:"name,omitempty"`
	// Status paused holds deliveries until set active.
	Status string `json:"status,omitempty"`
	// EventTypes to deliver; empty means all; a trailing .* matches a prefix.
	// Each must be a registered event type or match one, unless
	// AllowUnregisteredTypes.
	EventTypes []string `json:"event_types,omitempty"`
	// AllowUnregisteredTypes saves EventTypes entries that name no
	// registered type (for this request only; not stored).
	AllowUnregisteredTypes bool `json:"allow_unregistered_types,omitempty"`
	// Headers are sent with every delivery.
	Headers         map[string]string `json:"headers,omitempty"`
	RetryPolicy     *RetryPolicy      `json:"retry_policy,omitempty"`
	TimeoutMS       *int              `json:"timeout_ms,omitempty"`
	MaxConcurrency  *int              `json:"max_concurrency,omitempty"`
	RateLimit       *int              `json:"rate_limit,omitempty"` // 0 to 10,000 requests a second; 0: none
	Success         string            `json:"success,omitempty"`
	DefaultCallback *bool             `json:"default_callback,omitempty"`
	PayloadMode     string            `json:"payload_mode,omitempty"`
	Signing         string            `json:"signing,omitempty"`
	Auth            *EndpointAuth     `json:"auth,omitempty"`
	TLS             *EndpointTLS      `json:"tls,omitempty"`
	CompatSignature *CompatSignature  `json:"compat_signature,omitempty"`
	// Signatures replace the default [standard-webhooks]; not together
	// with CompatSignature.
	Signatures        []Signature `json:"signatures,omitempty"`
	SuccessFalseFails *bool       `json:"success_false_fails,omitempty"`
	IdenticalRetries  *bool       `json:"identical_retries,omitempty"`
	ThinPartnerParams *bool       `json:"thin_partner_params,omitempty"`
	// Profile (default standard) supplies every setting above it sets that
	// this request leaves zero or nil; ProfileOptions are its options.
	Profile        string                     `json:"profile,omitempty"`
	ProfileOptions map[string]json.RawMessage `json:"profile_options,omitempty"`
	// Transform is a jq program whose one output, over the envelope, is
	// the body (docs/transforms.md); empty: none.
	Transform string `json:"transform,omitempty"`
	// Ordering is none (default) or job (OrderingJob).
	Ordering string `json:"ordering,omitempty"`
	// ResponseBody is full (default), headers or none.
	ResponseBody string `json:"response_body,omitempty"`
	// Secret is the signing secret when the receiver already holds one
	// (whsec_…); empty, Herald makes one.
	Secret string `json:"secret,omitempty"`
}

// EndpointUpdate changes the fields that are not nil (Ptr helps). A
// non-nil empty EventTypes subscribes to every type; a non-nil empty
// Headers removes the custom headers.
type EndpointUpdate struct {
	URL        *string  `json:"url,omitempty"`
	Name       *string  `json:"name,omitempty"`
	Status     *string  `json:"status,omitempty"`
	EventTypes []string `json:"event_types,omitzero"`
	// AllowUnregisteredTypes saves EventTypes entries that name no
	// registered type (for this request only; not stored).
	AllowUnregisteredTypes bool              `json:"allow_unregistered_types,omitempty"`
	Headers                map[string]string `json:"headers,omitzero"`
	RetryPolicy            *RetryPolicy      `json:"retry_policy,omitempty"`
	TimeoutMS              *int              `json:"timeout_ms,omitempty"`
	MaxConcurrency         *int              `json:"max_concurrency,omitempty"`
	RateLimit              *int              `json:"rate_limit,omitempty"`
	Success                *string           `json:"success,omitempty"`
	DefaultCallback        *bool             `json:"default_callback,omitempty"`
	PayloadMode            *string           `json:"payload_mode,omitempty"`
	Signing                *string           `json:"signing,omitempty"`
	Auth                   *EndpointAuth     `json:"auth,omitempty"`
	TLS                    *EndpointTLS      `json:"tls,omitempty"`
	CompatSignature        *CompatSignature  `json:"compat_signature,omitempty"`
	// Signatures, when not nil, replace the list whole (empty: the default).
	Signatures        []Signature `json:"signatures,omitzero"`
	SuccessFalseFails *bool       `json:"success_false_fails,omitempty"`
	IdenticalRetries  *bool       `json:"identical_retries,omitempty"`
	ThinPartnerParams *bool       `json:"thin_partner_params,omitempty"`
	// Profile, when changed, supplies every setting it sets that this
	// request leaves nil. ProfileOptions replace the options whole; a
	// secret option given as **** keeps its value.
	Profile        *string                    `json:"profile,omitempty"`
	ProfileOptions map[string]json.RawMessage `json:"profile_options,omitempty"`
	// Transform, when not nil, replaces the body transform; "" removes it.
	Transform *string `json:"transform,omitempty"`
	// Ordering, when not nil, is none or job; it applies to events
	// published after the change.
	Ordering *string `json:"ordering,omitempty"`
	// ResponseBody is full, headers or none.
	ResponseBody *string `json:"response_body,omitempty"`
}

var (
	createEndpoint = newRoute[none, EndpointCreate, EndpointWithSecret]("create-endpoint", http.MethodPost, "/v1/endpoints")
	listEndpoints  = newRoute[ListParams, none, List[Endpoint]]("list-endpoints", http.MethodGet, "/v1/endpoints")
	getEndpoint    = newRoute[none, none, Endpoint]("get-endpoint", http.MethodGet, "/v1/endpoints/{id}")
	updateEndpoint = newRoute[none, EndpointUpdate, Endpoint]("update-endpoint", http.MethodPatch, "/v1/endpoints/{id}")
	deleteEndpoint = newRoute[none, none, none]("delete-endpoint", http.MethodDelete, "/v1/endpoints/{id}")
)

// CreateEndpoint creates an endpoint; the answer carries its signing secret.
func (c *Client) CreateEndpoint(ctx context.Context, in *EndpointCreate) (*EndpointWithSecret, error) {
	return createEndpoint.call(ctx, c, nil, in)
}

// ListEndpoints lists the scope's endpoints.
func (c *Client) ListEndpoints(ctx context.Context, p *ListParams) (*List[Endpoint], error) {
	return listEndpoints.call(ctx, c, p, nil)
}

// GetEndpoint gets an endpoint.
func (c *Client) GetEndpoint(ctx context.Context, id string) (*Endpoint, error) {
	return getEndpoint.call(ctx, c, nil, nil, id)
}

// UpdateEndpoint changes an endpoint. Setting Status to paused holds its
// deliveries; active resumes them.
func (c *Client) UpdateEndpoint(ctx context.Context, id string, in *EndpointUpdate) (*Endpoint, error) {
	return updateEndpoint.call(ctx, c, nil, in, id)
}

// DeleteEndpoint deletes an endpoint and cancels its pending deliveries.
func (c *Client) DeleteEndpoint(ctx context.Context, id string) error {
	_, err := deleteEndpoint.call(ctx, c, nil, nil, id)
	return err
}
