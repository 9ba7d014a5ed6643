package api

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/manage"
	"github.com/heraldhq/herald/internal/store"
)

// newAPIKey is the answer that carries a key: the only time it is shown.
type newAPIKey struct {
	domain.APIKey
	Key string `json:"key" doc:"The API key; shown only now. Send it as Authorization: Bearer <key>."`
}

type tenantKeyBody struct {
	Environment string `json:"environment" enum:"sandbox,production"`
}

type createTenantAPIKeyInput struct {
	ID   string `path:"id"`
	Body tenantKeyBody
}

type RotateKeyBody struct {
	GracePeriod string `json:"grace_period,omitempty" doc:"How long the old key keeps working, as a duration (default 24h, at most 720h)." example:"24h"`
}

// rotateInput rotates an API key; the body is optional.
type rotateInput struct {
	ScopeHeaders
	ID   string `path:"id"`
	Body *RotateKeyBody
}

// rotation reads a rotation's scope and grace period; the body or the
// field may be absent.
func (s *Server) rotation(ctx context.Context, h ScopeHeaders, body *RotateKeyBody) (domain.Scope, time.Duration, error) {
	sc, err := s.scope(ctx, h)
	if err != nil {
		return domain.Scope{}, 0, err
	}
	var period string
	if body != nil {
		period = body.GracePeriod
	}
	grace, err := manage.ParseGrace(period)
	if err != nil {
		return domain.Scope{}, 0, s.problem(err)
	}
	return sc, grace, nil
}

func (s *Server) createTenantAPIKey(ctx context.Context, in *createTenantAPIKeyInput) (*Body[newAPIKey], error) {
	if _, err := s.tenant(ctx, in.ID); err != nil {
		return nil, s.problem(err)
	}
	return s.issueKey(ctx, domain.Scope{TenantID: in.ID, Environment: domain.Environment(in.Body.Environment)})
}

func (s *Server) createAPIKey(ctx context.Context, in *ScopeHeaders) (*Body[newAPIKey], error) {
	// A key that could mint keys would outlive its own revocation (as
	// Stripe's and Svix's keys cannot): a person signed in to the portal or
	// the operator issues keys; a key may only rotate itself or another.
	if p := principalFrom(ctx); p.key != nil && !p.session {
		return nil, huma.Error403Forbidden("an API key cannot issue API keys; sign in to the portal or ask the operator")
	}
	sc, err := s.scope(ctx, *in)
	if err != nil {
		return nil, err
	}
	return s.issueKey(ctx, sc)
}

func (s *Server) issueKey(ctx context.Context, sc domain.Scope) (*Body[newAPIKey], error) {
	// The key's id is minted with it: the manager names it in the entry.
	ctx = store.WithAudit(ctx, s.auditEntry(ctx, sc, "api_key.created", "api_key", "", nil))
	key, k, err := s.rules.IssueAPIKey(ctx, sc)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[newAPIKey]{Body: newAPIKey{APIKey: *k, Key: key}}, nil
}

func (s *Server) listAPIKeys(ctx context.Context, in *ScopeHeaders) (*Body[*List[domain.APIKey]], error) {
	sc, err := s.scope(ctx, *in)
	if err != nil {
		return nil, err
	}
	ks, err := s.store.ListAPIKeys(ctx, sc)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*List[domain.APIKey]]{Body: &List[domain.APIKey]{Data: ks}}, nil
}

func (s *Server) rotateAPIKey(ctx context.Context, in *rotateInput) (*Body[newAPIKey], error) {
	sc, grace, err := s.rotation(ctx, in.ScopeHeaders, in.Body)
	if err != nil {
		return nil, err
	}
	ctx = store.WithAudit(ctx, s.auditEntry(ctx, sc, "api_key.rotated", "api_key", in.ID, map[string]domain.FieldChange{
		"grace_period": {To: grace.String()},
	}))
	key, k, err := s.rules.RotateAPIKey(ctx, sc, in.ID, grace)
	if err != nil {
		return nil, s.problem(err)
	}
	s.keys.clear()
	return &Body[newAPIKey]{Body: newAPIKey{APIKey: *k, Key: key}}, nil
}

func (s *Server) revokeAPIKey(ctx context.Context, in *scopedID) (*noContent, error) {
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	ctx = store.WithAudit(ctx, s.auditEntry(ctx, sc, "api_key.revoked", "api_key", in.ID, nil))
	if err := s.store.RevokeAPIKey(ctx, sc, in.ID, domain.Now()); err != nil {
		return nil, s.problem(err)
	}
	s.keys.clear()
	return nil, nil
}
