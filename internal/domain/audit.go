package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// PrefixAudit is the prefix of audit log entries' ids.
const PrefixAudit = "aud"

// Who made a change.
const (
	ActorOperator        = "operator"         // the operator token
	ActorOperatorSession = "operator_session" // a person signed in to the console
	ActorAPIKey          = "api_key"          // a tenant's API key
	ActorPortalSession   = "portal_session"   // a person signed in to the tenant portal
)

// Masked is how the audit log shows a secret's value: that it was set or
// changed, never what it is.
const Masked = "****"

// AuditEntry is one change: who made it (ActorType, ActorID: a key id or a
// portal or console session id; empty for the operator token), what
// (Action on ResourceType ResourceID), when, from where, and the fields it
// changed, secrets masked. TenantID is empty for operator-level changes
// (event types, console sign-ins); Environment is empty for a tenant's own
// settings.
type AuditEntry struct {
	ID           string                 `json:"id"`
	TenantID     string                 `json:"tenant_id,omitempty"`
	Environment  Environment            `json:"environment,omitempty"`
	At           time.Time              `json:"at"`
	ActorType    string                 `json:"actor_type" enum:"operator,operator_session,api_key,portal_session"`
	ActorID      string                 `json:"actor_id,omitempty" doc:"The API key id, or the portal or console session id; absent for the operator token."`
	Action       string                 `json:"action" example:"endpoint.updated" doc:"<resource>.<verb>: tenant.created, endpoint.paused, endpoint.secret_rotated, api_key.revoked, portal_session.signed_in, …"`
	ResourceType string                 `json:"resource_type" example:"endpoint"`
	ResourceID   string                 `json:"resource_id,omitempty"`
	ClientIP     string                 `json:"client_ip,omitempty"`
	UserAgent    string                 `json:"user_agent,omitempty"`
	Changes      map[string]FieldChange `json:"changes,omitempty" doc:"The fields the change set, each with its value before (from) and after (to). Secrets are \"****\"."`
}

// FieldChange is one field's value before and after a change; a field
// that was not there before (or is gone after) has no from (to).
type FieldChange struct {
	From any `json:"from,omitempty"`
	To   any `json:"to,omitempty"`
}

// Longest values the audit log keeps of one field and of a user agent:
// bounds on a row, not on what may be set (a CA bundle is up to 64 KiB).
const (
	maxAuditValue     = 2048
	MaxAuditUserAgent = 512
)

// Snapshot is a resource as it stands, field by field, twice: as stored
// (Raw, secrets and all, to tell what changed) and as the API shows it
// (Shown, secrets masked, which is all the log keeps). It lives in memory
// only, for the length of a request.
type Snapshot struct {
	raw, shown map[string]json.RawMessage
}

// Snap takes a snapshot of a resource: raw is its stored form, shown the
// form the API answers with (the same value when it holds no secret). A
// nil raw is "nothing" (before a creation, after a deletion).
func Snap(raw, shown any) (Snapshot, error) {
	r, err := fields(raw)
	if err != nil {
		return Snapshot{}, err
	}
	sh, err := fields(shown)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{raw: r, shown: sh}, nil
}

// SetSecret adds a write-only field the API never shows (a signing
// secret): compared by its value, shown as Masked when set.
func (s *Snapshot) SetSecret(name, value string) {
	if value == "" {
		return
	}
	if s.raw == nil {
		s.raw, s.shown = map[string]json.RawMessage{}, map[string]json.RawMessage{}
	}
	s.raw[name], _ = json.Marshal(value)
	s.shown[name] = json.RawMessage(`"` + Masked + `"`)
}

// Changes is what differs from before to after: each top-level field whose
// stored value changed, with its shown values (so a changed password reads
// "****" to "****"). Before a creation every field of after is listed; for
// a deletion, every field of before.
func Changes(before, after Snapshot) map[string]FieldChange {
	keys := slices.Sorted(maps.Keys(after.raw))
	for k := range before.raw {
		if _, ok := after.raw[k]; !ok {
			keys = append(keys, k)
		}
	}
	out := map[string]FieldChange{}
	for _, k := range keys {
		from, had := before.raw[k]
		to, has := after.raw[k]
		// Every change moves updated_at; the entry's own time says when.
		if k == "updated_at" || had && has && bytes.Equal(from, to) {
			continue
		}
		var c FieldChange
		if had {
			c.From = auditValue(shownOf(before, k))
		}
		if has {
			c.To = auditValue(shownOf(after, k))
		}
		out[k] = c
	}
	return out
}

// shownOf is a field's shown value; a field the shown form leaves out
// (write-only) is Masked.
func shownOf(s Snapshot, k string) json.RawMessage {
	if v, ok := s.shown[k]; ok {
		return v
	}
	return json.RawMessage(`"` + Masked + `"`)
}

// fields is v's JSON object, field by field (compact).
func fields(v any) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if v == nil {
		return m, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if string(raw) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("audit: %T is not an object: %w", v, err)
	}
	for k, f := range m {
		var c bytes.Buffer
		if json.Compact(&c, f) == nil {
			m[k] = c.Bytes()
		}
	}
	return m, nil
}

// auditValue is a field's value as the log keeps it, cut short when it is
// long (then a string saying how long it was).
func auditValue(raw json.RawMessage) any {
	if len(raw) > maxAuditValue {
		return fmt.Sprintf("(%d bytes)", len(raw))
	}
	return raw
}
