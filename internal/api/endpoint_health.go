package api

import (
	"context"

	"github.com/heraldhq/herald/internal/domain"
)

// healthHistory is how many of an endpoint's latest health changes its
// health shows.
const healthHistory = 50

func (s *Server) getEndpointHealth(ctx context.Context, in *scopedID) (*Body[*domain.EndpointHealth], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	h, err := s.store.EndpointHealth(ctx, sc, in.ID, healthHistory)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*domain.EndpointHealth]{Body: h}, nil
}
