package api

import (
	"context"

	"github.com/heraldhq/herald/internal/domain"
)

type defaultCallbackBody struct {
	EndpointID string `json:"endpoint_id" minLength:"1"`
}

type putDefaultCallbackInput struct {
	ScopeHeaders
	Body defaultCallbackBody
}

func (s *Server) getDefaultCallback(ctx context.Context, in *ScopeHeaders) (*Body[*domain.Endpoint], error) {
	sc, err := s.scope(ctx, *in)
	if err != nil {
		return nil, err
	}
	e, err := s.store.DefaultCallback(ctx, sc)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*domain.Endpoint]{Body: shown(e)}, nil
}

func (s *Server) putDefaultCallback(ctx context.Context, in *putDefaultCallbackInput) (*Body[*domain.Endpoint], error) {
	e, err := s.endpoint(ctx, in.ScopeHeaders, in.Body.EndpointID)
	if err != nil {
		return nil, err
	}
	before := endpointSnap(e)
	e.DefaultCallback, e.UpdatedAt = true, domain.Now()
	ctx = s.audited(ctx, domain.Scope{TenantID: e.TenantID, Environment: e.Environment}, "endpoint.updated", "endpoint", e.ID, before, endpointSnap(e))
	if err := s.store.UpdateEndpoint(ctx, e); err != nil {
		return nil, s.problem(err)
	}
	return &Body[*domain.Endpoint]{Body: shown(e)}, nil
}
