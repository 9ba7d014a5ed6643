package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/domain"
)

// EventSpec is an event as a publisher gives it.
type EventSpec struct {
	Type string
	// Data must be a JSON object, valid against the type's schema when the
	// type is registered with one.
	Data json.RawMessage
	// DecodedData, when not nil, is Data already decoded as the schema
	// check decodes it (jsonschema.UnmarshalJSON: numbers as json.Number),
	// so the check does not decode it again.
	DecodedData any
	Job         *JobSpec
	Final       bool
}

// JobSpec is a job as a publisher gives it, with an event or ahead of its
// events.
type JobSpec struct {
	ID   string
	Kind string
	// PartnerParams, when given, must be a JSON object.
	PartnerParams json.RawMessage
	// CallbackURL, when given, needs a default callback endpoint in the
	// scope: its secret and settings sign and send to this URL.
	CallbackURL string
}

// NewEvent checks what a publisher gave and builds its event, created at
// now. Its validation errors name fields relative to the event ("data",
// "job.callback_url").
func (m *Manager) NewEvent(ctx context.Context, sc domain.Scope, in *EventSpec, now time.Time) (domain.Event, error) {
	if err := domain.ValidateEventTypeName("type", in.Type); err != nil {
		return domain.Event{}, err
	}
	if !domain.IsJSONObject(in.Data) {
		return domain.Event{}, domain.Invalid("data", "must be a JSON object")
	}
	ev := domain.Event{
		ID: domain.NewIDAt(domain.PrefixEvent, now), TenantID: sc.TenantID, Environment: sc.Environment,
		Type: in.Type, Final: in.Final, Data: compact(in.Data), CreatedAt: now,
	}
	if in.Job != nil {
		j, err := m.job(ctx, sc, in.Job, "job.")
		if err != nil {
			return domain.Event{}, err
		}
		ev.Job = j
	}
	typ, sch, err := m.schemas.get(ctx, in.Type)
	if err != nil {
		return domain.Event{}, err
	}
	if sch != nil {
		if in.DecodedData != nil {
			err = validateDecoded(sch, in.DecodedData, "data")
		} else {
			err = validateData(sch, ev.Data, "data")
		}
		if err != nil {
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

// PutJob registers a job ahead of its events, or changes its partner
// params and callback URL.
func (m *Manager) PutJob(ctx context.Context, sc domain.Scope, in *JobSpec) (*domain.JobRecord, error) {
	j, err := m.job(ctx, sc, in, "")
	if err != nil {
		return nil, err
	}
	return m.store.PutJob(ctx, sc, j, domain.Now())
}

// job checks a job as given; field prefixes the names in its validation
// errors.
func (m *Manager) job(ctx context.Context, sc domain.Scope, in *JobSpec, field string) (*domain.Job, error) {
	j := &domain.Job{ID: in.ID, Kind: in.Kind}
	if !domain.IsJSONNull(in.PartnerParams) {
		if !domain.IsJSONObject(in.PartnerParams) {
			return nil, domain.Invalid(field+"partner_params", "must be a JSON object")
		}
		if why := unreadableJSON(in.PartnerParams); why != "" {
			return nil, domain.Invalid(field+"partner_params", "%s", why)
		}
		// Kept as received, not compacted: receivers echo them back and
		// compare (docs/delivery.md, partner params).
		j.PartnerParams = bytes.TrimSpace(in.PartnerParams)
	}
	if in.CallbackURL != "" {
		u, err := m.jobCallbackURL(ctx, sc, field+"callback_url", in.CallbackURL)
		if err != nil {
			return nil, err
		}
		j.CallbackURL = u
	}
	return j, nil
}

// compact strips insignificant whitespace so stored and sent bodies are
// small; the JSON was already validated.
func compact(b json.RawMessage) json.RawMessage {
	// Without whitespace outside its strings it is compact already: keep
	// it rather than hold a second copy of a large body while the publish
	// is worked on (a space inside a string, "Basic KYC", is common and
	// sent every such body through json.Compact).
	if !spacedOutsideStrings(b) {
		return b
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// spacedOutsideStrings reports whether valid JSON b has whitespace
// json.Compact would remove: any outside its strings.
func spacedOutsideStrings(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++ // the escaped byte, a quote perhaps
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			return true
		}
	}
	return false
}

// unreadableJSON says why PostgreSQL could not read raw JSON as jsonb (the
// partner-param search and erasure do): invalid UTF-8, or a NUL character
// in a string. One such job would fail every search of its scope.
func unreadableJSON(raw []byte) string {
	if !utf8.Valid(raw) {
		return "must be valid UTF-8"
	}
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return ""
	}
	// The text is there; whether a string holds NUL (and not an escaped
	// backslash before "u0000") is for the decoder to say.
	var v any
	if json.Unmarshal(raw, &v) == nil && holdsNUL(v) {
		return `must not contain the NUL character (\u0000)`
	}
	return ""
}

func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case map[string]any:
		for k, x := range v {
			if strings.ContainsRune(k, 0) || holdsNUL(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if holdsNUL(x) {
				return true
			}
		}
	}
	return false
}
