package api

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/profile"
)

// ProfileList is the built-in delivery profiles, standard first.
type ProfileList struct {
	Data []*profile.Profile `json:"data"`
}

func (s *Server) listProfiles(ctx context.Context, _ *noParams) (*Body[*ProfileList], error) {
	return &Body[*ProfileList]{Body: &ProfileList{Data: profile.All()}}, nil
}

// The endpoint settings a profile supplies, as EndpointFields names them.
const (
	fieldSignatures        = "signatures"
	fieldSuccess           = "success"
	fieldSuccessFalseFails = "success_false_fails"
	fieldRetryPolicy       = "retry_policy"
	fieldIdenticalRetries  = "identical_retries"
	fieldEventTypes        = "event_types"
)

var profileSettings = []string{fieldSignatures, fieldSuccess, fieldSuccessFalseFails, fieldRetryPolicy, fieldIdenticalRetries, fieldEventTypes}

// applyProfile sets the endpoint's profile and options and resolves the
// settings the profile supplies, at save time: the dispatcher then reads
// plain endpoint settings. A setting a request gives is the endpoint's own
// from then on; the others (ProfileFields) follow the profile. Choosing a
// profile (on create, or a PATCH that changes it) makes every setting the
// same request does not give the profile's; a change of options re-resolves
// the profile's settings (its signatures carry the secret options).
func applyProfile(e *domain.Endpoint, f *EndpointFields, creating bool) error {
	chosen := creating || (f.Profile != nil && *f.Profile != e.Profile)
	if f.Profile != nil {
		e.Profile = *f.Profile
	}
	if e.Profile == "" {
		e.Profile = domain.ProfileStandard
	}
	p, ok := profile.Get(e.Profile)
	if !ok {
		return profile.ValidateOptions(e.Profile, nil) // names the profiles
	}
	switch {
	case f.ProfileOptions != nil:
		opts, err := keptSecrets(p, f.ProfileOptions, e.ProfileOptions, chosen)
		if err != nil {
			return err
		}
		e.ProfileOptions = opts
	case chosen:
		e.ProfileOptions = nil
	}
	if err := profile.ValidateOptions(e.Profile, e.ProfileOptions); err != nil {
		return err
	}
	if e.Profile != domain.ProfileStandard && e.PayloadMode != domain.PayloadEnvelope {
		return domain.Invalid("payload_mode", "applies to profile standard only; profile %s makes its own body, so payload_mode must be envelope", e.Profile)
	}
	given := f.given()
	if chosen {
		e.ProfileFields = nil
		for _, name := range profileSettings {
			if !slices.Contains(given, name) {
				e.ProfileFields = append(e.ProfileFields, name)
			}
		}
	} else {
		e.ProfileFields = slices.DeleteFunc(slices.Clone(e.ProfileFields), func(name string) bool { return slices.Contains(given, name) })
	}
	if !chosen && f.ProfileOptions == nil {
		return nil
	}
	for _, name := range e.ProfileFields {
		switch name {
		case fieldSignatures:
			list, err := profileSignatures(p, e.ProfileOptions)
			if err != nil {
				return err
			}
			e.Signatures = list
		case fieldSuccess:
			e.Success = p.Success
		case fieldSuccessFalseFails:
			e.SuccessFalseFails = p.SuccessFalseFails
		case fieldRetryPolicy:
			e.RetryPolicy = domain.RetryPolicy{Preset: p.RetryPolicy}
		case fieldIdenticalRetries:
			e.IdenticalRetries = p.IdenticalRetries
		case fieldEventTypes:
			e.EventTypes = slices.Clone(p.EventTypes)
		}
	}
	return e.RetryPolicy.Normalize()
}

// given names the profile-supplied settings a request sets.
func (f *EndpointFields) given() []string {
	var out []string
	for _, g := range []struct {
		name string
		set  bool
	}{
		{fieldSignatures, f.Signatures != nil || f.CompatSignature != nil},
		{fieldSuccess, f.Success != nil},
		{fieldSuccessFalseFails, f.SuccessFalseFails != nil},
		{fieldRetryPolicy, f.RetryPolicy != nil},
		{fieldIdenticalRetries, f.IdenticalRetries != nil},
		{fieldEventTypes, f.EventTypes != nil},
	} {
		if g.set {
			out = append(out, g.name)
		}
	}
	return out
}

// keptSecrets is the options as given, except that a secret option given
// as "****" (as the API shows it) keeps its stored value, so that what was
// read can be written back. A newly chosen profile has nothing stored, so
// there the mask is refused rather than saved as the secret.
func keptSecrets(p *profile.Profile, given, stored map[string]json.RawMessage, chosen bool) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(given))
	for k, v := range given {
		if string(v) == `"****"` && p.SecretOption(k) {
			if chosen || stored[k] == nil {
				return nil, domain.Invalid("profile_options."+k, "**** is how a stored secret is shown, and none is stored for this profile: give the secret itself")
			}
			v = stored[k]
		}
		out[k] = v
	}
	return out, nil
}

// profileSignatures is the profile's signature list with its secrets taken
// from the options. Standard Webhooks alone is kept as the empty list, the
// default.
func profileSignatures(p *profile.Profile, opts map[string]json.RawMessage) ([]domain.Signature, error) {
	if len(p.Signatures) == 1 && p.Signatures[0].Scheme == domain.SchemeStandardWebhooks {
		return nil, nil
	}
	list := make([]domain.Signature, len(p.Signatures))
	for i, ps := range p.Signatures {
		list[i] = domain.Signature{Scheme: ps.Scheme, Header: ps.Header, Key: ps.Key, Field: ps.Field, Position: ps.Position,
			Secret: optionString(opts, ps.SecretOption), PartnerID: optionString(opts, ps.PartnerIDOption),
			APIKey: optionString(opts, ps.APIKeyOption)}
	}
	return domain.NormalizeSignatures(list)
}

func optionString(opts map[string]json.RawMessage, name string) string {
	var v string
	if name != "" {
		_ = json.Unmarshal(opts[name], &v) // validated
	}
	return v
}

// shownProfileOptions are the options as the API shows them: secret ones
// "****", never null.
func shownProfileOptions(e *domain.Endpoint) map[string]json.RawMessage {
	p, ok := profile.Get(e.Profile)
	if !ok || e.ProfileOptions == nil {
		return map[string]json.RawMessage{}
	}
	return p.Masked(e.ProfileOptions)
}

// previewBody is an endpoint configuration and an event.
type previewBody struct {
	EndpointID string          `json:"endpoint_id,omitempty" doc:"An endpoint of the scope to preview; the fields of endpoint, when given, apply over it (a preview of a change)."`
	Endpoint   *EndpointFields `json:"endpoint,omitempty" doc:"The endpoint's settings inline (profile, profile_options, signatures, payload_mode…). Without endpoint_id the Standard Webhooks signature uses a fresh secret."`
	EventID    string          `json:"event_id,omitempty" doc:"An event of the scope to preview."`
	Event      *EventInput     `json:"event,omitempty" doc:"The event, as it would be published (type, data, optional job with partner_params)."`
}

type previewInput struct {
	ScopeHeaders
	Body previewBody
}

// TransformPreview is what Herald would send: the body, byte for byte,
// and the headers as the attempt log records them.
type TransformPreview struct {
	Body    string            `json:"body" doc:"The body as it would be sent, byte for byte. A body-api-key member shows \"****\" for its key."`
	Headers map[string]string `json:"headers" doc:"The headers as the attempt log records them: signatures shown, credentials masked."`
}

func (s *Server) previewTransform(ctx context.Context, in *previewInput) (*Body[*TransformPreview], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	b := &in.Body
	now := domain.Now()
	var e *domain.Endpoint
	if b.EndpointID != "" {
		if e, err = s.store.GetEndpoint(ctx, sc, b.EndpointID); err != nil {
			return nil, s.problem(err)
		}
	} else {
		secret, err := credential.SigningSecret("")
		if err != nil {
			return nil, s.problem(err)
		}
		e = domain.NewEndpoint(sc, secret, now)
	}
	if b.Endpoint != nil || b.EndpointID == "" {
		f := b.Endpoint
		if f == nil {
			f = &EndpointFields{}
		}
		if err := s.applyEndpoint(ctx, e, f, b.EndpointID == ""); err != nil {
			return nil, err
		}
	}
	var ev domain.Event
	switch {
	case (b.EventID == "") == (b.Event == nil):
		return nil, s.problem(domain.Invalid("event", "give event or event_id, one of them"))
	case b.EventID != "":
		got, err := s.store.GetEvent(ctx, sc, b.EventID)
		if err != nil {
			return nil, s.problem(err)
		}
		ev = *got
	default:
		if ev, err = s.rules.NewEvent(ctx, sc, b.Event.spec(), now.Truncate(time.Second)); err != nil {
			return nil, s.problem(within("event.", err))
		}
	}
	body, headers, err := s.cfg.Previewer.Preview(ctx, *e, &ev, now)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*TransformPreview]{Body: &TransformPreview{Body: string(body), Headers: headers}}, nil
}
