// Package domain holds Herald's nouns, their validation and their errors.
// It performs no I/O and imports nothing of Herald's.
package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Environment separates a tenant's test traffic from its live traffic.
type Environment string

const (
	Sandbox    Environment = "sandbox"
	Production Environment = "production"
)

// ParseEnvironment accepts exactly "sandbox" or "production".
func ParseEnvironment(s string) (Environment, error) {
	switch Environment(s) {
	case Sandbox, Production:
		return Environment(s), nil
	}
	return "", fmt.Errorf("environment %q is not one of sandbox, production", s)
}

// Scope is the tenant and environment that every tenant-owned row belongs to.
type Scope struct {
	TenantID    string
	Environment Environment
}

// Tenant is one of the platform's customers.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// RateLimitPerMinute and RateLimitBurst bound each of the tenant's API
	// keys; 0 takes Herald's defaults.
	RateLimitPerMinute int       `json:"rate_limit_per_minute,omitempty"`
	RateLimitBurst     int       `json:"rate_limit_burst,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
}

// API rate limit defaults, per key.
const (
	DefaultRateLimitPerMinute = 100
	DefaultRateLimitBurst     = 200
)

// APIKey lets a tenant call the API for one environment. Only a hash of
// the key is stored; the key itself is shown once.
type APIKey struct {
	ID          string      `json:"id"`
	TenantID    string      `json:"tenant_id"`
	Environment Environment `json:"environment"`
	// Prefix is the start of the key, enough to recognise it.
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// ExpiresAt is set when the key was rotated: it works until then.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Usable reports whether the key authenticates at t.
func (k *APIKey) Usable(t time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || t.Before(*k.ExpiresAt))
}

// EventType is a registered kind of event, optionally with a JSON Schema for its data.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
	// Sensitive types (one-time codes, session links) are never shown in
	// clear by the API or the delivery log once delivered.
	Sensitive bool `json:"sensitive,omitempty"`
	// TTLSeconds, when set, is how long an event of the type is worth
	// delivering; after it the event is not sent or retried.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
	// RetryPolicy, when set, replaces the endpoint's retry policy for
	// events of the type (docs/delivery.md#retry-schedules-by-event-type).
	RetryPolicy *RetryPolicy `json:"retry_policy,omitempty" doc:"The retry schedule of events of this type, replacing each endpoint's own; absent: the endpoint's. The TTL still cuts it short."`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// Endpoint statuses. Deliveries to a paused or disabled endpoint are held, not dropped.
const (
	EndpointActive   = "active"
	EndpointPaused   = "paused"
	EndpointDisabled = "disabled"
)

// Success modes decide which responses count as taken.
const (
	Success2xx       = "2xx"
	SuccessJSONOr204 = "json-or-204"
)

// ProfileStandard is the profile of an endpoint that names none: Herald's
// own envelope.
const ProfileStandard = "standard"

// Endpoint is a receiver URL and everything Herald needs to deliver to it.
type Endpoint struct {
	ID             string            `json:"id"`
	TenantID       string            `json:"tenant_id"`
	Environment    Environment       `json:"environment"`
	URL            string            `json:"url"`
	Name           string            `json:"name,omitempty"`
	Status         string            `json:"status"`
	DisabledReason string            `json:"disabled_reason,omitempty"`
	EventTypes     []string          `json:"event_types"`
	Headers        map[string]string `json:"headers,omitempty"`
	RetryPolicy    RetryPolicy       `json:"retry_policy"`
	TimeoutMS      int               `json:"timeout_ms"`
	MaxConcurrency int               `json:"max_concurrency"`
	RateLimit      int               `json:"rate_limit"` // requests a second at most, all processes together; 0: none
	Success        string            `json:"success"`
	// DefaultCallback marks the one endpoint of a scope that jobs with
	// their own callback URL borrow: its secret and settings sign and send
	// to the job's URL instead of its own.
	DefaultCallback bool `json:"default_callback"`
	// PayloadMode is envelope (default), raw or thin.
	PayloadMode string `json:"payload_mode"`
	// Signing is hmac (default) or ed25519.
	Signing string `json:"signing"`
	// SigningPublicKey is the ed25519 public key (whpk_…) receivers verify with.
	SigningPublicKey string `json:"signing_public_key,omitempty"`
	// SigningPrivateKey (whsk_…) signs when Signing is ed25519. Secret.
	SigningPrivateKey string        `json:"-"`
	Auth              *EndpointAuth `json:"auth,omitempty"`
	TLS               *EndpointTLS  `json:"tls,omitempty"`
	// CompatSignature is the older form of Signatures, as the API shows
	// it when the list has one (CompatSignatureOf); it is not kept.
	CompatSignature *CompatSignature `json:"compat_signature,omitempty"`
	// Signatures are the schemes that sign each delivery, over its final
	// body; empty means DefaultSignatures.
	Signatures []Signature `json:"signatures"`
	// SuccessFalseFails makes a 200 whose JSON object body has
	// "success": false a failure.
	SuccessFalseFails bool `json:"success_false_fails"`
	// IdenticalRetries makes every automatic retry send the first
	// attempt's bytes and headers: it is signed at the first attempt's
	// instant (Delivery.SignedAt).
	IdenticalRetries bool `json:"identical_retries"`
	// ThinPartnerParams keeps the job's partner params in a thin body,
	// which otherwise carries no personal data.
	ThinPartnerParams bool `json:"thin_partner_params"`
	// Profile names the built-in delivery profile whose body the endpoint
	// sends (internal/profile); standard is Herald's envelope.
	Profile string `json:"profile"`
	// ProfileOptions are the profile's options. They are sealed at rest
	// with the other credentials; secret ones are never shown.
	ProfileOptions map[string]json.RawMessage `json:"profile_options"`
	// ProfileFields name the settings the profile supplies (signatures,
	// success, …): the ones no request set. They follow the profile and
	// its options when either changes; the others are the endpoint's own.
	ProfileFields []string `json:"profile_fields" doc:"The settings the profile supplies, because no request set them; they follow the profile and its options when either changes. Read-only."`
	// Transform is a jq program (internal/transform) whose one output is
	// the body, run over the envelope Herald would have sent; empty sends
	// the envelope (or the profile's body) itself. It is compiled when saved.
	Transform string `json:"transform" doc:"The body transform: a jq program run over the envelope of payload_mode, whose one output replaces the body (docs/transforms.md). Empty: none."`
	// Ordering is none (default) or job: a job's deliveries go one at a
	// time, in publish order (docs/delivery.md#per-job-order).
	Ordering string `json:"ordering" enum:"none,job" doc:"none (default): deliveries go in any order, as many at once as max_concurrency allows. job: the deliveries of one job go one at a time, in publish order; a failing one holds back only its own job (docs/delivery.md)."`
	// ResponseBody is what attempts keep of the receiver's answer: full,
	// headers or none (ResponseBodyFull, …); empty is full.
	ResponseBody string `json:"response_body" enum:"full,headers,none" doc:"What the attempt log keeps of the receiver's answer: full (the status, headers and first 16 KiB of the body), headers (the status and headers) or none (the status only)."`
	// Secret is the signing secret (whsec_…). It is returned once, on
	// creation and on rotation.
	Secret string `json:"-"`
	// PreviousSecret signs too, beside Secret, until PreviousSecretExpiresAt.
	PreviousSecret          string     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// RotateSecret makes secret the endpoint's signing secret at now; the one
// it replaces keeps signing beside it for grace, so that receivers can
// switch without failing a delivery.
func (e *Endpoint) RotateSecret(secret string, now time.Time, grace time.Duration) {
	until := now.Add(grace)
	e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret, e.UpdatedAt = e.Secret, &until, secret, now
}

// Rotating reports whether t falls in a secret rotation's grace period,
// when the previous secret signs too.
func (e *Endpoint) Rotating(t time.Time) bool {
	return e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && t.Before(*e.PreviousSecretExpiresAt)
}

// SigningSecrets are the secrets that sign at t: the current one, and the
// previous one during a rotation's grace period.
func (e *Endpoint) SigningSecrets(t time.Time) []string {
	if e.Rotating(t) {
		return []string{e.Secret, e.PreviousSecret}
	}
	return []string{e.Secret}
}

// Endpoint defaults, from the field's leaders (see DESIGN.md).
const (
	DefaultTimeoutMS      = 15000
	MaxTimeoutMS          = 30000
	DefaultMaxConcurrency = 16
	MaxMaxConcurrency     = 256
)

// Subscribes reports whether the endpoint takes events of the given type:
// an empty filter takes everything, "a.*" takes every type under "a.",
// but the operational events (IsSignalType) only when named or under a
// wildcard of their own.
func (e *Endpoint) Subscribes(eventType string) bool {
	return MatchesFilter(e.EventTypes, eventType)
}

// MatchesFilter applies an endpoint's event-type filter. An empty filter
// and "*" take every type but the operational events: an endpoint made for
// a platform's events must not start receiving Herald's own, whose bodies
// it does not expect; "endpoint.*", "delivery.*" or the type's name do.
func MatchesFilter(filter []string, eventType string) bool {
	if len(filter) == 0 {
		return !IsSignalType(eventType)
	}
	for _, f := range filter {
		if f == eventType || f == "*" && !IsSignalType(eventType) {
			return true
		}
		if n := len(f); n >= 2 && f[n-2:] == ".*" && len(eventType) > n-1 && eventType[:n-1] == f[:n-1] {
			return true
		}
	}
	return false
}

// Job is the subject of an asynchronous verification; its events share it.
type Job struct {
	ID            string          `json:"id"`
	Kind          string          `json:"kind,omitempty"`
	PartnerParams json.RawMessage `json:"partner_params,omitempty"`
	// CallbackURL, when set, receives the job's events instead of the
	// default callback endpoint. It is not part of the envelope.
	CallbackURL string `json:"-"`
}

// AppendJSON appends the job as the envelope carries it. Its partner
// params go in as they were published, byte for byte: encoding/json would
// compact them and escape <, > and &, and receivers echo them back as
// they were sent. withParams false leaves them out (a thin body).
func (j *Job) AppendJSON(dst []byte, withParams bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, j.ID)
	if j.Kind != "" {
		dst = append(dst, `,"kind":`...)
		dst = appendString(dst, j.Kind)
	}
	if withParams && len(j.PartnerParams) > 0 {
		dst = append(dst, `,"partner_params":`...)
		dst = append(dst, j.PartnerParams...)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string; s comes from validated input
// (an id, a kind), so encoding/json's error cannot happen.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// JobRecord is what Herald keeps of a job: the polling alternative to
// callbacks.
type JobRecord struct {
	ID            string          `json:"id"`
	TenantID      string          `json:"tenant_id"`
	Environment   Environment     `json:"environment"`
	Kind          string          `json:"kind,omitempty"`
	PartnerParams json.RawMessage `json:"partner_params,omitempty"`
	CallbackURL   string          `json:"callback_url,omitempty"`
	// Status is the type of the job's latest event.
	Status    string    `json:"status,omitempty"`
	Final     bool      `json:"final"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// ErasedAt is when an erasure removed the job's personal fields.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

// Event is one published fact.
type Event struct {
	ID          string      `json:"id"`
	TenantID    string      `json:"tenant_id"`
	Environment Environment `json:"environment"`
	Type        string      `json:"type"`
	Job         *Job        `json:"job,omitempty"`
	Final       bool        `json:"final,omitempty"`
	// Test marks the events of test sends.
	Test bool            `json:"test,omitempty"`
	Data json.RawMessage `json:"data"`
	// Sensitive events' data is never shown by the API and is scrubbed
	// from the store once delivered.
	Sensitive bool `json:"sensitive,omitempty"`
	// ExpiresAt, from the type's TTL: the event is not sent after it.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"timestamp"`
	// TraceParent is the W3C traceparent of the span that published the
	// event, when tracing was on: every attempt joins that trace, in
	// whichever process makes it. It is never sent to receivers.
	TraceParent string `json:"-"`
	// ErasedAt is when an erasure removed the event's data.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

// Expired reports whether the event is past its TTL at t.
func (e *Event) Expired(t time.Time) bool { return e.ExpiresAt != nil && !t.Before(*e.ExpiresAt) }

// Redacted is what the API shows of a sensitive event's data.
var Redacted = json.RawMessage(`{"redacted":true}`)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
	DeliveryCancelled = "cancelled"
)

// Delivery is one event to one endpoint; the queue is made of these.
type Delivery struct {
	ID          string      `json:"id"`
	TenantID    string      `json:"tenant_id"`
	Environment Environment `json:"environment"`
	EventID     string      `json:"event_id"`
	EventType   string      `json:"event_type"`
	EndpointID  string      `json:"endpoint_id"`
	// TargetURL is the job's callback URL when it replaces the endpoint's.
	TargetURL     string     `json:"target_url,omitempty"`
	Test          bool       `json:"test,omitempty"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempt_count"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastStatus    int        `json:"last_response_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	// OrderedJob is the job whose deliveries to the endpoint go one at a
	// time (the endpoint's ordering was job when this one was made).
	OrderedJob string `json:"ordered_job,omitempty" doc:"The job whose deliveries to this endpoint go one at a time, in publish order: the endpoint's ordering was job when the event was published."`
	// FollowsFailed is an earlier delivery of the same job to the same
	// endpoint that failed or was cancelled: this one went on after it.
	FollowsFailed string    `json:"follows_failed,omitempty" doc:"An earlier delivery of the same job to this endpoint that failed or was cancelled for good while this one waited behind it: this one went on without it, so the receiver missed that event (docs/delivery.md#per-job-order)."`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// ErasedAt is when an erasure removed what the delivery's attempts
	// kept of its event and its receiver's answers.
	ErasedAt   *time.Time `json:"erased_at,omitempty"`
	AttemptLog []Attempt  `json:"attempts,omitempty"`
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	ID              string            `json:"id"`
	DeliveryID      string            `json:"delivery_id"`
	Number          int               `json:"number"`
	At              time.Time         `json:"at"`
	DurationMS      int64             `json:"duration_ms"`
	RequestHeaders  map[string]string `json:"request_headers,omitempty"`
	ResponseStatus  int               `json:"response_status,omitempty"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	ErrorClass      string            `json:"error_class,omitempty"`
	Error           string            `json:"error,omitempty"`
	// TraceID is the OpenTelemetry trace the attempt was recorded in (the
	// publish's), when tracing was on and the trace sampled.
	TraceID string `json:"trace_id,omitempty" doc:"The OpenTelemetry trace (32 hex digits) the attempt's span belongs to: the trace of the request that published the event. Absent when tracing is off or the trace was not sampled."`
}

// MaxStoredResponseBody is how much of a receiver's answer the attempt log keeps.
const MaxStoredResponseBody = 16 << 10

// Errors the store and the API share.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// NotFoundError names what was missing.
type NotFoundError struct{ Kind, ID string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.ID) }
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// ConflictError explains why a write could not be applied.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }
func (e *ConflictError) Unwrap() error { return ErrConflict }

// ValidationError names the field that is wrong and why.
type ValidationError struct {
	Field string // JSON path, e.g. "url" or "retry_policy.delays[2]"
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

// Invalid builds a ValidationError.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
