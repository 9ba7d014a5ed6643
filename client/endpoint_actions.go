package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// TestSend is a test event for one endpoint.
type TestSend struct {
	EventType string `json:"event_type"`
	// Data is sent instead of the type's example.
	Data json.RawMessage `json:"data,omitempty"`
	// Job is a job for the test event to name, so that a profile placing
	// job identifiers and partner params renders them. The job of that id,
	// if any, is not changed.
	Job *TestJob `json:"job,omitempty"`
}

// TestJob is the job a test event names.
type TestJob struct {
	ID   string `json:"id"`
	Kind string `json:"kind,omitempty"`
	// PartnerParams is a JSON object, placed byte for byte where the
	// endpoint's body carries partner params.
	PartnerParams json.RawMessage `json:"partner_params,omitempty"`
}

// TestSendResult is what a test send did.
type TestSendResult struct {
	EventID    string `json:"event_id"`
	DeliveryID string `json:"delivery_id"`
	// Status is the delivery's status after the attempt: succeeded, or
	// pending or failed by the endpoint's retry policy.
	Status         string `json:"status"`
	ResponseStatus int    `json:"response_status,omitempty"`
	LatencyMS      int64  `json:"latency_ms"`
	ResponseBody   string `json:"response_body,omitempty"`
	ErrorClass     string `json:"error_class,omitempty"`
	Error          string `json:"error,omitempty"`
}

// RecoverWindow selects an endpoint's failed deliveries by creation time.
type RecoverWindow struct {
	Since time.Time `json:"since"`
	// Until is the end, excluded; zero means now.
	Until time.Time `json:"until,omitzero"`
}

type recovered struct {
	Recovered int `json:"recovered"`
}

// Rotation is how long a replaced secret or key keeps working.
type Rotation struct {
	// GracePeriod is a duration such as 24h (the default when empty; at
	// most 720h).
	GracePeriod string `json:"grace_period,omitempty"`
}

// SecretRotation is an endpoint secret's rotation.
type SecretRotation struct {
	// GracePeriod is how long the old secret keeps signing beside the new
	// one: a duration such as 24h (the default when empty; at most 720h).
	GracePeriod string `json:"grace_period,omitempty"`
	// Secret is the new secret when the receiver already holds it
	// (whsec_…); empty, Herald makes one.
	Secret string `json:"secret,omitempty"`
}

// RotatedSecret is an endpoint's new signing secret, shown only once.
type RotatedSecret struct {
	Secret string `json:"secret"`
	// PreviousSecretExpiresAt: until then deliveries carry signatures by
	// both secrets.
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at"`
}

type defaultCallback struct {
	EndpointID string `json:"endpoint_id"`
}

// EgressIPs are the addresses deliveries come from, for receivers'
// allowlists.
type EgressIPs struct {
	IPs []string `json:"ips"`
	// Proxy says whether deliveries leave through a fixed-address proxy.
	Proxy bool `json:"proxy"`
}

var (
	testEndpoint         = newRoute[none, TestSend, TestSendResult]("test-endpoint", http.MethodPost, "/v1/endpoints/{id}/test")
	recoverEndpoint      = newRoute[none, RecoverWindow, recovered]("recover-endpoint", http.MethodPost, "/v1/endpoints/{id}/recover")
	rotateEndpointSecret = newRoute[none, SecretRotation, RotatedSecret]("rotate-endpoint-secret", http.MethodPost, "/v1/endpoints/{id}/secret/rotate")
	getDefaultCallback   = newRoute[none, none, Endpoint]("get-default-callback", http.MethodGet, "/v1/default-callback")
	putDefaultCallback   = newRoute[none, defaultCallback, Endpoint]("put-default-callback", http.MethodPut, "/v1/default-callback")
	getEgressIPs         = newRoute[none, none, EgressIPs]("get-egress-ips", http.MethodGet, "/v1/egress-ips")
)

// TestEndpoint sends a test event to one endpoint now and says what
// happened; the send appears in the delivery log, marked as a test.
func (c *Client) TestEndpoint(ctx context.Context, id string, in *TestSend) (*TestSendResult, error) {
	return testEndpoint.call(ctx, c, nil, in, id)
}

// RecoverEndpoint makes every failed delivery of the endpoint created in
// the window due again now, and answers how many.
func (c *Client) RecoverEndpoint(ctx context.Context, id string, in *RecoverWindow) (int, error) {
	out, err := recoverEndpoint.call(ctx, c, nil, in, id)
	if err != nil {
		return 0, err
	}
	return out.Recovered, nil
}

// RotateEndpointSecret replaces an endpoint's signing secret; in may be
// nil for the default grace period.
func (c *Client) RotateEndpointSecret(ctx context.Context, id string, in *SecretRotation) (*RotatedSecret, error) {
	return rotateEndpointSecret.call(ctx, c, nil, in, id)
}

// GetDefaultCallback gets the scope's default callback endpoint.
func (c *Client) GetDefaultCallback(ctx context.Context) (*Endpoint, error) {
	return getDefaultCallback.call(ctx, c, nil, nil)
}

// SetDefaultCallback makes an endpoint the scope's default callback.
func (c *Client) SetDefaultCallback(ctx context.Context, endpointID string) (*Endpoint, error) {
	return putDefaultCallback.call(ctx, c, nil, &defaultCallback{EndpointID: endpointID})
}

// GetEgressIPs gets the addresses deliveries come from.
func (c *Client) GetEgressIPs(ctx context.Context) (*EgressIPs, error) {
	return getEgressIPs.call(ctx, c, nil, nil)
}
