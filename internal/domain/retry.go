package domain

import (
	"math/rand/v2"
	"time"
)

// Retry presets.
const (
	PresetDefault          = "default"
	PresetStandardWebhooks = "standard-webhooks"
	PresetOnce             = "once"
	PresetNone             = "none"
	// PresetFast is for events that ask the receiver to act now (a
	// one-time code to send): 11 attempts over about 2 hours, the first
	// retries seconds apart.
	PresetFast = "fast"
)

var presets = map[string][]time.Duration{
	// Svix's schedule: 8 attempts over about 27.6 hours.
	PresetDefault: {5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour},
	// The Standard Webhooks specification's example: 10 attempts over about 75 hours.
	PresetStandardWebhooks: {5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour},
	// One retry, as Incode promises its receivers.
	PresetOnce: {time.Minute},
	PresetNone: {},
	PresetFast: {time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 30 * time.Minute, time.Hour},
}

// MaxRetries bounds an explicit schedule; MaxRetryDelay bounds each step of it.
const (
	MaxRetries    = 30
	MaxRetryDelay = 7 * 24 * time.Hour
)

// RetryPolicy says how long to wait before each retry. The first attempt is
// always immediate; Delays[i] is the wait before attempt i+2.
type RetryPolicy struct {
	// Preset names a built-in schedule: default, standard-webhooks, once,
	// none or fast.
	Preset string `json:"preset,omitempty" enum:"default,standard-webhooks,once,none,fast" doc:"A built-in schedule. Ignored when delays is set. fast: 1 s, 5 s, 15 s, 30 s, 1 min, 2 min, 5 min, 10 min, 30 min, 1 h."`
	// Delays is an explicit schedule of Go durations ("5s", "10m", "2h").
	Delays []string `json:"delays,omitempty" doc:"Waits before each retry, as durations such as 5s, 10m, 2h. Overrides preset."`

	schedule []time.Duration
}

// Normalize validates the policy and fills in the default preset.
func (p *RetryPolicy) Normalize() error {
	if len(p.Delays) > 0 {
		if len(p.Delays) > MaxRetries {
			return Invalid("retry_policy.delays", "at most %d retries", MaxRetries)
		}
		p.Preset = ""
		p.schedule = make([]time.Duration, len(p.Delays))
		for i, s := range p.Delays {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 || d > MaxRetryDelay {
				return Invalid(fieldIndex("retry_policy.delays", i), "%q is not a duration between 0s and 168h, such as 30s, 5m or 2h", s)
			}
			p.schedule[i] = d
		}
		return nil
	}
	if p.Preset == "" {
		p.Preset = PresetDefault
	}
	s, ok := presets[p.Preset]
	if !ok {
		return Invalid("retry_policy.preset", "%q is not one of default, standard-webhooks, once, none, fast", p.Preset)
	}
	p.schedule = s
	return nil
}

// MaxAttempts is the first attempt plus every retry.
func (p *RetryPolicy) MaxAttempts() int {
	p.ensure()
	return len(p.schedule) + 1
}

// NextDelay returns the wait before the next attempt after `made` attempts,
// with ±20% jitter so that receivers coming back are not hit all at once,
// and false when the schedule is exhausted.
func (p *RetryPolicy) NextDelay(made int) (time.Duration, bool) {
	p.ensure()
	if made < 1 || made > len(p.schedule) {
		return 0, false
	}
	d := p.schedule[made-1]
	if d > 0 {
		d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	}
	return d, true
}

func (p *RetryPolicy) ensure() {
	if p.schedule == nil {
		if err := p.Normalize(); err != nil {
			p.schedule = presets[PresetDefault]
		}
	}
}
