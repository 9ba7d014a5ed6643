package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/manage"
	"github.com/heraldhq/herald/internal/store"
)

type testSendBody struct {
	EventType string          `json:"event_type" minLength:"1" maxLength:"128" example:"verification.approved"`
	Data      json.RawMessage `json:"data,omitempty" doc:"Data to send instead of the type's example."`
	Job       *testJob        `json:"job,omitempty" doc:"A job for the test event to name, so that a profile placing job identifiers and partner params (smile-id's SmileJobID and PartnerParams, incode's interviewId and externalId) renders them. It reaches the body only: the job of that id, if any, is not changed."`
}

// testJob is a job as a test send names it: no callback URL, since a test
// goes to the endpoint it names.
type testJob struct {
	ID            string          `json:"id" minLength:"1" maxLength:"128" example:"job_sample"`
	Kind          string          `json:"kind,omitempty" maxLength:"64" example:"kyc"`
	PartnerParams json.RawMessage `json:"partner_params,omitempty" doc:"A JSON object, placed as given, byte for byte, where the endpoint's body carries partner params."`
}

type testEndpointInput struct {
	ScopeHeaders
	ID   string `path:"id"`
	Body testSendBody
}

// testSendResult is what happened, straight away.
type testSendResult struct {
	EventID        string `json:"event_id"`
	DeliveryID     string `json:"delivery_id"`
	Status         string `json:"status" doc:"The delivery's status after the attempt: succeeded, or pending/failed by the endpoint's retry policy."`
	ResponseStatus int    `json:"response_status,omitempty"`
	LatencyMS      int64  `json:"latency_ms"`
	ResponseBody   string `json:"response_body,omitempty"`
	ErrorClass     string `json:"error_class,omitempty"`
	Error          string `json:"error,omitempty"`
}

type recoverBody struct {
	Since time.Time `json:"since" doc:"Failed deliveries created at or after this time (RFC 3339)."`
	Until time.Time `json:"until,omitempty" doc:"…and before this time; default now."`
}

type recoverEndpointInput struct {
	ScopeHeaders
	ID   string `path:"id"`
	Body recoverBody
}

type recoverResult struct {
	Recovered int `json:"recovered"`
}

type rotatedSecret struct {
	Secret                  string    `json:"secret" doc:"The new signing secret (the one given, if any); shown only now."`
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at" doc:"Until then both secrets sign, as two entries of webhook-signature."`
}

func (s *Server) testEndpoint(ctx context.Context, in *testEndpointInput) (*Body[testSendResult], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	spec := &manage.TestSpec{EventType: in.Body.EventType, Data: in.Body.Data}
	if j := in.Body.Job; j != nil {
		spec.Job = &manage.JobSpec{ID: j.ID, Kind: j.Kind, PartnerParams: j.PartnerParams}
	}
	t, err := s.rules.TestSend(ctx, sc, in.ID, spec)
	if err != nil {
		return nil, s.problem(err)
	}
	a := t.Attempt
	return &Body[testSendResult]{Body: testSendResult{
		EventID: t.EventID, DeliveryID: t.DeliveryID, Status: t.Status, ResponseStatus: a.ResponseStatus,
		LatencyMS: a.DurationMS, ResponseBody: a.ResponseBody, ErrorClass: a.ErrorClass, Error: a.Error,
	}}, nil
}

func (s *Server) recoverEndpoint(ctx context.Context, in *recoverEndpointInput) (*Body[recoverResult], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	ctx = store.WithAudit(ctx, s.auditEntry(ctx, sc, "endpoint.recovered", "endpoint", in.ID, map[string]domain.FieldChange{
		"since": {To: in.Body.Since}, "until": {To: in.Body.Until},
	}))
	n, err := s.rules.Recover(ctx, sc, in.ID, in.Body.Since, in.Body.Until)
	if err != nil {
		return nil, s.problem(err)
	}
	s.endpointChanged(ctx, sc, in.ID, "recovered", slog.Int("deliveries", n))
	return &Body[recoverResult]{Body: recoverResult{Recovered: n}}, nil
}

// rotateSecretBody is a secret rotation: RotateKeyBody and, optionally,
// the secret to rotate to.
type rotateSecretBody struct {
	RotateKeyBody
	Secret string `json:"secret,omitempty" maxLength:"200" doc:"The new signing secret, when the receiver already holds it (whsec_ and the standard base64 of 24 to 64 bytes); absent, Herald makes one." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
}

type rotateSecretInput struct {
	ScopeHeaders
	ID   string `path:"id"`
	Body *rotateSecretBody
}

func (s *Server) rotateEndpointSecret(ctx context.Context, in *rotateSecretInput) (*Body[rotatedSecret], error) {
	var keyBody *RotateKeyBody
	var given string
	if in.Body != nil {
		keyBody, given = &in.Body.RotateKeyBody, in.Body.Secret
	}
	sc, grace, err := s.rotation(ctx, in.ScopeHeaders, keyBody)
	if err != nil {
		return nil, err
	}
	ctx = store.WithAudit(ctx, s.auditEntry(ctx, sc, "endpoint.secret_rotated", "endpoint", in.ID, map[string]domain.FieldChange{
		"secret": {From: domain.Masked, To: domain.Masked}, "grace_period": {To: grace.String()},
	}))
	secret, until, err := s.rules.RotateEndpointSecret(ctx, sc, in.ID, given, grace)
	if err != nil {
		return nil, s.problem(err)
	}
	s.endpointChanged(ctx, sc, in.ID, "secret rotated", slog.Time("previous_secret_expires_at", until))
	return &Body[rotatedSecret]{Body: rotatedSecret{Secret: secret, PreviousSecretExpiresAt: until}}, nil
}
