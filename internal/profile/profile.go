// Package profile holds Herald's built-in delivery profiles: for each
// reference platform, the body its receivers expect and the signatures,
// success rule and retry policy its document defines. It does no I/O: the
// dispatcher renders bodies with it, the API lists it and validates an
// endpoint's profile options with it.
//
// Each body is a Go renderer that appends bytes. The profile's jq program
// (docs/profiles.md, and testdata/*.jq where the tests run it on gojq as the
// oracle) is its definition; the renderer exists because gojq sorts object
// keys, re-encodes partner params and costs about 35 times standard's CPU.
package profile

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// Option types, named as JSON Schema names them.
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeStringMap = "object" // an object whose values are strings
)

// Profile is one built-in profile: what it sets on an endpoint that names
// it, each overridable by the endpoint's own settings.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Document is the contract the profile follows.
	Document string   `json:"document"`
	Options  []Option `json:"options"`
	// Signatures are computed over the final body, in this order.
	Signatures        []SignatureSetting `json:"signatures"`
	Success           string             `json:"success"`
	SuccessFalseFails bool               `json:"success_false_fails"`
	RetryPolicy       string             `json:"retry_policy"`
	IdenticalRetries  bool               `json:"identical_retries"`
	// EventTypes is the filter an endpoint gets when created with the
	// profile and no event_types; nil is every type.
	EventTypes []string `json:"event_types"`
	// TypeNames maps Herald's catalog types to the document's names. A type
	// it does not name goes out under Herald's name.
	TypeNames []TypeName `json:"type_names"`

	render func(dst []byte, in *Input, s *settings, sc *scratch) []byte
}

// Option is one of a profile's profile_options.
type Option struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	// Secret options are write-only: sealed at rest, shown as "****", and
	// never given to a body renderer; a signature scheme uses them.
	Secret  bool            `json:"secret"`
	Default json.RawMessage `json:"default,omitempty"`
	Doc     string          `json:"doc"`
}

// SignatureSetting is one of the signatures a profile sets. The fields are the
// endpoint's `signatures[]` fields; the *Option fields name the profile
// option that supplies each secret value.
type SignatureSetting struct {
	Scheme   string `json:"scheme"`
	Header   string `json:"header,omitempty"`
	Key      string `json:"key,omitempty"`
	Field    string `json:"field,omitempty"`
	Position string `json:"position,omitempty"`
	// SecretOption feeds hmac-sha256-hex's secret (with Key text).
	SecretOption string `json:"secret_option,omitempty"`
	// PartnerIDOption and APIKeyOption feed body-signature's partner_id and
	// api_key, and APIKeyOption body-api-key's api_key.
	PartnerIDOption string `json:"partner_id_option,omitempty"`
	APIKeyOption    string `json:"api_key_option,omitempty"`
}

// TypeName is one entry of a profile's type-name mapping.
type TypeName struct {
	Type string `json:"type"`
	Name string `json:"name"`
	// When, if set, is the condition under which Type takes Name.
	When string `json:"when,omitempty"`
}

// Input is what a body is made of: the envelope Herald would send.
type Input struct {
	ID          string
	Type        string
	Timestamp   string // the event time, RFC 3339 to the second
	Environment string
	TenantID    string
	Job         *Job // nil when the event names no job
	Final       bool
	Test        bool
	Data        json.RawMessage // an object, as stored
}

// Job is the envelope's job.
type Job struct {
	ID            string
	Kind          string
	PartnerParams json.RawMessage // an object as received, or nil
}

// NewInput is the input of an event's body.
func NewInput(ev *domain.Event) Input {
	in := Input{
		ID: ev.ID, Type: ev.Type, Timestamp: ev.CreatedAt.UTC().Format(time.RFC3339),
		Environment: string(ev.Environment), TenantID: ev.TenantID, Final: ev.Final, Test: ev.Test, Data: ev.Data,
	}
	if ev.Job != nil {
		in.Job = &Job{ID: ev.Job.ID, Kind: ev.Job.Kind, PartnerParams: ev.Job.PartnerParams}
	}
	return in
}

// partnerParams is the job's partner params, nil without.
func (in *Input) partnerParams() []byte {
	if in.Job == nil || len(in.Job.PartnerParams) == 0 {
		return nil
	}
	return in.Job.PartnerParams
}

var registry = []*Profile{standard, smileID, incode, smartKYC, identomat, idwise}

// All is every built-in profile, standard first.
func All() []*Profile { return registry }

// Get is the built-in profile of that name.
func Get(name string) (*Profile, bool) {
	for _, p := range registry {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// Renderer renders bodies for one endpoint: a profile with its options read
// once.
type Renderer struct {
	render func(dst []byte, in *Input, s *settings, sc *scratch) []byte
	s      settings
}

// scratch is a render's working memory, pooled: allocating it for every
// body cost more than the rendering.
type scratch struct {
	data, sub   []member
	fields, out []objField
}

var scratches = sync.Pool{New: func() any {
	return &scratch{data: make([]member, 0, 32), sub: make([]member, 0, 16),
		fields: make([]objField, 0, 32), out: make([]objField, 0, 32)}
}}

// Renderer reads opts (validated as ValidateOptions does) into a renderer.
func (p *Profile) Renderer(opts map[string]json.RawMessage) (*Renderer, error) {
	s, err := p.settings(opts)
	if err != nil {
		return nil, err
	}
	return &Renderer{render: p.render, s: s}, nil
}

// Append appends the body of in to dst.
func (r *Renderer) Append(dst []byte, in *Input) []byte {
	sc := scratches.Get().(*scratch)
	dst = r.render(dst, in, &r.s, sc)
	// Drop the references into this event's bytes before pooling.
	clear(sc.data[:cap(sc.data)])
	clear(sc.sub[:cap(sc.sub)])
	clear(sc.fields[:cap(sc.fields)])
	clear(sc.out[:cap(sc.out)])
	scratches.Put(sc)
	return dst
}
