package domain

// SignalTypes are the operational event types, in the catalog's order.
var SignalTypes = []string{SignalDeliveryExhausted, SignalCircuitOpened, SignalEndpointDisabled, SignalEndpointRecovered}

// IsSignalType reports whether an event type is one of Herald's own
// operational events. Herald alone publishes them, only endpoints that
// name them (or a wildcard over them, "endpoint.*", "delivery.*") receive
// them, and a delivery of one that runs out of attempts is not signalled
// again, so a failing receiver of delivery.exhausted cannot feed itself.
func IsSignalType(eventType string) bool {
	switch eventType {
	case SignalCircuitOpened, SignalEndpointDisabled, SignalEndpointRecovered, SignalDeliveryExhausted:
		return true
	}
	return false
}

// The operator's scope: a tenant of Herald's own, whose one endpoint is the
// operator webhook (--operator-webhook-url). Every operational event is
// published there too, so it is signed, retried and logged like any
// delivery, and survives a crash. The tenant id starts with "_", which no
// tenant created through the API can (ValidateTenantID); the operator reads
// its deliveries with the scope headers Herald-Tenant: _operator and
// Herald-Environment: production.
const (
	OperatorTenantID   = "_operator"
	OperatorEndpointID = "ep_operator_webhook"
)

// OperatorScope is the operator's scope.
var OperatorScope = Scope{TenantID: OperatorTenantID, Environment: Production}
