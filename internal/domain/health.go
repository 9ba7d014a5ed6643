package domain

import "time"

// Circuit states of an endpoint's breaker. Closed sends; open defers the
// endpoint's deliveries, due or not, without spending their attempts,
// until its probe time; half-open lets one probe delivery go, whose
// outcome closes the circuit or opens it again.
const (
	CircuitClosed   = "closed"
	CircuitOpen     = "open"
	CircuitHalfOpen = "half_open"
)

// Kinds of the changes an endpoint's health history lists.
const (
	HealthOpened    = "opened"
	HealthHalfOpen  = "half_open"
	HealthClosed    = "closed"
	HealthDisabled  = "disabled"
	HealthEnabled   = "enabled"
	HealthRecovered = "recovered"
)

// PrefixHealthChange is the id prefix of an endpoint health history entry.
const PrefixHealthChange = "ehc"

// Breaker is the circuit breaker and auto-disable policy: after Threshold
// failed attempts in a row, all within Window, an endpoint's circuit opens
// for Cooldown; after failing with no success for DisableAfter, the
// endpoint is disabled. The dispatcher's flags set it for the process.
type Breaker struct {
	Threshold    int
	Window       time.Duration
	Cooldown     time.Duration
	DisableAfter time.Duration
}

// Breaker defaults (docs/delivery.md, "Endpoint health").
const (
	DefaultBreakerThreshold    = 5
	DefaultBreakerWindow       = time.Minute
	DefaultBreakerCooldown     = time.Minute
	DefaultBreakerDisableAfter = 5 * 24 * time.Hour
)

// DefaultBreaker is the policy of a process that sets none.
func DefaultBreaker() Breaker {
	return Breaker{Threshold: DefaultBreakerThreshold, Window: DefaultBreakerWindow,
		Cooldown: DefaultBreakerCooldown, DisableAfter: DefaultBreakerDisableAfter}
}

// HealthChange is one entry of an endpoint's health history: its circuit
// opened, went half-open or closed; it was disabled (by Herald: a 410 or
// failures for too long; or by its tenant) or enabled again; a re-enabled
// endpoint's first delivery succeeded (recovered).
type HealthChange struct {
	ID     string    `json:"id"`
	Kind   string    `json:"kind" enum:"opened,half_open,closed,disabled,enabled,recovered"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// EndpointHealth is an endpoint's delivery health as the API shows it.
type EndpointHealth struct {
	EndpointID string `json:"endpoint_id"`
	// Status and DisabledReason are the endpoint's own.
	Status         string `json:"status"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	Circuit        string `json:"circuit" enum:"closed,open,half_open" doc:"The circuit breaker's state: closed sends; open defers the endpoint's deliveries (without spending their attempts) until next_probe_at; half_open has one probe delivery in flight."`
	// ConsecutiveFailures counts the failed attempts since the last success.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// FailingSince is the first failure since the last success; the
	// endpoint is disabled once it is older than the auto-disable span.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// NextProbeAt is when an open circuit lets its probe go.
	NextProbeAt *time.Time `json:"next_probe_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	// History lists the changes newest first (at most the latest 50).
	History []HealthChange `json:"history"`
}
