package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
)

// newAPIKey is the answer that carries a key: the only time it is shown.
type newAPIKey struct {
	domain.APIKey
	Key string `json:"key" doc:"The API key; shown only now. Send it as Authorization: Bearer <key>."`
}

type rotateKeyBody struct {
	GracePeriod string `json:"grace_period,omitempty" doc:"How long the old key keeps working, as a duration (default 24h, at most 720h)." example:"24h"`
}

// defaultKeyGrace is how long a rotated key keeps working.
const defaultKeyGrace = 24 * time.Hour

func (s *Server) registerAPIKeys(api huma.API) {
	tags := []string{"API keys"}
	huma.Register(api, huma.Operation{
		OperationID: "create-tenant-api-key", Method: http.MethodPost, Path: "/v1/tenants/{id}/api-keys", Tags: tags,
		Summary: "Issue an API key for a tenant's environment", DefaultStatus: http.StatusCreated, Metadata: operatorOnly,
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id"`
		Body struct {
			Environment string `json:"environment" enum:"sandbox,production"`
		}
	}) (*Body[newAPIKey], error) {
		if _, err := s.tenant(ctx, in.ID); err != nil {
			return nil, s.problem(err)
		}
		return s.issueKey(ctx, domain.Scope{TenantID: in.ID, Environment: domain.Environment(in.Body.Environment)})
	})

	huma.Register(api, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/v1/api-keys", Tags: tags,
		Summary: "Issue another API key for this scope", DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *struct{ ScopeHeaders }) (*Body[newAPIKey], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		return s.issueKey(ctx, sc)
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/v1/api-keys", Tags: tags,
		Summary: "List the scope's API keys (prefix, created, last used)",
	}, func(ctx context.Context, in *struct{ ScopeHeaders }) (*Body[*List[domain.APIKey]], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		ks, err := s.store.ListAPIKeys(ctx, sc)
		if err != nil {
			return nil, s.problem(err)
		}
		return &Body[*List[domain.APIKey]]{Body: &List[domain.APIKey]{Data: ks}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "rotate-api-key", Method: http.MethodPost, Path: "/v1/api-keys/{id}/rotate", Tags: tags,
		Summary:       "Replace an API key",
		Description:   "Returns a new key, shown once. The old key keeps working for the grace period (default 24 h), so clients can switch without downtime.",
		DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *struct {
		ScopeHeaders
		ID   string `path:"id"`
		Body *rotateKeyBody
	}) (*Body[newAPIKey], error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		grace, err := in.Body.grace()
		if err != nil {
			return nil, s.problem(err)
		}
		now := clock()
		secret, k, hash, err := newKey(sc, now)
		if err != nil {
			return nil, s.problem(err)
		}
		if err := s.store.RotateAPIKey(ctx, sc, in.ID, now.Add(grace), k, hash); err != nil {
			return nil, s.problem(err)
		}
		s.keys.clear()
		return &Body[newAPIKey]{Body: newAPIKey{APIKey: *k, Key: secret}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/v1/api-keys/{id}", Tags: tags,
		Summary: "Revoke an API key at once", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *scopedID) (*struct{}, error) {
		sc, err := s.scope(ctx, in.ScopeHeaders)
		if err != nil {
			return nil, err
		}
		if err := s.store.RevokeAPIKey(ctx, sc, in.ID, clock()); err != nil {
			return nil, s.problem(err)
		}
		s.keys.clear()
		return nil, nil
	})
}

func (s *Server) issueKey(ctx context.Context, sc domain.Scope) (*Body[newAPIKey], error) {
	secret, k, hash, err := newKey(sc, clock())
	if err != nil {
		return nil, s.problem(err)
	}
	if err := s.store.CreateAPIKey(ctx, k, hash); err != nil {
		return nil, s.problem(err)
	}
	return &Body[newAPIKey]{Body: newAPIKey{APIKey: *k, Key: secret}}, nil
}

// grace reads a rotation's grace period: a duration up to 30 days, 24 h
// when the body or the field is absent.
func (b *rotateKeyBody) grace() (time.Duration, error) {
	if b == nil || b.GracePeriod == "" {
		return defaultKeyGrace, nil
	}
	d, err := time.ParseDuration(b.GracePeriod)
	if err != nil || d < 0 || d > 720*time.Hour {
		return 0, domain.Invalid("grace_period", "%q is not a duration between 0s and 720h, such as 24h", b.GracePeriod)
	}
	return d, nil
}
