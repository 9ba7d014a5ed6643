package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/transform"
)

// EndpointFields are what a caller may set on an endpoint. Pointers tell
// "not given" from "set to empty" for PATCH.
type EndpointFields struct {
	URL                    *string                    `json:"url,omitempty" maxLength:"2048" doc:"The receiver's URL." example:"https://api.example.com/herald"`
	Name                   *string                    `json:"name,omitempty" maxLength:"200"`
	Status                 *string                    `json:"status,omitempty" enum:"active,paused,disabled" doc:"paused holds deliveries until set back to active (they expire after the operator's --paused-expiry). disabled takes no new deliveries and holds the pending ones; Herald also disables an endpoint that answers 410 or fails for too long. active resumes or enables it again, and its pending deliveries go at once."`
	EventTypes             []string                   `json:"event_types,omitempty" maxItems:"100" doc:"Types to deliver; empty means all; a trailing .* matches a prefix." example:"[\"verification.*\"]"`
	AllowUnregisteredTypes bool                       `json:"allow_unregistered_types,omitempty" doc:"Save event_types entries that name no registered event type (GET /v1/event-types), nor match one. Without it such an entry is a 422 naming it, since a misspelt type would match nothing. Applies to this request only; it is not stored."`
	Headers                map[string]string          `json:"headers,omitempty" doc:"Custom headers sent with every delivery."`
	RetryPolicy            *domain.RetryPolicy        `json:"retry_policy,omitempty"`
	TimeoutMS              *int                       `json:"timeout_ms,omitempty" minimum:"100" maximum:"30000" doc:"Per-attempt timeout (default 15000)."`
	MaxConcurrency         *int                       `json:"max_concurrency,omitempty" minimum:"1" maximum:"256" doc:"Most attempts in flight at once to this endpoint (default 16)."`
	RateLimit              *int                       `json:"rate_limit,omitempty" minimum:"0" maximum:"10000" doc:"Most requests a second to this endpoint, from all of Herald's processes together; 0 (the default) is none. Deliveries waiting for it stay pending and spend no attempt."`
	Success                *string                    `json:"success,omitempty" enum:"2xx,json-or-204" doc:"2xx: any 2xx is success. json-or-204: a 200 with a JSON body, or a 204."`
	DefaultCallback        *bool                      `json:"default_callback,omitempty" doc:"Make this the scope's default callback (unmarking the previous one): jobs with their own callback URL use its secret and settings."`
	PayloadMode            *string                    `json:"payload_mode,omitempty" enum:"envelope,raw,thin" doc:"envelope (default): the full envelope. raw: the event's data alone. thin: the envelope without data (the receiver fetches it)."`
	Signing                *string                    `json:"signing,omitempty" enum:"hmac,ed25519" doc:"hmac (default): v1 signatures with the secret. ed25519: v1a signatures; the public key is signing_public_key."`
	Auth                   *domain.EndpointAuth       `json:"auth,omitempty" doc:"How Herald authenticates to the receiver. {\"type\":\"none\"} removes it."`
	TLS                    *domain.EndpointTLS        `json:"tls,omitempty" doc:"Client certificate (mutual TLS) and/or the CA of the receiver's certificate. {} removes it."`
	CompatSignature        *domain.CompatSignature    `json:"compat_signature,omitempty" doc:"The older form of signatures: one extra signature for receivers built to an older scheme, replacing the list's hmac-sha256-hex and body-api-key schemes. {\"kind\":\"none\"} removes them. Not together with signatures."`
	Signatures             []domain.Signature         `json:"signatures,omitempty" maxItems:"8" doc:"The signature schemes of every delivery, each over the final body. Default (and an empty list): [{\"scheme\":\"standard-webhooks\"}]; standard-webhooks is always sent and is put first when the list leaves it out. The list replaces the previous one whole."`
	SuccessFalseFails      *bool                      `json:"success_false_fails,omitempty" doc:"A 200 whose JSON object body has \"success\": false is a failure."`
	IdenticalRetries       *bool                      `json:"identical_retries,omitempty" doc:"Every automatic retry sends the first attempt's body and headers, byte for byte: signed at the first attempt's instant. A manual retry signs afresh."`
	ThinPartnerParams      *bool                      `json:"thin_partner_params,omitempty" doc:"In payload mode thin, keep the job's partner params (a thin body otherwise carries no personal data)."`
	ResponseBody           *string                    `json:"response_body,omitempty" enum:"full,headers,none" doc:"What the attempt log keeps of the receiver's answer: full (default: the status, the headers and the first 16 KiB of the body), headers (the status and the headers) or none (the status only). For receivers whose answers may hold personal data."`
	Profile                *string                    `json:"profile,omitempty" enum:"standard,smile-id,incode,smart-kyc,identomat,idwise" doc:"The delivery profile (GET /v1/profiles): its body, and the signatures, success rule, retry policy, identical_retries and event filter this request does not set. Default standard. Changing it re-applies the new profile to every such setting the same request does not set."`
	ProfileOptions         map[string]json.RawMessage `json:"profile_options,omitempty" doc:"The profile's options, replaced whole. Secret options are write-only: shown as \"****\", and \"****\" keeps the stored value."`
	Transform              *string                    `json:"transform,omitempty" maxLength:"16384" doc:"A body transform: a jq program run over the envelope of payload_mode (the standard envelope by default, also under a profile); its one output replaces the body, and the signatures, success rule and retry policy apply to it as to any body. Compiled when saved: an error is a 422 naming its line and column. \"\" removes it. See docs/transforms.md."`
	Ordering               *string                    `json:"ordering,omitempty" enum:"none,job" doc:"none (default): deliveries go in any order. job: the deliveries of one job go one at a time, in publish order, and a failing one holds back only its own job; when one runs out of attempts the rest go on, marked follows_failed (docs/delivery.md). Applies to events published after the change."`
}

// createEndpointBody is a new endpoint: its fields and, optionally, the
// signing secret its receiver already holds.
type createEndpointBody struct {
	EndpointFields
	Secret string `json:"secret,omitempty" maxLength:"200" doc:"The signing secret, when the receiver already holds it (whsec_ and the standard base64 of 24 to 64 bytes); absent, Herald makes one." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
}

// endpointWithSecret is the answer to create: the only time the secret is shown.
type endpointWithSecret struct {
	domain.Endpoint
	Secret string `json:"secret" doc:"The signing secret; shown only now."`
}

// scopedID names a resource of the call's scope in the path. Inputs that
// need more repeat its fields rather than embed it: huma reads no
// parameters from an embedded struct of an unexported type.
type scopedID struct {
	ScopeHeaders
	ID string `path:"id"`
}

// scopedPage is a page of a list of the call's scope.
type scopedPage struct {
	ScopeHeaders
	PageParams
}

type createEndpointInput struct {
	ScopeHeaders
	Body createEndpointBody
}

type updateEndpointInput struct {
	ScopeHeaders
	ID   string `path:"id"`
	Body EndpointFields
}

func (s *Server) createEndpoint(ctx context.Context, in *createEndpointInput) (*Body[endpointWithSecret], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	if in.Body.URL == nil {
		return nil, s.problem(domain.Invalid("url", "is required"))
	}
	secret, err := credential.SigningSecret(in.Body.Secret)
	if err != nil {
		return nil, s.problem(err)
	}
	e := domain.NewEndpoint(sc, secret, domain.Now())
	if err := s.applyEndpoint(ctx, e, &in.Body.EndpointFields, true); err != nil {
		return nil, err
	}
	ctx = s.audited(ctx, sc, "endpoint.created", "endpoint", e.ID, domain.Snapshot{}, endpointSnap(e))
	if err := s.store.CreateEndpoint(ctx, e); err != nil {
		return nil, s.problem(err)
	}
	s.endpointChanged(ctx, sc, e.ID, "created", slog.String("status", e.Status))
	return &Body[endpointWithSecret]{Body: endpointWithSecret{Endpoint: *shown(e), Secret: secret}}, nil
}

func (s *Server) listEndpoints(ctx context.Context, in *scopedPage) (*Body[*List[domain.Endpoint]], error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	p := in.page()
	es, err := s.store.ListEndpoints(ctx, sc, p)
	if err != nil {
		return nil, s.problem(err)
	}
	for i := range es {
		es[i] = *shown(&es[i])
	}
	return &Body[*List[domain.Endpoint]]{Body: listOf(es, p.Limit, func(e *domain.Endpoint) string { return e.ID })}, nil
}

func (s *Server) getEndpoint(ctx context.Context, in *scopedID) (*Body[*domain.Endpoint], error) {
	e, err := s.endpoint(ctx, in.ScopeHeaders, in.ID)
	if err != nil {
		return nil, err
	}
	return &Body[*domain.Endpoint]{Body: shown(e)}, nil
}

// endpoint reads an endpoint of the call's scope.
func (s *Server) endpoint(ctx context.Context, h ScopeHeaders, id string) (*domain.Endpoint, error) {
	sc, err := s.scope(ctx, h)
	if err != nil {
		return nil, err
	}
	e, err := s.store.GetEndpoint(ctx, sc, id)
	if err != nil {
		return nil, s.problem(err)
	}
	return e, nil
}

func (s *Server) updateEndpoint(ctx context.Context, in *updateEndpointInput) (*Body[*domain.Endpoint], error) {
	e, err := s.endpoint(ctx, in.ScopeHeaders, in.ID)
	if err != nil {
		return nil, err
	}
	resumed := in.Body.Status != nil && *in.Body.Status == domain.EndpointActive && e.Status != domain.EndpointActive
	was, before := e.Status, endpointSnap(e)
	if err := s.applyEndpoint(ctx, e, &in.Body, false); err != nil {
		return nil, err
	}
	if resumed {
		e.DisabledReason = ""
	}
	e.UpdatedAt = domain.Now()
	sc := domain.Scope{TenantID: e.TenantID, Environment: e.Environment}
	ctx = s.audited(ctx, sc, "endpoint."+statusChange(was, e.Status), "endpoint", e.ID, before, endpointSnap(e))
	if err := s.store.UpdateEndpoint(ctx, e); err != nil {
		return nil, s.problem(err)
	}
	s.endpointChanged(ctx, domain.Scope{TenantID: e.TenantID, Environment: e.Environment}, e.ID, statusChange(was, e.Status), slog.String("status", e.Status), slog.String("previous_status", was))
	if resumed {
		s.cfg.Wake()
	}
	return &Body[*domain.Endpoint]{Body: shown(e)}, nil
}

func (s *Server) deleteEndpoint(ctx context.Context, in *scopedID) (*noContent, error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	e, err := s.store.GetEndpoint(ctx, sc, in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	ctx = s.audited(ctx, sc, "endpoint.deleted", "endpoint", in.ID, endpointSnap(e), domain.Snapshot{})
	if err := s.store.DeleteEndpoint(ctx, sc, in.ID); err != nil {
		return nil, s.problem(err)
	}
	s.endpointChanged(ctx, sc, in.ID, "deleted")
	return nil, nil
}

// statusChange names an update by what it did to the endpoint's status.
func statusChange(was, is string) string {
	switch {
	case was == is:
		return "updated"
	case is == domain.EndpointPaused:
		return "paused"
	case is == domain.EndpointActive && was == domain.EndpointDisabled:
		return "enabled"
	case is == domain.EndpointActive:
		return "resumed"
	case is == domain.EndpointDisabled:
		return "disabled"
	}
	return "updated"
}

// endpointChanged logs a change of an endpoint at info, with who made it:
// the operator's log says why deliveries stopped or started again. It
// names ids and states only, never URLs, headers or secrets.
func (s *Server) endpointChanged(ctx context.Context, sc domain.Scope, id, change string, attrs ...slog.Attr) {
	by := "operator"
	if k := principalFrom(ctx).key; k != nil {
		by = k.ID
	}
	attrs = append([]slog.Attr{
		slog.String("change", change), slog.String("tenant", sc.TenantID), slog.String("environment", string(sc.Environment)),
		slog.String("endpoint", id), slog.String("by", by),
	}, attrs...)
	s.log.LogAttrs(ctx, slog.LevelInfo, "endpoint "+change, attrs...)
}

// shown is an endpoint as the API shows it: secret-looking custom header
// values masked (they were shown to whoever set them, as they set them) and
// lists never null.
func shown(e *domain.Endpoint) *domain.Endpoint {
	c := *e
	c.Headers = domain.MaskedHeaders(e.Headers)
	c.Auth, c.TLS = e.Auth.Shown(), e.TLS.Shown()
	c.Signatures = domain.ShownSignatures(e.SignatureList())
	c.CompatSignature = domain.CompatSignatureOf(e.SignatureList()).Shown()
	if c.EventTypes == nil {
		c.EventTypes = []string{}
	}
	c.ProfileOptions = shownProfileOptions(e)
	if c.ProfileFields == nil {
		c.ProfileFields = []string{}
	}
	return &c
}

// applyEndpoint validates the given fields and copies them onto e, then
// resolves its profile (creating: e is new); on any error e must be
// discarded.
func (s *Server) applyEndpoint(ctx context.Context, e *domain.Endpoint, f *EndpointFields, creating bool) error {
	if f.URL != nil {
		u, err := s.rules.CheckURL(ctx, e.Environment, "url", *f.URL)
		if err != nil {
			return s.problem(err)
		}
		e.URL = u
	}
	if f.DefaultCallback != nil {
		e.DefaultCallback = *f.DefaultCallback
	}
	if f.Name != nil {
		e.Name = strings.TrimSpace(*f.Name)
	}
	if f.Status != nil {
		if *f.Status == domain.EndpointDisabled && e.Status != domain.EndpointDisabled {
			e.DisabledReason = "disabled by its tenant"
		}
		e.Status = *f.Status
	}
	if f.EventTypes != nil {
		if err := s.rules.CheckFilter(ctx, f.EventTypes, f.AllowUnregisteredTypes); err != nil {
			return s.problem(err)
		}
		e.EventTypes = f.EventTypes
	}
	if f.Headers != nil {
		if err := domain.ValidateHeaders(f.Headers); err != nil {
			return s.problem(err)
		}
		e.Headers = f.Headers
	}
	if f.RetryPolicy != nil {
		e.RetryPolicy = *f.RetryPolicy
	}
	if err := e.RetryPolicy.Normalize(); err != nil {
		return s.problem(err)
	}
	if f.TimeoutMS != nil {
		e.TimeoutMS = *f.TimeoutMS
	}
	if f.MaxConcurrency != nil {
		e.MaxConcurrency = *f.MaxConcurrency
	}
	if f.RateLimit != nil {
		e.RateLimit = *f.RateLimit
	}
	if f.Success != nil {
		e.Success = *f.Success
	}
	for _, b := range []struct {
		from *bool
		to   *bool
	}{{f.SuccessFalseFails, &e.SuccessFalseFails}, {f.IdenticalRetries, &e.IdenticalRetries}, {f.ThinPartnerParams, &e.ThinPartnerParams}} {
		if b.from != nil {
			*b.to = *b.from
		}
	}
	if err := s.applyReceiverOptions(ctx, e, f); err != nil {
		return s.problem(err)
	}
	if err := applyProfile(e, f, creating); err != nil {
		return s.problem(err)
	}
	if f.ResponseBody != nil {
		e.ResponseBody = *f.ResponseBody
	}
	if f.Transform != nil {
		// Compiled here only to refuse what cannot run; a worker compiles
		// it again (and keeps it) when it first runs.
		if *f.Transform != "" {
			if _, err := transform.Compile(*f.Transform); err != nil {
				return s.problem(err)
			}
		}
		e.Transform = *f.Transform
	}
	if f.Ordering != nil {
		e.Ordering = *f.Ordering
	}
	return nil
}
