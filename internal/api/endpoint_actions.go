package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/webhook"
)

type testSendBody struct {
	EventType string          `json:"event_type" minLength:"1" maxLength:"128" example:"verification.approved"`
	Data      json.RawMessage `json:"data,omitempty" doc:"Data to send instead of the type's example."`
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

type rotatedSecret struct {
	Secret                  string    `json:"secret" doc:"The new signing secret; shown only now."`
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at" doc:"Until then both secrets sign, as two entries of webhook-signature."`
}

func (s *Server) registerEndpointActions(api huma.API) {
	tags := []string{"Endpoints"}
	huma.Register(api, huma.Operation{
		OperationID: "test-endpoint", Method: http.MethodPost, Path: "/v1/endpoints/{id}/test", Tags: tags,
		Summary:     "Send a test event now",
		Description: "Sends the type's example (or the given data), marked \"test\": true, to this endpoint only, and answers with what happened. The send appears in the delivery log, marked as a test.",
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		ID   string `path:"id"`
		Body testSendBody
	}) (*Body[testSendResult], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		ep, err := s.store.GetEndpoint(ctx, sc, in.ID)
		if err != nil {
			return nil, s.problem(err)
		}
		if ep.Status != domain.EndpointActive {
			return nil, huma.Error409Conflict("the endpoint is " + ep.Status + "; set it active to send a test")
		}
		now := clock()
		data := in.Body.Data
		if isNull(data) {
			typ, _, err := s.schemas.get(ctx, in.Body.EventType)
			if err != nil {
				return nil, s.problem(err)
			}
			if typ == nil || typ.Example == nil {
				return nil, s.problem(domain.Invalid("event_type", "%q has no registered example; give data", in.Body.EventType))
			}
			data = typ.Example
		}
		ev, err := s.eventFrom(ctx, sc, &EventInput{Type: in.Body.EventType, Data: data}, now)
		if err != nil {
			return nil, s.problem(err)
		}
		ev.Test = true
		if _, err := s.store.Publish(ctx, sc, []store.Publication{{Event: ev, OnlyEndpoint: ep.ID}}); err != nil {
			return nil, s.problem(err)
		}
		ds, err := s.store.ListDeliveries(ctx, sc, store.DeliveryFilter{EventID: ev.ID})
		if err != nil || len(ds) != 1 {
			return nil, s.problem(errors.Join(errors.New("test send: the delivery was not created"), err))
		}
		o, err := s.cfg.Sender.SendNow(ctx, ds[0].ID)
		if err != nil {
			return nil, s.problem(err)
		}
		a := o.Attempt
		return &Body[testSendResult]{Body: testSendResult{
			EventID: ev.ID, DeliveryID: ds[0].ID, Status: o.Status, ResponseStatus: a.ResponseStatus,
			LatencyMS: a.DurationMS, ResponseBody: a.ResponseBody, ErrorClass: a.ErrorClass, Error: a.Error,
		}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "recover-endpoint", Method: http.MethodPost, Path: "/v1/endpoints/{id}/recover", Tags: tags,
		Summary:       "Send an endpoint's failed deliveries again",
		Description:   "Every failed delivery of the endpoint created in [since, until) is due again now, with the same webhook-id.",
		DefaultStatus: http.StatusAccepted,
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		ID   string `path:"id"`
		Body recoverBody
	}) (*Body[struct {
		Recovered int `json:"recovered"`
	}], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		now := clock()
		until := in.Body.Until
		if until.IsZero() {
			until = now
		}
		if !in.Body.Since.Before(until) {
			return nil, s.problem(domain.Invalid("since", "must be before until"))
		}
		n, err := s.store.RecoverDeliveries(ctx, sc, in.ID, in.Body.Since, until, now)
		if err != nil {
			return nil, s.problem(err)
		}
		if n > 0 {
			s.cfg.Wake()
		}
		out := &Body[struct {
			Recovered int `json:"recovered"`
		}]{}
		out.Body.Recovered = n
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "rotate-endpoint-secret", Method: http.MethodPost, Path: "/v1/endpoints/{id}/secret/rotate", Tags: tags,
		Summary:     "Replace an endpoint's signing secret",
		Description: "Returns the new secret once. For the grace period (default 24 h) deliveries carry two signatures, by the new and the old secret, so receivers can switch without failing a delivery.",
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		ID   string `path:"id"`
		Body *rotateKeyBody
	}) (*Body[rotatedSecret], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		grace, err := in.Body.grace()
		if err != nil {
			return nil, s.problem(err)
		}
		e, err := s.store.GetEndpoint(ctx, sc, in.ID)
		if err != nil {
			return nil, s.problem(err)
		}
		secret, err := webhook.NewSecret()
		if err != nil {
			return nil, s.problem(err)
		}
		now := clock()
		until := now.Add(grace)
		e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret, e.UpdatedAt = e.Secret, &until, secret, now
		if err := s.store.UpdateEndpoint(ctx, e); err != nil {
			return nil, s.problem(err)
		}
		return &Body[rotatedSecret]{Body: rotatedSecret{Secret: secret, PreviousSecretExpiresAt: until}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-default-callback", Method: http.MethodGet, Path: "/v1/default-callback", Tags: tags,
		Summary: "The scope's default callback endpoint",
	}, func(ctx context.Context, in *struct{ ScopeHeaders }) (*Body[*domain.Endpoint], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		e, err := s.store.DefaultCallback(ctx, sc)
		if err != nil {
			return nil, s.problem(err)
		}
		return &Body[*domain.Endpoint]{Body: shown(e)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "put-default-callback", Method: http.MethodPut, Path: "/v1/default-callback", Tags: tags,
		Summary: "Make an endpoint the scope's default callback",
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		Body struct {
			EndpointID string `json:"endpoint_id" minLength:"1"`
		}
	}) (*Body[*domain.Endpoint], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		e, err := s.store.GetEndpoint(ctx, sc, in.Body.EndpointID)
		if err != nil {
			return nil, s.problem(err)
		}
		e.DefaultCallback, e.UpdatedAt = true, clock()
		if err := s.store.UpdateEndpoint(ctx, e); err != nil {
			return nil, s.problem(err)
		}
		return &Body[*domain.Endpoint]{Body: shown(e)}, nil
	})
}
