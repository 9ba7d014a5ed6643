package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
)

type eventTypeBody struct {
	Description string              `json:"description,omitempty" maxLength:"1000"`
	Schema      json.RawMessage     `json:"schema,omitempty" doc:"A JSON Schema (draft 2020-12 unless $schema says otherwise) that every event's data must satisfy."`
	Example     json.RawMessage     `json:"example,omitempty" doc:"Example data, used by test sends; must satisfy the schema."`
	Sensitive   bool                `json:"sensitive,omitempty" doc:"The data carries secrets (one-time codes, session links): the API never shows it, and it is erased once delivered."`
	TTLSeconds  int                 `json:"ttl_seconds,omitempty" minimum:"0" maximum:"31536000" doc:"An event of this type is not delivered, nor retried, once this many seconds old; 0: no limit."`
	RetryPolicy *domain.RetryPolicy `json:"retry_policy,omitempty" doc:"The retry schedule of events of this type, replacing every endpoint's own (a fast one, say, for a type that asks the receiver to act now); absent: each endpoint's. The TTL still ends the retries."`
}

type putEventTypeInput struct {
	Name string `path:"name" example:"verification.approved"`
	Body eventTypeBody
}

// putEventTypeOutput is 201 for a new type, 200 for a replaced one.
type putEventTypeOutput struct {
	Status int
	Body   domain.EventType
}

// eventTypeName names an event type in the path.
type eventTypeName struct {
	Name string `path:"name"`
}

func (s *Server) putEventType(ctx context.Context, in *putEventTypeInput) (*putEventTypeOutput, error) {
	if err := domain.ValidateEventTypeName("name", in.Name); err != nil {
		return nil, huma.Error422UnprocessableEntity(err.Error(), &huma.ErrorDetail{Location: "path.name", Value: in.Name})
	}
	t := domain.EventType{
		Name: in.Name, Description: in.Body.Description, Schema: in.Body.Schema, Example: in.Body.Example,
		Sensitive: in.Body.Sensitive, TTLSeconds: in.Body.TTLSeconds, RetryPolicy: in.Body.RetryPolicy,
	}
	if t.RetryPolicy != nil {
		if err := t.RetryPolicy.Normalize(); err != nil {
			return nil, s.problem(err)
		}
	}
	before, action := domain.Snapshot{}, "event_type.created"
	if old, err := s.store.GetEventType(ctx, in.Name); err == nil {
		before, action = snap(old), "event_type.updated"
	}
	ctx = s.audited(ctx, domain.Scope{}, action, "event_type", t.Name, before, snap(t))
	created, err := s.rules.PutEventType(ctx, &t)
	if err != nil {
		return nil, s.problem(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &putEventTypeOutput{Status: status, Body: t}, nil
}

func (s *Server) listEventTypes(ctx context.Context, _ *noParams) (*Body[*List[domain.EventType]], error) {
	ts, err := s.store.ListEventTypes(ctx)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*List[domain.EventType]]{Body: &List[domain.EventType]{Data: ts}}, nil
}

func (s *Server) getEventType(ctx context.Context, in *eventTypeName) (*Body[*domain.EventType], error) {
	t, err := s.store.GetEventType(ctx, in.Name)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*domain.EventType]{Body: t}, nil
}
