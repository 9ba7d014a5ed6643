package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// TestSent is what a test send did: the event and delivery it made, the
// delivery's status after the attempt, and the attempt.
type TestSent struct {
	EventID    string
	DeliveryID string
	// Status is succeeded, or pending or failed by the endpoint's retry
	// policy.
	Status  string
	Attempt domain.Attempt
}

// TestSpec is a test send as asked.
type TestSpec struct {
	EventType string
	// Data, when absent, is the type's registered example.
	Data json.RawMessage
	// Job, when given, is the job the event names, so that a profile that
	// places job identifiers and partner params renders them. It reaches
	// the body only: the job of that id, if any, is not changed, and a test
	// takes no callback URL (it goes to the endpoint it names).
	Job *JobSpec
}

// TestSend sends an event of in.EventType, marked as a test, to one active
// endpoint now, and answers with what happened. The send stays in the
// delivery log, and is retried like any delivery.
func (m *Manager) TestSend(ctx context.Context, sc domain.Scope, endpointID string, in *TestSpec) (*TestSent, error) {
	if in.Job != nil && in.Job.CallbackURL != "" {
		return nil, domain.Invalid("job.callback_url", "a test send goes to the endpoint it names")
	}
	ep, err := m.store.GetEndpoint(ctx, sc, endpointID)
	if err != nil {
		return nil, err
	}
	if ep.Status != domain.EndpointActive {
		return nil, &domain.ConflictError{Msg: "the endpoint is " + ep.Status + "; set it active to send a test"}
	}
	eventType, data := in.EventType, in.Data
	if domain.IsJSONNull(data) {
		typ, _, err := m.schemas.get(ctx, eventType)
		if err != nil {
			return nil, err
		}
		if typ == nil || typ.Example == nil {
			return nil, domain.Invalid("event_type", "%q has no registered example; give data", eventType)
		}
		data = typ.Example
	}
	ev, err := m.NewEvent(ctx, sc, &EventSpec{Type: eventType, Data: data, Job: in.Job}, domain.Now())
	if err != nil {
		return nil, err
	}
	ev.Test = true
	if _, err := m.store.Publish(ctx, sc, []store.Publication{{Event: ev, OnlyEndpoint: ep.ID}}); err != nil {
		return nil, err
	}
	ds, err := m.store.ListDeliveries(ctx, sc, store.DeliveryFilter{EventID: ev.ID})
	if err != nil {
		return nil, fmt.Errorf("test send: find its delivery: %w", err)
	}
	if len(ds) != 1 {
		return nil, errors.New("test send: the delivery was not created")
	}
	o, err := m.cfg.Sender.SendNow(ctx, ds[0].ID)
	if err != nil {
		return nil, err
	}
	return &TestSent{EventID: ev.ID, DeliveryID: ds[0].ID, Status: o.Status, Attempt: o.Attempt}, nil
}

// Recover makes an endpoint's failed deliveries created in [since, until)
// due again now, with the same webhook-id, and says how many there were.
// A zero until means now.
func (m *Manager) Recover(ctx context.Context, sc domain.Scope, endpointID string, since, until time.Time) (int, error) {
	now := domain.Now()
	if until.IsZero() {
		until = now
	}
	if !since.Before(until) {
		return 0, domain.Invalid("since", "must be before until")
	}
	n, err := m.store.RecoverDeliveries(ctx, sc, endpointID, since, until, now)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		m.cfg.Wake()
	}
	return n, nil
}
