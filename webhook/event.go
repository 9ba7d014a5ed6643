package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// MaxBodySize is the largest request body [Verifier.ParseRequest] reads,
// 10 MiB. The limit keeps a hostile client from making a receiver buffer an
// unbounded body.
const MaxBodySize = 10 << 20

// Job is the asynchronous verification an [Event] is about. Every event of
// one job carries the same Job, so receivers can correlate them.
type Job struct {
	// ID identifies the job.
	ID string `json:"id"`
	// Kind is the kind of job, when it has one.
	Kind string `json:"kind,omitempty"`
	// PartnerParams is echoed back verbatim from the request that created
	// the job, for the receiver's own bookkeeping.
	PartnerParams json.RawMessage `json:"partner_params,omitempty"`
}

// Event is Herald's envelope as a receiver sees it: the JSON body of every
// callback. Decode it with [Verifier.Parse] or [Verifier.ParseRequest], which
// verify the signature first. Unknown fields are ignored, so new fields can
// be added without breaking receivers.
type Event struct {
	// ID identifies the event. Herald retries a delivery until the receiver
	// answers 2xx, so the same event can arrive more than once; receivers
	// should use ID to process it only once.
	ID string `json:"id"`
	// Type is the dot-separated event type, e.g. "verification.approved".
	Type string `json:"type"`
	// Timestamp is when the event happened, not when it was delivered.
	Timestamp time.Time `json:"timestamp"`
	// Environment is "sandbox" or "production": the tenant's test traffic
	// is kept apart from its live traffic, and a receiver serving both
	// should check it.
	Environment string `json:"environment"`
	// TenantID identifies the tenant that owns the event.
	TenantID string `json:"tenant_id"`
	// Job is the job the event is about, if any.
	Job *Job `json:"job,omitempty"`
	// Final is set on the last event of a job: no more will follow for it.
	Final bool `json:"final,omitempty"`
	// Test is set on events sent only to try an endpoint out; they
	// describe no real activity and should not be acted upon.
	Test bool `json:"test,omitempty"`
	// Data is the type-specific payload; decode it according to Type.
	Data json.RawMessage `json:"data,omitempty"`
}

// Parse verifies body against the webhook headers in h, as
// [Verifier.Verify] does, and only then decodes it as an [Event]. Receivers
// that read the body themselves use it; others use [Verifier.ParseRequest].
func (v *Verifier) Parse(h http.Header, body []byte) (*Event, error) {
	if err := v.Verify(h, body); err != nil {
		return nil, err
	}
	return decodeEvent(body)
}

// ParseRequest verifies and decodes the callback in r, reading at most
// [MaxBodySize] bytes of its body (larger bodies fail with
// [ErrBodyTooLarge]). Headers and timestamp are checked before the body is
// read, so unsigned or stale requests are rejected cheaply. Any error means
// the request must not be trusted; answer it with a 4xx status.
func (v *Verifier) ParseRequest(r *http.Request) (*Event, error) {
	id, ts, sig, err := v.checkHeaders(r.Header, time.Now())
	if err != nil {
		return nil, err
	}
	var body []byte
	if r.Body != nil {
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
		if err != nil {
			return nil, fmt.Errorf("webhook: read body: %w", err)
		}
		if len(body) > MaxBodySize {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, MaxBodySize)
		}
	}
	if err := v.checkSignature(id, ts, sig, body); err != nil {
		return nil, err
	}
	return decodeEvent(body)
}

func decodeEvent(body []byte) (*Event, error) {
	ev := new(Event)
	if err := json.Unmarshal(body, ev); err != nil {
		return nil, fmt.Errorf("webhook: decode event: %w", err)
	}
	return ev, nil
}
