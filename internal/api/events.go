package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/manage"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/telemetry"
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
	// decodedData is Data decoded for the schema check, when the single
	// publish's decode has it (event_body.go).
	decodedData any
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

type publishInput struct {
	ScopeHeaders
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Repeats with the same key and body return the first result for at least 24 hours."`
	// RawBody is decoded by Resolve into event (event_body.go); the
	// document describes it as an EventInput.
	RawBody []byte `contentType:"application/json"`
	event   EventInput
}

type publishOutput struct {
	Replayed bool `header:"Idempotent-Replayed"`
	Body     PublishResult
}

type batchBody struct {
	Events []batchItem `json:"events" minItems:"1" maxItems:"1000"`
}

type publishBatchInput struct {
	ScopeHeaders
	Body batchBody
}

type listEventsInput struct {
	ScopeHeaders
	After string `query:"after" doc:"An event id: list the events after it."`
	Limit int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

// spec is the event as the rules take it.
func (in *EventInput) spec() *manage.EventSpec {
	e := &manage.EventSpec{Type: in.Type, Data: in.Data, DecodedData: in.decodedData, Final: in.Final}
	if in.Job != nil {
		e.Job = in.Job.spec()
	}
	return e
}

// spec is the job as the rules take it.
func (j *jobRef) spec() *manage.JobSpec {
	return &manage.JobSpec{ID: j.ID, Kind: j.Kind, PartnerParams: j.PartnerParams, CallbackURL: j.CallbackURL}
}

// publication builds an event for the store, with its idempotency key.
func (s *Server) publication(ctx context.Context, sc domain.Scope, in *EventInput, idempotencyKey string, now time.Time) (store.Publication, error) {
	// Only Herald publishes its operational events, so that receivers can
	// trust an endpoint.disabled; a test send may still use their types.
	if domain.IsSignalType(in.Type) {
		return store.Publication{}, domain.Invalid("type", "%s is an operational event: Herald publishes it itself (docs/operational-events.md); a test send (POST /v1/endpoints/{id}/test) may use it", in.Type)
	}
	ev, err := s.rules.NewEvent(ctx, sc, in.spec(), now)
	if err != nil {
		return store.Publication{}, err
	}
	p := store.Publication{Event: ev, IdempotencyKey: idempotencyKey}
	if idempotencyKey != "" {
		p.RequestHash = requestHash(in)
	}
	return p, nil
}

func (s *Server) publishEvent(ctx context.Context, in *publishInput) (_ *publishOutput, err error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	ctx, span := s.cfg.Tracing.StartPublish(ctx, sc, 1)
	var traced telemetry.PublishResult
	defer func() { span.End(traced, err) }()
	pub, err := s.publication(ctx, sc, &in.event, in.IdempotencyKey, domain.Now())
	if err != nil {
		return nil, s.problem(err)
	}
	pub.Event.TraceParent = span.Traceparent()
	res, err := s.publish(ctx, sc, []store.Publication{pub})
	if err != nil {
		return nil, s.problem(err)
	}
	traced = tracedResult(res)
	traced.EventID, traced.EventType = res[0].EventID, pub.Event.Type
	if waiting(&res[0]) {
		s.cfg.Wake()
	}
	return &publishOutput{Replayed: res[0].Replayed, Body: PublishResult{ID: res[0].EventID, Deliveries: res[0].Deliveries}}, nil
}

// waiting reports whether a publish left deliveries for a claim to take:
// new ones that were not handed to the dispatcher at publish.
func waiting(r *store.PublishResult) bool {
	return !r.Replayed && r.Deliveries > r.HandedOff
}

// tracedResult is what a publish span records of a publish: how many
// deliveries were made and how many events replayed.
func tracedResult(res []store.PublishResult) telemetry.PublishResult {
	var r telemetry.PublishResult
	for _, p := range res {
		if p.Replayed {
			r.Replayed++
		} else {
			r.Deliveries += p.Deliveries
		}
	}
	return r
}

func (s *Server) publishEvents(ctx context.Context, in *publishBatchInput) (_ *Body[*List[batchResult]], err error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	ctx, span := s.cfg.Tracing.StartPublish(ctx, sc, len(in.Body.Events))
	var traced telemetry.PublishResult
	defer func() { span.End(traced, err) }()
	now := domain.Now()
	traceparent := span.Traceparent()
	pubs := make([]store.Publication, len(in.Body.Events))
	for i := range in.Body.Events {
		item := &in.Body.Events[i]
		if pubs[i], err = s.publication(ctx, sc, &item.EventInput, item.IdempotencyKey, now); err != nil {
			return nil, s.problem(within(fmt.Sprintf("events[%d].", i), err))
		}
		pubs[i].Event.TraceParent = traceparent
	}
	res, err := s.publish(ctx, sc, pubs)
	if err != nil {
		return nil, s.problem(err)
	}
	traced = tracedResult(res)
	out := make([]batchResult, len(res))
	wake := false
	for i, r := range res {
		out[i] = batchResult{PublishResult: PublishResult{ID: r.EventID, Deliveries: r.Deliveries}, Replayed: r.Replayed}
		wake = wake || waiting(&r)
	}
	if wake {
		s.cfg.Wake()
	}
	return &Body[*List[batchResult]]{Body: &List[batchResult]{Data: out}}, nil
}

// publish commits events and counts those accepted (a replayed
// idempotency key is not a new event).
func (s *Server) publish(ctx context.Context, sc domain.Scope, pubs []store.Publication) ([]store.PublishResult, error) {
	start := time.Now()
	res, err := s.store.Publish(ctx, sc, pubs)
	s.cfg.Metrics.StoreDuration("publish", time.Since(start))
	if err != nil {
		return nil, err
	}
	n := 0
	for _, r := range res {
		if !r.Replayed {
			n++
		}
	}
	s.cfg.Metrics.Published(sc, n)
	return res, nil
}

func (s *Server) listEvents(ctx context.Context, in *listEventsInput) (*Body[*List[domain.Event]], error) {
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
}

func (s *Server) getEvent(ctx context.Context, in *scopedID) (*Body[*domain.Event], error) {
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
}

// redact hides a sensitive event's data: the API never shows it.
func redact(ev *domain.Event) {
	if ev.Sensitive {
		ev.Data = domain.Redacted
	}
}
