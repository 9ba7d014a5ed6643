package dispatch

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// payloadMode is an endpoint's domain.Payload* as a small key.
type payloadMode uint8

const (
	modeEnvelope payloadMode = iota
	modeRaw
	modeThin
)

func parsePayloadMode(s string) payloadMode {
	switch s {
	case domain.PayloadRaw:
		return modeRaw
	case domain.PayloadThin:
		return modeThin
	}
	return modeEnvelope // "" and envelope
}

// envelope is the default body: DESIGN.md's wire format. Without Data it
// is the thin body: the receiver fetches the event with GET /v1/events/{id}.
// (Published data is always an object, so an envelope never lacks it.)
type envelope struct {
	ID          string             `json:"id"`
	Type        string             `json:"type"`
	Timestamp   string             `json:"timestamp"`
	Environment domain.Environment `json:"environment"`
	TenantID    string             `json:"tenant_id"`
	Job         *domain.Job        `json:"job,omitempty"`
	Final       bool               `json:"final,omitempty"`
	Test        bool               `json:"test,omitempty"`
	Data        json.RawMessage    `json:"data,omitempty"`
}

func renderEnvelope(ev *domain.Event) []byte { return render(ev, modeEnvelope) }

// render makes the body of an event in a payload mode.
func render(ev *domain.Event, mode payloadMode) []byte {
	if mode == modeRaw {
		if len(bytes.TrimSpace(ev.Data)) == 0 {
			return []byte("null")
		}
		return ev.Data
	}
	env := envelope{
		ID: ev.ID, Type: ev.Type, Timestamp: ev.CreatedAt.UTC().Format(time.RFC3339),
		Environment: ev.Environment, TenantID: ev.TenantID, Job: ev.Job, Final: ev.Final, Test: ev.Test, Data: ev.Data,
	}
	// The data goes in as it is stored, after the rest is encoded: it was
	// validated and compacted at publish, and encoding/json would check
	// and compact the whole of it again for every delivery.
	env.Data = nil
	b, err := json.Marshal(env)
	if err != nil {
		panic("dispatch: render body: " + err.Error())
	}
	if mode == modeThin || len(ev.Data) == 0 {
		return b
	}
	// b is an object with members: it ends in '}'.
	out := make([]byte, 0, len(b)+len(`,"data":`)+len(ev.Data))
	out = append(append(append(out, b[:len(b)-1]...), `,"data":`...), ev.Data...)
	return append(out, '}')
}

// addMember returns a copy of the JSON object obj with member (an encoded
// `"name":value` pair) added as its last top-level member, so that it wins
// over a field of the same name for the usual last-one-wins parsers. It
// reports false when obj is not an object.
func addMember(obj, member []byte) ([]byte, bool) {
	b := bytes.TrimSpace(obj)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, false
	}
	empty := len(bytes.TrimSpace(b[1:len(b)-1])) == 0
	out := make([]byte, 0, len(b)+len(member)+1)
	out = append(out, b[:len(b)-1]...)
	if !empty {
		out = append(out, ',')
	}
	out = append(out, member...)
	return append(out, '}'), true
}
