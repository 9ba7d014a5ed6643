package telemetry

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/domain"
)

// Span names, as docs/operations.md lists them.
const (
	SpanPublish = "herald.publish"
	SpanAttempt = "herald.attempt"
)

// Attribute keys. Spans carry ids, counts, statuses and error classes:
// never a body, a header, a URL (which may hold a token) or an error's text.
const (
	AttrTenant         = attribute.Key("herald.tenant.id")
	AttrEnvironment    = attribute.Key("herald.environment")
	AttrEventCount     = attribute.Key("herald.event.count")
	AttrEventID        = attribute.Key("herald.event.id")
	AttrEventType      = attribute.Key("herald.event.type")
	AttrDeliveries     = attribute.Key("herald.deliveries")
	AttrReplayed       = attribute.Key("herald.replayed")
	AttrEndpoint       = attribute.Key("herald.endpoint.id")
	AttrDelivery       = attribute.Key("herald.delivery.id")
	AttrAttempt        = attribute.Key("herald.attempt.id")
	AttrAttemptNumber  = attribute.Key("herald.attempt.number")
	AttrDeliveryStatus = attribute.Key("herald.delivery.status")
	AttrTest           = attribute.Key("herald.test")
	// The OpenTelemetry semantic conventions' own.
	AttrHTTPMethod = attribute.Key("http.request.method")
	AttrHTTPStatus = attribute.Key("http.response.status_code")
	AttrErrorType  = attribute.Key("error.type")
)

// PublishSpan is the span of one publish request; its zero value (tracing
// off) does nothing.
type PublishSpan struct{ span trace.Span }

// StartPublish starts the span of a publish request of n events into
// scope s, a child of the trace context the request carried in, if any.
func (t *Tracing) StartPublish(ctx context.Context, s domain.Scope, n int) (context.Context, PublishSpan) {
	if t == nil {
		return ctx, PublishSpan{}
	}
	ctx, span := t.tracer.Start(ctx, SpanPublish, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		AttrTenant.String(s.TenantID), AttrEnvironment.String(string(s.Environment)), AttrEventCount.Int(n)))
	return ctx, PublishSpan{span: span}
}

// Traceparent is what the span's events are stored with, so that their
// attempts join its trace: "" when tracing is off.
func (p PublishSpan) Traceparent() string {
	if p.span == nil {
		return ""
	}
	return traceparent(trace.ContextWithSpan(context.Background(), p.span))
}

// PublishResult is what a publish span records when it ends.
type PublishResult struct {
	// EventID and EventType name the one event of a single publish; a
	// batch names none.
	EventID, EventType string
	Deliveries         int
	Replayed           int
}

// End ends the span with the publish's result, or with the class of err
// when the publish failed.
func (p PublishSpan) End(r PublishResult, err error) {
	if p.span == nil {
		return
	}
	if r.EventID != "" {
		p.span.SetAttributes(AttrEventID.String(r.EventID), AttrEventType.String(r.EventType))
	}
	if err != nil {
		class := errorClass(err)
		p.span.SetAttributes(AttrErrorType.String(class))
		p.span.SetStatus(codes.Error, class)
	} else {
		p.span.SetAttributes(AttrDeliveries.Int(r.Deliveries), AttrReplayed.Int(r.Replayed))
	}
	p.span.End()
}

// errorClass names what kind of failure a publish met, without its text
// (a validation message may quote the data): the HTTP status it was
// answered with, as the semantic conventions' error.type has it.
func errorClass(err error) string {
	var se interface{ GetStatus() int }
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.GetStatus())
	case errors.As(err, &ve):
		return "validation"
	case errors.Is(err, domain.ErrConflict):
		return "conflict"
	case errors.Is(err, domain.ErrNotFound):
		return "not_found"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "_OTHER"
}

// RecordAttempt makes the span of an attempt that has just ended (at end)
// to endpointID, leaving the delivery in status, and returns the id of its
// trace when that trace is sampled. The span is a child of the span that
// published the event (ev.TraceParent), whichever process published it and
// however long ago; an event published with tracing off starts a trace of
// its own.
func (t *Tracing) RecordAttempt(ev *domain.Event, endpointID string, a *domain.Attempt, status string, end time.Time) string {
	if t == nil {
		return ""
	}
	attrs := []attribute.KeyValue{
		AttrTenant.String(ev.TenantID), AttrEnvironment.String(string(ev.Environment)),
		AttrEndpoint.String(endpointID), AttrEventID.String(ev.ID), AttrEventType.String(ev.Type),
		AttrDelivery.String(a.DeliveryID), AttrAttempt.String(a.ID), AttrAttemptNumber.Int(a.Number),
		AttrDeliveryStatus.String(status), AttrHTTPMethod.String("POST"),
	}
	if ev.Test {
		attrs = append(attrs, AttrTest.Bool(true))
	}
	if a.ResponseStatus > 0 {
		attrs = append(attrs, AttrHTTPStatus.Int(a.ResponseStatus))
	}
	_, span := t.tracer.Start(parent(ev.TraceParent), SpanAttempt, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(a.At), trace.WithAttributes(attrs...))
	if failed := a.ErrorClass != "" || (a.Error != "" && status != domain.DeliveryCancelled); failed {
		class := a.ErrorClass
		if class == "" {
			class = "body" // no body could be made for the endpoint
		}
		span.SetAttributes(AttrErrorType.String(class))
		desc := class
		if a.ResponseStatus > 0 {
			desc += " " + strconv.Itoa(a.ResponseStatus)
		}
		span.SetStatus(codes.Error, desc)
	}
	span.End(until(end))
	return traceID(span)
}
