package domain

import "testing"

// TestOperationalEventsGoOnlyToEndpointsThatNameThem: an endpoint made for
// a platform's events (no filter, or "*") does not start receiving
// Herald's own operational events; naming one, or a wildcard over its
// prefix, subscribes to it.
func TestOperationalEventsGoOnlyToEndpointsThatNameThem(t *testing.T) {
	cases := []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, SignalDeliveryExhausted, false},
		{[]string{"*"}, SignalEndpointDisabled, false},
		{[]string{"*"}, "verification.approved", true},
		{[]string{"verification.*", "*"}, SignalCircuitOpened, false},
		{[]string{"endpoint.*"}, SignalCircuitOpened, true},
		{[]string{"endpoint.*"}, SignalEndpointDisabled, true},
		{[]string{"endpoint.*"}, SignalEndpointRecovered, true},
		{[]string{"endpoint.*"}, SignalDeliveryExhausted, false},
		{[]string{"delivery.*"}, SignalDeliveryExhausted, true},
		{[]string{"*", "delivery.exhausted"}, SignalDeliveryExhausted, true},
		{[]string{"endpoint.recovered"}, SignalEndpointRecovered, true},
		{[]string{"endpoint.recovered"}, SignalEndpointDisabled, false},
		// A tenant's own type under endpoint. is no operational event.
		{nil, "endpoint.created", true},
	}
	for _, c := range cases {
		if got := MatchesFilter(c.filter, c.typ); got != c.want {
			t.Errorf("MatchesFilter(%v, %q) = %v, want %v", c.filter, c.typ, got, c.want)
		}
	}
	for _, typ := range SignalTypes {
		if !IsSignalType(typ) {
			t.Errorf("IsSignalType(%q) = false", typ)
		}
	}
	if IsSignalType("verification.approved") || IsSignalType("endpoint.created") {
		t.Error("IsSignalType takes a type that is not an operational event")
	}
}
