package api

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

type listDeliveriesInput struct {
	ScopeHeaders
	PageParams
	EventID    string    `query:"event_id"`
	EndpointID string    `query:"endpoint_id"`
	Status     string    `query:"status" enum:"pending,succeeded,failed,cancelled"`
	EventType  string    `query:"event_type"`
	Since      time.Time `query:"since" doc:"Created at or after (RFC 3339)."`
	Until      time.Time `query:"until" doc:"Created before (RFC 3339)."`
}

func (s *Server) listDeliveries(ctx context.Context, in *listDeliveriesInput) (*Body[*List[domain.Delivery]], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	f := store.DeliveryFilter{
		Page: in.page(), EventID: in.EventID, EndpointID: in.EndpointID, Status: in.Status,
		EventType: in.EventType, Since: in.Since, Until: in.Until,
	}
	ds, err := s.store.ListDeliveries(ctx, sc, f)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*List[domain.Delivery]]{Body: listOf(ds, f.Limit, func(d *domain.Delivery) string { return d.ID })}, nil
}

func (s *Server) getDelivery(ctx context.Context, in *scopedID) (*Body[*domain.Delivery], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	d, err := s.store.GetDelivery(ctx, sc, in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*domain.Delivery]{Body: d}, nil
}

func (s *Server) retryDelivery(ctx context.Context, in *scopedID) (*Body[*domain.Delivery], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	d, err := s.store.RetryDelivery(ctx, sc, in.ID, time.Now())
	if err != nil {
		return nil, s.problem(err)
	}
	s.cfg.Wake()
	return &Body[*domain.Delivery]{Body: d}, nil
}
