package storetest

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// operationalTests cover what Herald's operational events (issue 17) need
// of a store: their fan-out, and the operator's own scope.
var operationalTests = []conformanceTest{
	{"OperationalEventsFanOutOnlyToEndpointsThatNameThem", testOperationalFanOut},
	{"TheOperatorScopeIsATenantLikeAnother", testOperatorScope},
}

// testOperationalFanOut: an endpoint without a filter or with "*" takes
// every type but the operational events; a wildcard over them or their
// name takes them.
func testOperationalFanOut(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	star := endpoint(t, s, scope, "*")
	deliveries := endpoint(t, s, scope, "delivery.*")
	endpoints := endpoint(t, s, scope, "endpoint.*")
	disabledOnly := endpoint(t, s, scope, "verification.*", domain.SignalEndpointDisabled)

	for _, c := range []struct {
		typ  string
		want []string
	}{
		{domain.SignalDeliveryExhausted, []string{deliveries.ID}},
		{domain.SignalEndpointDisabled, []string{endpoints.ID, disabledOnly.ID}},
		{domain.SignalCircuitOpened, []string{endpoints.ID}},
		{"aml.hit", nil}, // the endpoint without a filter and star
	} {
		r := publish(t, s, scope, c.typ)
		ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: r.EventID})
		must(t, err)
		var got []string
		for _, d := range ds {
			got = append(got, d.EndpointID)
		}
		if c.want == nil {
			if len(got) != 2 || !slices.Contains(got, star.ID) {
				t.Fatalf("%s went to %v, want the endpoint without a filter and %s", c.typ, got, star.ID)
			}
			continue
		}
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Fatalf("%s went to %v, want %v", c.typ, got, c.want)
		}
	}
}

// testOperatorScope: the operator's tenant, whose id no API call can
// create, is stored, read and holds an endpoint and its deliveries as any
// tenant does.
func testOperatorScope(t *testing.T, s store.Store) {
	tenant(t, s, domain.OperatorTenantID)
	got, err := s.GetTenant(ctx, domain.OperatorTenantID)
	must(t, err)
	if got.ID != domain.OperatorTenantID {
		t.Fatalf("tenant = %+v", got)
	}
	ep := endpoint(t, s, domain.OperatorScope, domain.SignalTypes...)
	if r := publish(t, s, domain.OperatorScope, domain.SignalEndpointRecovered); r.Deliveries != 1 {
		t.Fatalf("deliveries = %d, want 1", r.Deliveries)
	}
	e, err := s.GetEndpoint(ctx, domain.OperatorScope, ep.ID)
	must(t, err)
	if !slices.Equal(e.EventTypes, domain.SignalTypes) {
		t.Fatalf("event types = %v", e.EventTypes)
	}
}
