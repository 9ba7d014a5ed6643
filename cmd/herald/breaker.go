package main

import (
	"cmp"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// breakerFlags set the circuit breaker, auto-disable and the paused
// endpoints' expiry (docs/delivery.md, "Circuit breaker").
type breakerFlags struct {
	BreakerThreshold int           `env:"HERALD_BREAKER_THRESHOLD" default:"5" help:"Failed attempts in a row (within --breaker-window) that open an endpoint's circuit: its deliveries wait, their attempts unspent, until a probe succeeds."`
	BreakerWindow    time.Duration `env:"HERALD_BREAKER_WINDOW" default:"1m" help:"The span the --breaker-threshold failures must fall within."`
	BreakerCooldown  time.Duration `env:"HERALD_BREAKER_COOLDOWN" default:"1m" help:"How long an open circuit waits before one probe delivery goes (half-open)."`
	AutoDisableAfter time.Duration `env:"HERALD_AUTO_DISABLE_AFTER" default:"120h" help:"An endpoint failing this long with no success is disabled (a 410 Gone disables it at once); its tenant enables it again."`
	PausedExpiry     time.Duration `env:"HERALD_PAUSED_EXPIRY" default:"168h" help:"How long a paused endpoint holds a delivery; older ones are cancelled, a sensitive event's data erased."`
}

// breaker checks the flags and returns the policy. Zero (a serveCmd built
// in code, not from flags) takes the default.
func (f breakerFlags) breaker() (domain.Breaker, error) {
	d := domain.DefaultBreaker()
	b := domain.Breaker{Threshold: cmp.Or(f.BreakerThreshold, d.Threshold), Window: cmp.Or(f.BreakerWindow, d.Window),
		Cooldown: cmp.Or(f.BreakerCooldown, d.Cooldown), DisableAfter: cmp.Or(f.AutoDisableAfter, d.DisableAfter)}
	switch {
	case b.Threshold < 1:
		return b, fmt.Errorf("--breaker-threshold must be at least 1, not %d", b.Threshold)
	case b.Window < 0:
		return b, fmt.Errorf("--breaker-window must be positive, not %s", b.Window)
	case b.Cooldown < time.Second:
		return b, fmt.Errorf("--breaker-cooldown must be at least 1s, not %s", b.Cooldown)
	case b.DisableAfter < time.Minute:
		return b, fmt.Errorf("--auto-disable-after must be at least 1m, not %s", b.DisableAfter)
	case f.PausedExpiry != 0 && f.PausedExpiry < time.Hour:
		return b, fmt.Errorf("--paused-expiry must be at least 1h, not %s", f.PausedExpiry)
	}
	return b, nil
}
