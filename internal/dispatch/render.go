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
	// modeThinParams is thin with the job's partner params kept
	// (thin_partner_params).
	modeThinParams
)

func parsePayloadMode(s string, thinParams bool) payloadMode {
	switch s {
	case domain.PayloadRaw:
		return modeRaw
	case domain.PayloadThin:
		if thinParams {
			return modeThinParams
		}
		return modeThin
	}
	return modeEnvelope // "" and envelope
}

// envelope is the default body's head: DESIGN.md's wire format up to the
// job, which render appends with final, test and the data.
type envelope struct {
	ID          string             `json:"id"`
	Type        string             `json:"type"`
	Timestamp   string             `json:"timestamp"`
	Environment domain.Environment `json:"environment"`
	TenantID    string             `json:"tenant_id"`
}

func renderEnvelope(ev *domain.Event) []byte { return render(ev, modeEnvelope) }

// render makes the body of an event in a payload mode. It is a function
// of the event alone, so a retry renders the same bytes.
func render(ev *domain.Event, mode payloadMode) []byte {
	if mode == modeRaw {
		if len(bytes.TrimSpace(ev.Data)) == 0 {
			return []byte("null")
		}
		return ev.Data
	}
	head, err := json.Marshal(envelope{
		ID: ev.ID, Type: ev.Type, Timestamp: ev.CreatedAt.UTC().Format(time.RFC3339),
		Environment: ev.Environment, TenantID: ev.TenantID,
	})
	if err != nil {
		panic("dispatch: render body: " + err.Error())
	}
	// The job's partner params and the data go in as they are stored:
	// partner params byte for byte as published (encoding/json would
	// compact them and escape <, > and &), the data as validated and
	// compacted at publish (encoding/json would check and compact it again
	// for every delivery). A thin body carries no data, nor partner params
	// unless the endpoint asks for them.
	out := make([]byte, 0, len(head)+128+len(ev.Data))
	out = append(out, head[:len(head)-1]...)
	if ev.Job != nil {
		out = ev.Job.AppendJSON(append(out, `,"job":`...), mode != modeThin)
	}
	if ev.Final {
		out = append(out, `,"final":true`...)
	}
	if ev.Test {
		out = append(out, `,"test":true`...)
	}
	if mode == modeEnvelope && len(ev.Data) > 0 {
		out = append(append(out, `,"data":`...), ev.Data...)
	}
	return append(out, '}')
}
