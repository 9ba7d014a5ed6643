package signals

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// data is an operational event's data, as the catalog's schemas describe
// it (internal/catalog/types/endpoint.*.json, delivery.exhausted.json).
type data struct {
	// Status is the endpoint's state after the event, or for
	// delivery.exhausted the delivery's final status.
	Status       string             `json:"status"`
	TenantID     string             `json:"tenant_id"`
	Environment  domain.Environment `json:"environment"`
	EndpointID   string             `json:"endpoint_id"`
	EndpointURL  string             `json:"endpoint_url,omitempty"`
	EndpointName string             `json:"endpoint_name,omitempty"`
	Reason       string             `json:"reason"`
	OccurredAt   time.Time          `json:"occurred_at"`

	DeliveryID      string     `json:"delivery_id,omitempty"`
	EventID         string     `json:"event_id,omitempty"`
	EventType       string     `json:"event_type,omitempty"`
	Attempts        *int       `json:"attempts,omitempty"`
	Count           int        `json:"count,omitempty"`
	FirstOccurredAt *time.Time `json:"first_occurred_at,omitempty"`
}

// statusAfter is the endpoint's state each endpoint event leaves it in.
var statusAfter = map[string]string{
	domain.SignalCircuitOpened:     "circuit_open",
	domain.SignalEndpointDisabled:  domain.EndpointDisabled,
	domain.SignalEndpointRecovered: domain.EndpointActive,
}

// eventData is the JSON data of an item's event; ep, when the endpoint
// still exists, adds its URL (without credentials) and name.
func eventData(it *item, ep *domain.Endpoint) []byte {
	sig := &it.sig
	d := data{
		Status: statusAfter[sig.Type], TenantID: sig.TenantID, Environment: sig.Environment,
		EndpointID: sig.EndpointID, Reason: sig.Reason, OccurredAt: sig.At,
	}
	if d.Reason == "" {
		d.Reason = "not given"
	}
	if ep != nil {
		d.EndpointURL, d.EndpointName = safeURL(ep.URL), ep.Name
	}
	if sig.Type == domain.SignalDeliveryExhausted {
		d.Status, d.DeliveryID, d.EventID, d.EventType = sig.DeliveryStatus, sig.DeliveryID, sig.EventID, sig.EventType
		if d.Status == "" {
			d.Status = domain.DeliveryFailed
		}
		attempts := sig.Attempts
		d.Attempts, d.Count = &attempts, it.count
		if it.count > 1 {
			first := it.first
			d.FirstOccurredAt = &first
		}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		// Strings, numbers and times always encode.
		panic("signals: encode event data: " + err.Error())
	}
	return raw
}

// safeURL is an endpoint's URL without what may carry a credential: its
// user info, its query and its fragment.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
