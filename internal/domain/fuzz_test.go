package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzRetryPolicy parses fuzzed retry policies as an endpoint's would be:
// a refusal names a retry_policy field; an accepted policy has one attempt
// more than its schedule has steps (at most MaxRetries), and each wait it
// gives is within ±20 % of a step between 0 and MaxRetryDelay.
func FuzzRetryPolicy(f *testing.F) {
	for _, s := range []struct{ preset, delays string }{
		{"", ""}, {"default", ""}, {"standard-webhooks", ""}, {"once", ""}, {"none", ""}, {"hourly", ""},
		{"", "5s,10m,2h"}, {"", "0s"}, {"", "168h"}, {"", "168h1ns"}, {"", "-1s"}, {"", "1e9h"}, {"", "1.5h,90m,"},
		{"once", "1s"}, {"", strings.Repeat("1s,", 31)}, {"", "9223372036854775807ns"}, {"", "5µs,\u00005s"},
	} {
		f.Add(s.preset, s.delays)
	}
	f.Fuzz(func(t *testing.T, preset, delays string) {
		p := &RetryPolicy{Preset: preset}
		if delays != "" {
			p.Delays = strings.Split(delays, ",")
		}
		err := p.Normalize()
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.HasPrefix(ve.Field, "retry_policy.") {
				t.Fatalf("refusal %v names no retry_policy field", err)
			}
			return
		}
		steps := len(p.Delays)
		if steps == 0 {
			steps = len(presets[p.Preset])
		}
		if p.MaxAttempts() != steps+1 || steps > MaxRetries {
			t.Fatalf("%+v: %d attempts for %d steps", p, p.MaxAttempts(), steps)
		}
		for made := 1; made <= steps; made++ {
			d, ok := p.NextDelay(made)
			step := p.schedule[made-1]
			if !ok || step < 0 || step > MaxRetryDelay || d < step*8/10-time.Nanosecond || d > step*12/10+time.Nanosecond {
				t.Fatalf("%+v: wait %s after %d attempts, step %s", p, d, made, step)
			}
		}
		if _, ok := p.NextDelay(steps + 1); ok {
			t.Fatalf("%+v: a wait after the last attempt", p)
		}
	})
}
