package domain

import "time"

// NewEndpoint is an endpoint of the scope with every default, before the
// caller's fields apply: the API's new endpoints and the operator webhook
// start from it.
func NewEndpoint(sc Scope, secret string, now time.Time) *Endpoint {
	return &Endpoint{
		ID: NewIDAt(PrefixEndpoint, now), TenantID: sc.TenantID, Environment: sc.Environment,
		Status: EndpointActive, TimeoutMS: DefaultTimeoutMS, MaxConcurrency: DefaultMaxConcurrency,
		Success: Success2xx, PayloadMode: PayloadEnvelope, Signing: SigningHMAC,
		Profile: ProfileStandard, Ordering: OrderingNone, ResponseBody: ResponseBodyFull, Secret: secret,
		CreatedAt: now, UpdatedAt: now,
	}
}
