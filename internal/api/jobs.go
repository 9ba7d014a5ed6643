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

func (s *Server) registerJobs(api huma.API) {
	tags := []string{"Jobs"}
	huma.Register(api, huma.Operation{
		OperationID: "put-job", Method: http.MethodPost, Path: "/v1/jobs", Tags: tags,
		Summary:     "Register a job ahead of its events",
		Description: "Sets the job's partner params (echoed in every event) and, optionally, its own callback URL.",
		Metadata:    operatorOnly,
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		Body jobRef
	}) (*Body[*domain.JobRecord], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		j := &domain.Job{ID: in.Body.ID, Kind: in.Body.Kind}
		if !isNull(in.Body.PartnerParams) {
			if !isObject(in.Body.PartnerParams) {
				return nil, s.problem(domain.Invalid("partner_params", "must be a JSON object"))
			}
			j.PartnerParams = compact(in.Body.PartnerParams)
		}
		if in.Body.CallbackURL != "" {
			if j.CallbackURL, err = s.jobCallbackURL(ctx, sc, "callback_url", in.Body.CallbackURL); err != nil {
				return nil, s.problem(err)
			}
		}
		rec, err := s.store.PutJob(ctx, sc, j, clock())
		if err != nil {
			return nil, s.problem(err)
		}
		return &Body[*domain.JobRecord]{Body: rec}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-job", Method: http.MethodGet, Path: "/v1/jobs/{id}", Tags: tags,
		Summary: "A job's status, partner params and events with their delivery state",
	}, func(ctx context.Context, in *scopedID) (*Body[*jobView], error) {
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
				Data: evs[i].Data, Deliveries: []jobEventDelivery{}}
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
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-jobs", Method: http.MethodGet, Path: "/v1/jobs", Tags: tags,
		Summary: "List jobs by last change, oldest first",
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		PageParams
		UpdatedSince time.Time `query:"updated_since" doc:"Only jobs changed at or after this time (RFC 3339)."`
		Final        string    `query:"final" enum:"true,false" doc:"Only finished (true) or unfinished (false) jobs."`
	}) (*Body[*List[domain.JobRecord]], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		f := store.JobFilter{Page: in.page(), UpdatedSince: in.UpdatedSince}
		if in.Final != "" {
			final := in.Final == "true"
			f.Final = &final
		}
		js, err := s.store.ListJobs(ctx, sc, f)
		if err != nil {
			return nil, s.problem(err)
		}
		return &Body[*List[domain.JobRecord]]{Body: listOf(js, f.Limit, func(j *domain.JobRecord) string { return j.ID })}, nil
	})
}

// jobCallbackURL checks a job's own callback URL. It borrows the default
// callback endpoint's secret and settings, so without one it could never
// be sent to: refused now rather than ignored later.
func (s *Server) jobCallbackURL(ctx context.Context, sc domain.Scope, field, raw string) (string, error) {
	u, err := s.checkURL(ctx, sc.Environment, field, raw)
	if err != nil {
		return "", err
	}
	if _, err := s.store.DefaultCallback(ctx, sc); errors.Is(err, domain.ErrNotFound) {
		return "", domain.Invalid(field, "this environment has no default callback endpoint; a job's URL is signed with its secret and sent with its settings (PUT /v1/default-callback)")
	} else if err != nil {
		return "", err
	}
	return u, nil
}
