// Package api is Herald's HTTP API, described by an OpenAPI document that
// huma generates from the code (docs/openapi.yaml holds it to the code).
//
// Where things are:
//   - routes.go lists every operation: id, method, path, summary, status,
//     errors and its handler, a named method of Server.
//   - One file per resource holds its handlers and their named input and
//     output types: tenants.go, apikeys.go, portal_sessions.go,
//     event_types.go, endpoints.go (with receiver_options.go),
//     endpoint_actions.go (test send, recover, secret rotation),
//     default_callback.go, events.go, deliveries.go, jobs.go, egress.go.
//   - auth.go authenticates every call (operator token, API key, portal
//     session) and applies each key's rate limit; api.go builds the API,
//     resolves a call's scope and maps errors to RFC 9457 problem+json.
//
// Handlers parse and scope a request, then call the store, or the rules in
// internal/manage where a request is more than one read or write (events
// checked against their type, test sends, rotations, recovery, event
// types, jobs). Credentials are minted in internal/credential.
package api
