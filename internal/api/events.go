package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

type jobRef struct {
	ID            string          `json:"id" minLength:"1" maxLength:"128" doc:"The platform's job id; every event of the job carries it." example:"job_7f3a"`
	Kind          string          `json:"kind,omitempty" maxLength:"64" example:"kyc"`
	PartnerParams json.RawMessage `json:"partner_params,omitempty" doc:"An object echoed in every event of the job; the last one given is kept."`
	CallbackURL   string          `json:"callback_url,omitempty" maxLength:"2048" doc:"The job's own receiver: its events go there instead of the default callback endpoint, signed with that endpoint's secret and sent with its settings."`
}

type EventInput struct {
	Type  string          `json:"type" minLength:"1" maxLength:"128" example:"verification.approved"`
	Data  json.RawMessage `json:"data" doc:"The event's data: a JSON object, checked against the type's schema when it has one."`
	Job   *jobRef         `json:"job,omitempty"`
	Final bool            `json:"final,omitempty" doc:"Whether this is the job's last event."`
}

type PublishResult struct {
	ID         string `json:"id" example:"evt_01JD6Q3M4X8F0S6V8C2K7ZB5RT"`
	Deliveries int    `json:"deliveries" doc:"How many endpoints will receive it."`
}

// maxBatchBody bounds a batch publish; each event's data is still at most
// what a single publish takes.
const maxBatchBody = 16 << 20

type batchItem struct {
	EventInput
	IdempotencyKey string `json:"idempotency_key,omitempty" maxLength:"255" doc:"Like the Idempotency-Key header of a single publish, for this event."`
}

// requestHash is what an idempotency key remembers of its request: the
// decoded event, so whitespace does not matter and a key means the same on
// the single and the batch route.
func requestHash(in *EventInput) []byte {
	raw, _ := json.Marshal(in) // compacts data and partner params
	sum := sha256.Sum256(raw)
	return sum[:]
}

type batchResult struct {
	PublishResult
	Replayed bool `json:"replayed,omitempty" doc:"The idempotency key was used before; this is the first result."`
}

// within prefixes a validation error's field with its place in a batch.
func within(prefix string, err error) error {
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		return &domain.ValidationError{Field: prefix + ve.Field, Msg: ve.Msg}
	}
	return err
}

func (s *Server) registerEvents(api huma.API) {
	tags := []string{"Events"}
	huma.Register(api, huma.Operation{
		OperationID: "publish-event", Method: http.MethodPost, Path: "/v1/events", Tags: tags,
		Summary:       "Publish an event",
		Description:   "Answers 202 once the event and one delivery per subscribed endpoint are committed to disk together.",
		DefaultStatus: http.StatusAccepted,
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Repeats with the same key and body return the first result for at least 24 hours."`
		Body           EventInput
	}) (*struct {
		Replayed bool `header:"Idempotent-Replayed"`
		Body     PublishResult
	}, error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		now := clock()
		ev, err := s.eventFrom(ctx, sc, &in.Body, now)
		if err != nil {
			return nil, s.problem(err)
		}
		pub := store.Publication{Event: ev, IdempotencyKey: in.IdempotencyKey}
		if in.IdempotencyKey != "" {
			pub.RequestHash = requestHash(&in.Body)
		}
		res, err := s.store.Publish(ctx, sc, []store.Publication{pub})
		if err != nil {
			return nil, s.problem(err)
		}
		if res[0].Deliveries > 0 && !res[0].Replayed {
			s.cfg.Wake()
		}
		return &struct {
			Replayed bool `header:"Idempotent-Replayed"`
			Body     PublishResult
		}{res[0].Replayed, PublishResult{ID: res[0].EventID, Deliveries: res[0].Deliveries}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "publish-events", Method: http.MethodPost, Path: "/v1/events/batch", Tags: tags,
		Summary: "Publish up to 1,000 events at once",
		Description: "All or nothing: either every event and its deliveries are committed, or none is and the answer names " +
			"the first failing event's field (body.events[i]...). Each event may carry its own idempotency_key.",
		DefaultStatus: http.StatusAccepted,
		MaxBodyBytes:  maxBatchBody,
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		Body struct {
			Events []batchItem `json:"events" minItems:"1" maxItems:"1000"`
		}
	}) (*Body[*List[batchResult]], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		now := clock()
		pubs := make([]store.Publication, len(in.Body.Events))
		for i := range in.Body.Events {
			item := &in.Body.Events[i]
			ev, err := s.eventFrom(ctx, sc, &item.EventInput, now)
			if err != nil {
				return nil, s.problem(within(fmt.Sprintf("events[%d].", i), err))
			}
			pubs[i] = store.Publication{Event: ev, IdempotencyKey: item.IdempotencyKey}
			if item.IdempotencyKey != "" {
				pubs[i].RequestHash = requestHash(&item.EventInput)
			}
		}
		res, err := s.store.Publish(ctx, sc, pubs)
		if err != nil {
			return nil, s.problem(err)
		}
		out := make([]batchResult, len(res))
		wake := false
		for i, r := range res {
			out[i] = batchResult{PublishResult: PublishResult{ID: r.EventID, Deliveries: r.Deliveries}, Replayed: r.Replayed}
			wake = wake || (r.Deliveries > 0 && !r.Replayed)
		}
		if wake {
			s.cfg.Wake()
		}
		return &Body[*List[batchResult]]{Body: &List[batchResult]{Data: out}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-events", Method: http.MethodGet, Path: "/v1/events", Tags: tags,
		Summary: "List events, oldest first",
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		After string `query:"after" doc:"An event id: list the events after it."`
		Limit int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	}) (*Body[*List[domain.Event]], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		p := store.Page{Cursor: in.After, Limit: in.Limit}.Clamp()
		evs, err := s.store.ListEvents(ctx, sc, p)
		if err != nil {
			return nil, s.problem(err)
		}
		for i := range evs {
			redact(&evs[i])
		}
		return &Body[*List[domain.Event]]{Body: listOf(evs, p.Limit, func(e *domain.Event) string { return e.ID })}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-event", Method: http.MethodGet, Path: "/v1/events/{id}", Tags: tags,
		Summary: "Get an event",
	}, func(ctx context.Context, in *scopedID) (*Body[*domain.Event], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		ev, err := s.store.GetEvent(ctx, sc, in.ID)
		if err != nil {
			return nil, s.problem(err)
		}
		redact(ev)
		return &Body[*domain.Event]{Body: ev}, nil
	})
}

// eventFrom validates a publish request and builds its event. Its
// validation errors name fields relative to the event.
func (s *Server) eventFrom(ctx context.Context, sc domain.Scope, b *EventInput, now time.Time) (domain.Event, error) {
	if err := domain.ValidateEventTypeName("type", b.Type); err != nil {
		return domain.Event{}, err
	}
	if !isObject(b.Data) {
		return domain.Event{}, domain.Invalid("data", "must be a JSON object")
	}
	ev := domain.Event{
		ID: domain.NewIDAt(domain.PrefixEvent, now), TenantID: sc.TenantID, Environment: sc.Environment,
		Type: b.Type, Final: b.Final, Data: compact(b.Data), CreatedAt: now,
	}
	if b.Job != nil {
		ev.Job = &domain.Job{ID: b.Job.ID, Kind: b.Job.Kind}
		if b.Job.CallbackURL != "" {
			u, err := s.jobCallbackURL(ctx, sc, "job.callback_url", b.Job.CallbackURL)
			if err != nil {
				return domain.Event{}, err
			}
			ev.Job.CallbackURL = u
		}
		if !isNull(b.Job.PartnerParams) {
			if !isObject(b.Job.PartnerParams) {
				return domain.Event{}, domain.Invalid("job.partner_params", "must be a JSON object")
			}
			ev.Job.PartnerParams = compact(b.Job.PartnerParams)
		}
	}
	typ, sch, err := s.schemas.get(ctx, b.Type)
	if err != nil {
		return domain.Event{}, err
	}
	if sch != nil {
		if err := validateData(sch, ev.Data, "data"); err != nil {
			return domain.Event{}, err
		}
	}
	if typ != nil {
		ev.Sensitive = typ.Sensitive
		if typ.TTLSeconds > 0 {
			exp := now.Add(time.Duration(typ.TTLSeconds) * time.Second)
			ev.ExpiresAt = &exp
		}
	}
	return ev, nil
}

// redact hides a sensitive event's data: the API never shows it.
func redact(ev *domain.Event) {
	if ev.Sensitive {
		ev.Data = domain.Redacted
	}
}

func isObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// compact strips insignificant whitespace so stored and sent bodies are
// small; the JSON was already validated.
func compact(b json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}
