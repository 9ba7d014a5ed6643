package cli

import (
	"context"
	"io"
	"strconv"

	"github.com/heraldhq/herald/client"
)

type tenantsCmd struct {
	List       tenantsListCmd   `cmd:"" help:"List tenants, by id."`
	Create     tenantsCreateCmd `cmd:"" help:"Create a tenant."`
	Get        tenantsGetCmd    `cmd:"" help:"Show a tenant."`
	Update     tenantsUpdateCmd `cmd:"" help:"Change a tenant's name or rate limit."`
	PortalLink tenantsPortalCmd `cmd:"" name:"portal-link" help:"Make a one-time sign-in link to a tenant's portal, to hand to the tenant."`
}

type tenantsListCmd struct {
	Conn
	Paging
}

func (c *tenantsListCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		l, err := pages(s, c.Paging, func(ctx context.Context, cursor string, limit int) (*client.List[client.Tenant], error) {
			return s.c.ListTenants(ctx, &client.ListParams{Cursor: cursor, Limit: limit})
		})
		if err != nil {
			return err
		}
		return s.print(l, func(w io.Writer) error {
			rows := make([][]string, len(l.Data))
			for i, t := range l.Data {
				rows[i] = []string{t.ID, t.Name, rateLimit(t), stamp(t.CreatedAt)}
			}
			return table(w, []string{"ID", "NAME", "RATE LIMIT", "CREATED"}, rows)
		})
	})
}

// rateLimit shows a tenant's limit per key, or that it has Herald's.
func rateLimit(t client.Tenant) string {
	if t.RateLimitPerMinute == 0 {
		return "default"
	}
	s := strconv.Itoa(t.RateLimitPerMinute) + "/min"
	if t.RateLimitBurst != 0 {
		s += ", burst " + strconv.Itoa(t.RateLimitBurst)
	}
	return s
}

func printTenant(s *session, t *client.Tenant) error {
	return s.print(t, func(w io.Writer) error {
		return fields(w, "id", t.ID, "name", t.Name, "rate limit", rateLimit(*t), "created", stamp(t.CreatedAt))
	})
}

type tenantsCreateCmd struct {
	Conn
	ID                 string `help:"Lower-case letters, digits, - and _; generated when absent."`
	Name               string `required:"" help:"The tenant's name, such as Acme Bank."`
	RateLimitPerMinute int    `help:"Calls a minute each of its API keys may make (0: Herald's default)."`
	RateLimitBurst     int    `help:"Calls a key may make at once before the rate applies (0: Herald's default)."`
}

func (c *tenantsCreateCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		t, err := s.c.CreateTenant(s.ctx, &client.TenantCreate{
			ID: c.ID, Name: c.Name, RateLimitPerMinute: c.RateLimitPerMinute, RateLimitBurst: c.RateLimitBurst,
		})
		if err != nil {
			return err
		}
		return printTenant(s, t)
	})
}

type tenantsGetCmd struct {
	Conn
	ID string `arg:"" help:"The tenant's id."`
}

func (c *tenantsGetCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		t, err := s.c.GetTenant(s.ctx, c.ID)
		if err != nil {
			return err
		}
		return printTenant(s, t)
	})
}

type tenantsUpdateCmd struct {
	Conn
	ID                 string  `arg:"" help:"The tenant's id."`
	Name               *string `help:"A new name."`
	RateLimitPerMinute *int    `help:"Calls a minute each API key may make (0: Herald's default)."`
	RateLimitBurst     *int    `help:"Calls a key may make at once (0: Herald's default)."`
}

func (c *tenantsUpdateCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		t, err := s.c.UpdateTenant(s.ctx, c.ID, &client.TenantUpdate{
			Name: c.Name, RateLimitPerMinute: c.RateLimitPerMinute, RateLimitBurst: c.RateLimitBurst,
		})
		if err != nil {
			return err
		}
		return printTenant(s, t)
	})
}

type tenantsPortalCmd struct {
	Conn
	ID        string `arg:"" help:"The tenant's id."`
	ExpiresIn string `help:"How long the link works, such as 1h (default 1h, at most 24h)."`
	ReturnURL string `help:"Where the browser goes on sign-out or when the session ends (https, or http on loopback)."`
}

func (c *tenantsPortalCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		// The portal opens in the environment named, sandbox unless told.
		p, err := s.c.CreatePortalSession(s.ctx, c.ID, &client.PortalSessionCreate{Environment: s.env, ExpiresIn: c.ExpiresIn, ReturnURL: c.ReturnURL})
		if err != nil {
			return err
		}
		return s.print(p, func(w io.Writer) error {
			return fields(w, "url", p.URL, "tenant", p.TenantID, "environment", p.Environment, "expires", stamp(p.ExpiresAt))
		})
	})
}
