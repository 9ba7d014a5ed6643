package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// ndjson is the media type of an export: one JSON delivery per line.
const ndjson = "application/x-ndjson"

type listDeliveriesInput struct {
	ScopeHeaders
	PageParams
	EventID    string    `query:"event_id"`
	EndpointID string    `query:"endpoint_id"`
	Status     string    `query:"status" enum:"pending,succeeded,failed,cancelled"`
	EventType  string    `query:"event_type"`
	Since      time.Time `query:"since" doc:"Created at or after (RFC 3339)."`
	Until      time.Time `query:"until" doc:"Created before (RFC 3339)."`
	// export is set when the caller accepts NDJSON (and prefers it to JSON).
	export bool
}

// Resolve reads the Accept header, which huma does not declare as a
// parameter: NDJSON asks for the export.
func (in *listDeliveriesInput) Resolve(ctx huma.Context) []error {
	in.export = wantsNDJSON(ctx.Header("Accept"))
	return nil
}

// wantsNDJSON is whether an Accept header names NDJSON before (or without)
// JSON.
func wantsNDJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case ndjson:
			return true
		case "application/json", "application/*", "*/*":
			return false
		}
	}
	return false
}

// streamed is an answer written by the handler itself: the delivery log's
// page as JSON, or its export as NDJSON.
type streamed struct {
	Body func(huma.Context)
}

// exportPageSize is how many deliveries an export reads from the store at
// a time: memory holds one page, whatever the export's size.
const exportPageSize = store.MaxPageSize

// exportWriteTime bounds how long a client may take to read one page of an
// export, so a stalled reader does not hold the connection for ever.
const exportWriteTime = 30 * time.Second

func (s *Server) listDeliveries(ctx context.Context, in *listDeliveriesInput) (*streamed, error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	f := store.DeliveryFilter{
		Page: in.page(), EventID: in.EventID, EndpointID: in.EndpointID, Status: in.Status,
		EventType: in.EventType, Since: in.Since, Until: in.Until,
	}
	if in.export {
		f.Limit = exportPageSize
	}
	// The first page is read before anything is written, so that a store
	// error is still a problem answer.
	ds, err := s.store.ListDeliveries(ctx, sc, f)
	if err != nil {
		return nil, s.problem(err)
	}
	if !in.export {
		page := listOf(ds, f.Limit, func(d *domain.Delivery) string { return d.ID })
		return &streamed{Body: func(hc huma.Context) {
			hc.SetHeader("Content-Type", "application/json")
			hc.SetStatus(http.StatusOK)
			if err := jsonEncoder(hc.BodyWriter()).Encode(page); err != nil {
				s.log.DebugContext(ctx, "list deliveries: write", "err", err)
			}
		}}, nil
	}
	return &streamed{Body: func(hc huma.Context) { s.export(ctx, hc, sc, f, ds) }}, nil
}

// export writes every delivery the filter selects, newest first, one JSON
// object per line, reading them a page at a time. A failure after the
// first line has gone cannot become a problem answer: the response is
// aborted instead, so the client sees a broken transfer, never a short
// export that looks complete.
func (s *Server) export(ctx context.Context, hc huma.Context, sc domain.Scope, f store.DeliveryFilter, page []domain.Delivery) {
	_, w := humago.Unwrap(hc)
	rc := http.NewResponseController(w)
	hc.SetHeader("Content-Type", ndjson)
	hc.SetStatus(http.StatusOK)
	enc := jsonEncoder(w)
	rows := 0
	for {
		_ = rc.SetWriteDeadline(time.Now().Add(exportWriteTime))
		for i := range page {
			if err := enc.Encode(&page[i]); err != nil {
				s.log.DebugContext(ctx, "delivery export: the client went away", "rows", rows, "err", err)
				return
			}
			rows++
		}
		_ = rc.Flush()
		if len(page) < f.Limit {
			return
		}
		f.Cursor = page[len(page)-1].ID
		var err error
		if page, err = s.store.ListDeliveries(ctx, sc, f); err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "delivery export: aborted", slog.Int("rows", rows), slog.Any("err", err))
			panic(http.ErrAbortHandler)
		}
	}
}

// jsonEncoder encodes as huma's JSON format does: HTML characters as they are.
func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
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

// maxBulkRetry bounds the deliveries one bulk retry makes due: one write
// of bounded size; a larger set is retried by calling again.
const maxBulkRetry = 10000

// retryDeliveriesBody selects the deliveries to send again. status is
// required, so that no request retries everything by accident.
type retryDeliveriesBody struct {
	Status     string    `json:"status" enum:"failed,cancelled,succeeded" doc:"Required: the status of the deliveries to send again (failed, for dead letters)."`
	EndpointID string    `json:"endpoint_id,omitempty" doc:"Only this endpoint's deliveries."`
	EventType  string    `json:"event_type,omitempty" doc:"Only deliveries of this event type."`
	Since      time.Time `json:"since,omitzero" doc:"Only deliveries created at or after (RFC 3339)."`
	Until      time.Time `json:"until,omitzero" doc:"Only deliveries created before (RFC 3339)."`
	Limit      int       `json:"limit,omitempty" minimum:"1" maximum:"10000" default:"1000" doc:"At most this many, the oldest first; when limit_reached, call again for the next ones."`
}

type retryDeliveriesInput struct {
	ScopeHeaders
	Body retryDeliveriesBody
}

type retryDeliveriesResult struct {
	Queued       int  `json:"queued" doc:"How many deliveries are due again now."`
	LimitReached bool `json:"limit_reached" doc:"The limit was reached: more deliveries may match; the same request queues the next ones."`
}

func (s *Server) retryDeliveries(ctx context.Context, in *retryDeliveriesInput) (*Body[retryDeliveriesResult], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	b := in.Body
	if !b.Since.IsZero() && !b.Until.IsZero() && !b.Since.Before(b.Until) {
		return nil, s.problem(domain.Invalid("until", "must be after since"))
	}
	limit := b.Limit
	if limit <= 0 {
		limit = 1000
	}
	f := store.DeliveryFilter{Page: store.Page{Limit: min(limit, maxBulkRetry)}, EndpointID: b.EndpointID, Status: b.Status,
		EventType: b.EventType, Since: b.Since, Until: b.Until}
	n, err := s.store.RetryDeliveries(ctx, sc, f, time.Now())
	if err != nil {
		return nil, s.problem(err)
	}
	if n > 0 {
		s.cfg.Wake()
	}
	return &Body[retryDeliveriesResult]{Body: retryDeliveriesResult{Queued: n, LimitReached: n == f.Limit}}, nil
}
