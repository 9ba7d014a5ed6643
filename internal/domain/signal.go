package domain

import "time"

// Operational event types: what Herald itself tells an operator and a
// tenant about their endpoints' health (issue 17).
const (
	SignalCircuitOpened     = "endpoint.circuit_opened"
	SignalEndpointDisabled  = "endpoint.disabled"
	SignalEndpointRecovered = "endpoint.recovered"
	SignalDeliveryExhausted = "delivery.exhausted"
)

// Signal is one operational event about an endpoint of a tenant's
// environment: its circuit opened, it was disabled, it recovered, or one of
// its deliveries ran out of attempts (DeliveryID and EventID are set for
// that one only). Reason says why in words a person reads (the last error,
// "410 Gone", "failing since 2026-12-01T10:00:00Z").
type Signal struct {
	Type        string
	TenantID    string
	Environment Environment
	EndpointID  string
	DeliveryID  string
	EventID     string
	EventType   string
	Reason      string
	At          time.Time

	// DeliveryStatus and Attempts are the exhausted delivery's: failed
	// (or cancelled, when its event's TTL ran out) after that many
	// attempts.
	DeliveryStatus string
	Attempts       int
}
