package cli

import (
	"io"

	"github.com/heraldhq/herald/client"
)

// keysCmd works on the API keys of one tenant environment: the operator's
// --tenant and --environment, or the environment of the API key used.
type keysCmd struct {
	List   keysListCmd   `cmd:"" help:"List the environment's API keys (prefix, created, last used)."`
	Create keysCreateCmd `cmd:"" help:"Issue an API key for the environment; the key is shown only once."`
	Rotate keysRotateCmd `cmd:"" help:"Replace an API key: the old one keeps working for the grace period."`
	Revoke keysRevokeCmd `cmd:"" help:"Revoke an API key at once."`
}

type keysListCmd struct{ Conn }

func (c *keysListCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		l, err := s.c.ListAPIKeys(s.ctx)
		if err != nil {
			return err
		}
		return s.print(l, func(w io.Writer) error {
			rows := make([][]string, len(l.Data))
			for i, k := range l.Data {
				rows[i] = []string{k.ID, k.Prefix, k.TenantID, k.Environment, stamp(k.CreatedAt),
					orDash(stampPtr(k.LastUsedAt)), orDash(stampPtr(k.ExpiresAt)), orDash(stampPtr(k.RevokedAt))}
			}
			return table(w, []string{"ID", "PREFIX", "TENANT", "ENVIRONMENT", "CREATED", "LAST USED", "EXPIRES", "REVOKED"}, rows)
		})
	})
}

// printNewKey shows a new key with the key itself, which the API shows
// only this once.
func printNewKey(s *session, k *client.APIKeyWithSecret) error {
	return s.print(k, func(w io.Writer) error {
		s.note("The key is shown only now; Herald keeps only its hash.")
		return fields(w, "id", k.ID, "tenant", k.TenantID, "environment", k.Environment, "prefix", k.Prefix,
			"created", stamp(k.CreatedAt), "expires", stampPtr(k.ExpiresAt), "key", k.Key)
	})
}

type keysCreateCmd struct{ Conn }

func (c *keysCreateCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		k, err := s.c.CreateAPIKey(s.ctx)
		if err != nil {
			return err
		}
		return printNewKey(s, k)
	})
}

type keysRotateCmd struct {
	Conn
	ID          string `arg:"" help:"The key's id (key_…)."`
	GracePeriod string `help:"How long the old key keeps working, such as 24h (default 24h, at most 720h)."`
}

func (c *keysRotateCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		k, err := s.c.RotateAPIKey(s.ctx, c.ID, &client.Rotation{GracePeriod: c.GracePeriod})
		if err != nil {
			return err
		}
		return printNewKey(s, k)
	})
}

type keysRevokeCmd struct {
	Conn
	ID string `arg:"" help:"The key's id (key_…)."`
}

func (c *keysRevokeCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		if err := s.c.RevokeAPIKey(s.ctx, c.ID); err != nil {
			return err
		}
		return s.print(map[string]any{"id": c.ID, "revoked": true}, func(w io.Writer) error {
			return fields(w, "revoked", c.ID)
		})
	})
}
