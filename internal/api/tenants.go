package api

import (
	"context"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
)

type tenantBody struct {
	ID                 string `json:"id,omitempty" maxLength:"64" doc:"Lower-case letters, digits, - and _; generated when absent." example:"acme"`
	Name               string `json:"name" minLength:"1" maxLength:"200" example:"Acme Bank"`
	RateLimitPerMinute int    `json:"rate_limit_per_minute,omitempty" minimum:"0" maximum:"1000000" doc:"Requests a minute each API key may make; 0 means 100."`
	RateLimitBurst     int    `json:"rate_limit_burst,omitempty" minimum:"0" maximum:"1000000" doc:"Requests an API key may make at once; 0 means 200."`
}

type tenantPatch struct {
	Name               *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
	RateLimitPerMinute *int    `json:"rate_limit_per_minute,omitempty" minimum:"0" maximum:"1000000"`
	RateLimitBurst     *int    `json:"rate_limit_burst,omitempty" minimum:"0" maximum:"1000000"`
}

type createTenantInput struct {
	Body tenantBody
}

// tenantID names a tenant in the path.
type tenantID struct {
	ID string `path:"id"`
}

type updateTenantInput struct {
	ID   string `path:"id"`
	Body tenantPatch
}

func (s *Server) createTenant(ctx context.Context, in *createTenantInput) (*Body[domain.Tenant], error) {
	t := domain.Tenant{ID: in.Body.ID, Name: strings.TrimSpace(in.Body.Name), CreatedAt: domain.Now(),
		RateLimitPerMinute: in.Body.RateLimitPerMinute, RateLimitBurst: in.Body.RateLimitBurst}
	if t.ID == "" {
		t.ID = strings.ToLower(domain.NewID("tnt"))
	}
	if err := domain.ValidateTenantID(t.ID); err != nil {
		return nil, s.problem(err)
	}
	if t.Name == "" {
		return nil, s.problem(domain.Invalid("name", "must not be blank"))
	}
	ctx = s.audited(ctx, domain.Scope{TenantID: t.ID}, "tenant.created", "tenant", t.ID, domain.Snapshot{}, snap(t))
	if err := s.store.CreateTenant(ctx, &t); err != nil {
		return nil, s.problem(err)
	}
	s.rememberTenant(&t)
	return &Body[domain.Tenant]{Body: t}, nil
}

func (s *Server) listTenants(ctx context.Context, in *PageParams) (*Body[*List[domain.Tenant]], error) {
	p := in.page()
	ts, err := s.store.ListTenants(ctx, p)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*List[domain.Tenant]]{Body: listOf(ts, p.Limit, func(t *domain.Tenant) string { return t.ID })}, nil
}

func (s *Server) getTenant(ctx context.Context, in *tenantID) (*Body[*domain.Tenant], error) {
	t, err := s.store.GetTenant(ctx, in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*domain.Tenant]{Body: t}, nil
}

func (s *Server) updateTenant(ctx context.Context, in *updateTenantInput) (*Body[*domain.Tenant], error) {
	t, err := s.store.GetTenant(ctx, in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	before := snap(t)
	if in.Body.Name != nil {
		if t.Name = strings.TrimSpace(*in.Body.Name); t.Name == "" {
			return nil, s.problem(domain.Invalid("name", "must not be blank"))
		}
	}
	if in.Body.RateLimitPerMinute != nil {
		t.RateLimitPerMinute = *in.Body.RateLimitPerMinute
	}
	if in.Body.RateLimitBurst != nil {
		t.RateLimitBurst = *in.Body.RateLimitBurst
	}
	ctx = s.audited(ctx, domain.Scope{TenantID: t.ID}, "tenant.updated", "tenant", t.ID, before, snap(t))
	if err := s.store.UpdateTenant(ctx, t); err != nil {
		return nil, s.problem(err)
	}
	s.rememberTenant(t)
	return &Body[*domain.Tenant]{Body: t}, nil
}
