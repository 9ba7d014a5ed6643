package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

func (s *Server) registerDeliveries(api huma.API) {
	tags := []string{"Deliveries"}
	huma.Register(api, huma.Operation{
		OperationID: "list-deliveries", Method: http.MethodGet, Path: "/v1/deliveries", Tags: tags,
		Summary: "The delivery log, newest first",
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		PageParams
		EventID    string    `query:"event_id"`
		EndpointID string    `query:"endpoint_id"`
		Status     string    `query:"status" enum:"pending,succeeded,failed,cancelled"`
		EventType  string    `query:"event_type"`
		Since      time.Time `query:"since" doc:"Created at or after (RFC 3339)."`
		Until      time.Time `query:"until" doc:"Created before (RFC 3339)."`
	}) (*Body[*List[domain.Delivery]], error) {
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
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-delivery", Method: http.MethodGet, Path: "/v1/deliveries/{id}", Tags: tags,
		Summary: "Get a delivery with every attempt",
	}, func(ctx context.Context, in *scopedID) (*Body[*domain.Delivery], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		d, err := s.store.GetDelivery(ctx, sc, in.ID)
		if err != nil {
			return nil, s.problem(err)
		}
		return &Body[*domain.Delivery]{Body: d}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "retry-delivery", Method: http.MethodPost, Path: "/v1/deliveries/{id}/retry", Tags: tags,
		Summary:       "Send a delivery again now",
		Description:   "Whatever its status; the receiver sees the same webhook-id. A delivery in flight right now is left to finish.",
		DefaultStatus: http.StatusAccepted,
	}, func(ctx context.Context, in *scopedID) (*Body[*domain.Delivery], error) {
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
	})
}
