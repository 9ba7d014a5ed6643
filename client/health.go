package client

import (
	"context"
	"net/http"
	"time"
)

// Circuit breaker states.
const (
	CircuitClosed   = "closed"
	CircuitOpen     = "open"
	CircuitHalfOpen = "half_open"
)

// EndpointHealth is an endpoint's delivery health: its status, its circuit
// breaker and the latest changes of both.
type EndpointHealth struct {
	EndpointID     string `json:"endpoint_id"`
	Status         string `json:"status"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	// Circuit is closed (sending), open (deferring its deliveries, their
	// attempts unspent, until NextProbeAt) or half_open (one probe goes).
	Circuit             string     `json:"circuit"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	NextProbeAt         *time.Time `json:"next_probe_at,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	// History is the latest 50 changes, newest first.
	History []HealthChange `json:"history"`
}

// HealthChange is one change of an endpoint's health: opened, half_open,
// closed, disabled, enabled or recovered.
type HealthChange struct {
	ID     string    `json:"id"`
	Kind   string    `json:"kind"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

var getEndpointHealth = newRoute[none, none, EndpointHealth]("get-endpoint-health", http.MethodGet, "/v1/endpoints/{id}/health")

// EndpointHealth reads an endpoint's delivery health. An endpoint disabled
// by Herald is enabled again with UpdateEndpoint, Status active.
func (c *Client) EndpointHealth(ctx context.Context, id string) (*EndpointHealth, error) {
	return getEndpointHealth.call(ctx, c, nil, nil, id)
}
