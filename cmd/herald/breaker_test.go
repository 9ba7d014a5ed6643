package main

import (
	"strings"
	"testing"
	"time"
)

func TestBreakerFlagsThatCannotWorkAreRefusedByName(t *testing.T) {
	for flag, set := range map[string]func(*serveCmd){
		"--breaker-threshold":  func(c *serveCmd) { c.BreakerThreshold = -1 },
		"--breaker-window":     func(c *serveCmd) { c.BreakerWindow = -time.Second },
		"--breaker-cooldown":   func(c *serveCmd) { c.BreakerCooldown = 10 * time.Millisecond },
		"--auto-disable-after": func(c *serveCmd) { c.AutoDisableAfter = time.Second },
		"--paused-expiry":      func(c *serveCmd) { c.PausedExpiry = time.Minute },
	} {
		if err := startHeraldErr(t, set); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("serve with a bad %s = %v", flag, err)
		}
	}
}
