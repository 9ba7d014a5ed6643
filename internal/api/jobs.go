package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// jobView is a job with its events and where each of them stands: enough
// for a receiver that missed callbacks to rebuild its state.
type jobView struct {
	domain.JobRecord
	Events []jobEvent `json:"events"`
}

type jobEvent struct {
	ID         string             `json:"id"`
	Type       string             `json:"type"`
	Timestamp  time.Time          `json:"timestamp"`
	Final      bool               `json:"final,omitempty"`
	Data       json.RawMessage    `json:"data"`
	ErasedAt   *time.Time         `json:"erased_at,omitempty"`
	Deliveries []jobEventDelivery `json:"deliveries"`
}

type jobEventDelivery struct {
	ID            string     `json:"id"`
	EndpointID    string     `json:"endpoint_id"`
	Status        string     `json:"status"`
	AttemptCount  int        `json:"attempt_count"`
	LastStatus    int        `json:"last_response_status,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// maxJobEvents bounds the events a job answer carries.
const maxJobEvents = 500

type putJobInput struct {
	ScopeHeaders
	Body jobRef
}

type listJobsInput struct {
	ScopeHeaders
	PageParams
	UpdatedSince time.Time `query:"updated_since" doc:"Only jobs changed at or after this time (RFC 3339)."`
	Final        string    `query:"final" enum:"true,false" doc:"Only finished (true) or unfinished (false) jobs."`
	// The portal's job list and the log's search filter by these too.
	UpdatedBefore time.Time `query:"updated_before" doc:"Only jobs changed before this time (RFC 3339)."`
	Kind          string    `query:"kind" maxLength:"64" doc:"Only jobs of this kind."`
	Status        string    `query:"status" maxLength:"128" doc:"Only jobs whose last event is of this type." example:"verification.approved"`
	// PartnerParam has no index: the search reads the scope's jobs only,
	// by the (tenant, environment, updated_at) index, and stops at a page.
	PartnerParam string `query:"partner_param" maxLength:"256" doc:"Only jobs whose partner params hold this value, exactly, as a top-level string or whole number under any key." example:"user_123"`
	Order        string `query:"order" enum:"oldest,newest" doc:"oldest (the default) pages from the job changed first, newest from the job changed last."`
}

func (s *Server) putJob(ctx context.Context, in *putJobInput) (*Body[*domain.JobRecord], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	rec, err := s.rules.PutJob(ctx, sc, in.Body.spec())
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*domain.JobRecord]{Body: rec}, nil
}

func (s *Server) getJob(ctx context.Context, in *scopedID) (*Body[*jobView], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	j, err := s.store.GetJob(ctx, sc, in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	evs, err := s.store.JobEvents(ctx, sc, in.ID, store.Page{Limit: maxJobEvents})
	if err != nil {
		return nil, s.problem(err)
	}
	view := &jobView{JobRecord: *j, Events: make([]jobEvent, len(evs))}
	ids := make([]string, len(evs))
	byEvent := make(map[string]*jobEvent, len(evs))
	for i := range evs {
		redact(&evs[i])
		view.Events[i] = jobEvent{ID: evs[i].ID, Type: evs[i].Type, Timestamp: evs[i].CreatedAt, Final: evs[i].Final,
			Data: evs[i].Data, ErasedAt: evs[i].ErasedAt, Deliveries: []jobEventDelivery{}}
		ids[i] = evs[i].ID
		byEvent[evs[i].ID] = &view.Events[i]
	}
	if len(ids) > 0 {
		ds, err := s.store.ListDeliveries(ctx, sc, store.DeliveryFilter{EventIDs: ids, Page: store.Page{Limit: store.MaxPageSize}})
		if err != nil {
			return nil, s.problem(err)
		}
		for _, d := range ds {
			e := byEvent[d.EventID]
			e.Deliveries = append(e.Deliveries, jobEventDelivery{ID: d.ID, EndpointID: d.EndpointID, Status: d.Status,
				AttemptCount: d.Attempts, LastStatus: d.LastStatus, NextAttemptAt: d.NextAttemptAt})
		}
	}
	return &Body[*jobView]{Body: view}, nil
}

func (s *Server) listJobs(ctx context.Context, in *listJobsInput) (*Body[*List[domain.JobRecord]], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	f := store.JobFilter{Page: in.page(), UpdatedSince: in.UpdatedSince, UpdatedBefore: in.UpdatedBefore,
		Kind: in.Kind, Status: in.Status, PartnerParam: in.PartnerParam, Newest: in.Order == "newest"}
	if in.Final != "" {
		final := in.Final == "true"
		f.Final = &final
	}
	js, err := s.store.ListJobs(ctx, sc, f)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*List[domain.JobRecord]]{Body: listOf(js, f.Limit, func(j *domain.JobRecord) string { return j.ID })}, nil
}
