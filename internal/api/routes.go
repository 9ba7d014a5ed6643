package api

import (
	"context"
	"net/http"
	"reflect"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
)

// register lists every operation of the API: its id, method, path, tags,
// summary, description, success status, the errors its handler answers
// and the handler. route adds the errors that every operation can answer.
func (s *Server) register(api huma.API) {
	var (
		tenants    = []string{"Tenants"}
		eventTypes = []string{"Event types"}
		endpoints  = []string{"Endpoints"}
		events     = []string{"Events"}
		deliveries = []string{"Deliveries"}
		apiKeys    = []string{"API keys"}
		jobs       = []string{"Jobs"}
		audit      = []string{"Audit log"}
	)

	route(api, huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: "/v1/tenants", Tags: tenants,
		Summary: "Create a tenant", DefaultStatus: http.StatusCreated, Metadata: operatorOnly,
		Errors: []int{409, 422},
	}, s.createTenant)
	route(api, huma.Operation{
		OperationID: "list-tenants", Method: http.MethodGet, Path: "/v1/tenants", Tags: tenants,
		Summary: "List tenants, by id", Metadata: operatorOnly,
		Errors: []int{422},
	}, s.listTenants)
	route(api, huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: "/v1/tenants/{id}", Tags: tenants,
		Summary: "Get a tenant", Metadata: operatorOnly,
		Errors: []int{404},
	}, s.getTenant)
	route(api, huma.Operation{
		OperationID: "update-tenant", Method: http.MethodPatch, Path: "/v1/tenants/{id}", Tags: tenants,
		Summary: "Change a tenant's name or rate limit", Metadata: operatorOnly,
		Errors: []int{404, 422},
	}, s.updateTenant)

	route(api, huma.Operation{
		OperationID: "put-event-type", Method: http.MethodPut, Path: "/v1/event-types/{name}", Tags: eventTypes,
		Summary: "Register or replace an event type", Metadata: operatorOnly,
		Errors: []int{422},
	}, s.putEventType)
	route(api, huma.Operation{
		OperationID: "list-event-types", Method: http.MethodGet, Path: "/v1/event-types", Tags: eventTypes,
		Summary: "List event types",
	}, s.listEventTypes)
	route(api, huma.Operation{
		OperationID: "get-event-type", Method: http.MethodGet, Path: "/v1/event-types/{name}", Tags: eventTypes,
		Summary: "Get an event type",
		Errors:  []int{404},
	}, s.getEventType)

	route(api, huma.Operation{
		OperationID: "create-endpoint", Method: http.MethodPost, Path: "/v1/endpoints", Tags: endpoints,
		Summary: "Create an endpoint", DefaultStatus: http.StatusCreated,
		Errors: []int{404, 422},
	}, s.createEndpoint)
	route(api, huma.Operation{
		OperationID: "list-endpoints", Method: http.MethodGet, Path: "/v1/endpoints", Tags: endpoints,
		Summary: "List endpoints",
		Errors:  []int{404, 422},
	}, s.listEndpoints)
	route(api, huma.Operation{
		OperationID: "get-endpoint", Method: http.MethodGet, Path: "/v1/endpoints/{id}", Tags: endpoints,
		Summary: "Get an endpoint",
		Errors:  []int{404},
	}, s.getEndpoint)
	route(api, huma.Operation{
		OperationID: "update-endpoint", Method: http.MethodPatch, Path: "/v1/endpoints/{id}", Tags: endpoints,
		Summary: "Change an endpoint", Description: "Only the fields given change. Setting status to paused holds its deliveries; disabled takes no new ones; active resumes or enables it again.",
		Errors: []int{404, 422},
	}, s.updateEndpoint)
	route(api, huma.Operation{
		OperationID: "delete-endpoint", Method: http.MethodDelete, Path: "/v1/endpoints/{id}", Tags: endpoints,
		Summary: "Delete an endpoint", Description: "Its pending deliveries are cancelled.", DefaultStatus: http.StatusNoContent,
		Errors: []int{404},
	}, s.deleteEndpoint)
	route(api, huma.Operation{
		OperationID: "get-endpoint-health", Method: http.MethodGet, Path: "/v1/endpoints/{id}/health", Tags: endpoints,
		Summary: "An endpoint's delivery health",
		Description: "Its status (disabled, and why), its circuit breaker's state (closed, open until next_probe_at, half_open while one probe goes), " +
			"its failures since the last success, and the latest 50 changes of its health, newest first.",
		Errors: []int{404},
	}, s.getEndpointHealth)

	route(api, huma.Operation{
		OperationID: "publish-event", Method: http.MethodPost, Path: "/v1/events", Tags: events,
		Summary:       "Publish an event",
		Description:   "Answers 202 once the event and one delivery per subscribed endpoint are committed to disk together.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{404, 409, 422},
		// The body is decoded once, by publishInput.Resolve (event_body.go).
		SkipValidateBody: true, MaxBodyBytes: maxEventBody, BodyReadTimeout: eventBodyReadTimeout,
		Middlewares: huma.Middlewares{decodeEventBodies(api)},
	}, s.publishEvent)
	describeEventBody(api)
	route(api, huma.Operation{
		OperationID: "publish-events", Method: http.MethodPost, Path: "/v1/events/batch", Tags: events,
		Summary: "Publish up to 1,000 events at once",
		Description: "All or nothing: either every event and its deliveries are committed, or none is and the answer names " +
			"the first failing event's field (body.events[i]...). Each event may carry its own idempotency_key.",
		DefaultStatus: http.StatusAccepted,
		MaxBodyBytes:  maxBatchBody,
		Errors:        []int{404, 409, 422},
	}, s.publishEvents)
	route(api, huma.Operation{
		OperationID: "list-events", Method: http.MethodGet, Path: "/v1/events", Tags: events,
		Summary: "List events, oldest first",
		Errors:  []int{404, 422},
	}, s.listEvents)
	route(api, huma.Operation{
		OperationID: "get-event", Method: http.MethodGet, Path: "/v1/events/{id}", Tags: events,
		Summary: "Get an event",
		Errors:  []int{404},
	}, s.getEvent)

	deliveryList := api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[List[domain.Delivery]](), true, "")
	route(api, huma.Operation{
		OperationID: "list-deliveries", Method: http.MethodGet, Path: "/v1/deliveries", Tags: deliveries,
		Summary: "The delivery log, newest first",
		Description: "A page as JSON; or, with Accept: application/x-ndjson, every delivery the filters select (limit does not apply; " +
			"cursor, when given, is where it starts), one JSON object per line, read from the store a page at a time: an export of dead letters " +
			"(status=failed). An export that fails part way is cut off, never ended cleanly.",
		Responses: map[string]*huma.Response{"200": {Description: "OK", Content: map[string]*huma.MediaType{
			"application/json": {Schema: deliveryList},
			ndjson:             {Schema: &huma.Schema{Ref: "#/components/schemas/Delivery"}},
		}}},
		Errors: []int{404, 422},
	}, s.listDeliveries)
	route(api, huma.Operation{
		OperationID: "retry-deliveries", Method: http.MethodPost, Path: "/v1/deliveries/retry", Tags: deliveries,
		Summary: "Send the deliveries a filter selects again now",
		Description: "Bulk retry, such as every failed delivery of an endpoint since an outage began. status is required, so that " +
			"nothing is retried by accident. Each selected delivery is retried as POST /v1/deliveries/{id}/retry does it: the same webhook-id, " +
			"one more attempt. At most limit (default 1,000, at most 10,000) per call, the oldest first; the answer says how many were queued " +
			"and whether the limit was reached, in which case the same request queues the next ones.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{404, 422},
	}, s.retryDeliveries)
	route(api, huma.Operation{
		OperationID: "get-delivery", Method: http.MethodGet, Path: "/v1/deliveries/{id}", Tags: deliveries,
		Summary: "Get a delivery with every attempt",
		Errors:  []int{404},
	}, s.getDelivery)
	route(api, huma.Operation{
		OperationID: "retry-delivery", Method: http.MethodPost, Path: "/v1/deliveries/{id}/retry", Tags: deliveries,
		Summary:       "Send a delivery again now",
		Description:   "Whatever its status; the receiver sees the same webhook-id. A delivery in flight right now is left to finish.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{404, 409},
	}, s.retryDelivery)

	route(api, huma.Operation{
		OperationID: "create-tenant-api-key", Method: http.MethodPost, Path: "/v1/tenants/{id}/api-keys", Tags: apiKeys,
		Summary: "Issue an API key for a tenant's environment", DefaultStatus: http.StatusCreated, Metadata: operatorOnly,
		Errors: []int{404, 409, 422},
	}, s.createTenantAPIKey)
	route(api, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/v1/api-keys", Tags: apiKeys,
		Summary:       "Issue another API key for this scope",
		Description:   "The operator or a person signed in to the portal may; an API key may not (403). A scope has at most 50 usable keys (409).",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{403, 404, 409},
	}, s.createAPIKey)
	route(api, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/v1/api-keys", Tags: apiKeys,
		Summary: "List the scope's API keys (prefix, created, last used)",
		Errors:  []int{404},
	}, s.listAPIKeys)
	route(api, huma.Operation{
		OperationID: "rotate-api-key", Method: http.MethodPost, Path: "/v1/api-keys/{id}/rotate", Tags: apiKeys,
		Summary:       "Replace an API key",
		Description:   "Returns a new key, shown once. The old key keeps working for the grace period (default 24 h), so clients can switch without downtime. A scope has at most 50 usable keys (409).",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{404, 409, 422},
	}, s.rotateAPIKey)
	route(api, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/v1/api-keys/{id}", Tags: apiKeys,
		Summary: "Revoke an API key at once", DefaultStatus: http.StatusNoContent,
		Errors: []int{404},
	}, s.revokeAPIKey)

	route(api, huma.Operation{
		OperationID: "put-job", Method: http.MethodPost, Path: "/v1/jobs", Tags: jobs,
		Summary:     "Register a job ahead of its events",
		Description: "Sets the job's partner params (echoed in every event) and, optionally, its own callback URL.",
		Metadata:    operatorOnly,
		Errors:      []int{404, 422},
	}, s.putJob)
	route(api, huma.Operation{
		OperationID: "get-job", Method: http.MethodGet, Path: "/v1/jobs/{id}", Tags: jobs,
		Summary: "A job's status, partner params and events with their delivery state",
		Errors:  []int{404},
	}, s.getJob)
	route(api, huma.Operation{
		OperationID: "list-jobs", Method: http.MethodGet, Path: "/v1/jobs", Tags: jobs,
		Summary: "List jobs by last change, oldest or newest first; filter by status, kind, time or a partner-param value",
		Errors:  []int{404, 422},
	}, s.listJobs)

	route(api, huma.Operation{
		OperationID: "list-profiles", Method: http.MethodGet, Path: "/v1/profiles", Tags: endpoints,
		Summary:     "List the delivery profiles",
		Description: "The built-in profiles an endpoint may name in profile: for each, its options and the body, signatures, success rule, retry preset, identical_retries and default event filter it sets.",
	}, s.listProfiles)
	route(api, huma.Operation{
		OperationID: "preview-transform", Method: http.MethodPost, Path: "/v1/transforms/preview", Tags: endpoints,
		Summary:     "Preview what an endpoint would be sent",
		Description: "Answers with the body and headers Herald would send an endpoint configuration (endpoint_id, endpoint fields inline, or both) for an event (event_id, or one given as it would be published), signatures included. Nothing is sent or saved; secrets are masked.",
		Errors:      []int{404, 422},
	}, s.previewTransform)
	route(api, huma.Operation{
		OperationID: "test-endpoint", Method: http.MethodPost, Path: "/v1/endpoints/{id}/test", Tags: endpoints,
		Summary:     "Send a test event now",
		Description: "Sends the type's example (or the given data), marked \"test\": true, to this endpoint only, and answers with what happened. The send appears in the delivery log, marked as a test.",
		Errors:      []int{404, 409, 422},
	}, s.testEndpoint)
	route(api, huma.Operation{
		OperationID: "recover-endpoint", Method: http.MethodPost, Path: "/v1/endpoints/{id}/recover", Tags: endpoints,
		Summary:       "Send an endpoint's failed deliveries again",
		Description:   "Every failed delivery of the endpoint created in [since, until) is due again now, with the same webhook-id.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{404, 422},
	}, s.recoverEndpoint)
	route(api, huma.Operation{
		OperationID: "rotate-endpoint-secret", Method: http.MethodPost, Path: "/v1/endpoints/{id}/secret/rotate", Tags: endpoints,
		Summary:     "Replace an endpoint's signing secret",
		Description: "Returns the new secret once. For the grace period (default 24 h) deliveries carry two signatures, by the new and the old secret, so receivers can switch without failing a delivery.",
		Errors:      []int{404, 422},
	}, s.rotateEndpointSecret)
	route(api, huma.Operation{
		OperationID: "get-default-callback", Method: http.MethodGet, Path: "/v1/default-callback", Tags: endpoints,
		Summary: "The scope's default callback endpoint",
		Errors:  []int{404},
	}, s.getDefaultCallback)
	route(api, huma.Operation{
		OperationID: "put-default-callback", Method: http.MethodPut, Path: "/v1/default-callback", Tags: endpoints,
		Summary: "Make an endpoint the scope's default callback",
		Errors:  []int{404, 422},
	}, s.putDefaultCallback)

	route(api, huma.Operation{
		OperationID: "create-portal-session", Method: http.MethodPost, Path: "/v1/tenants/{id}/portal-sessions", Tags: tenants,
		Summary:       "Open the web portal for a tenant",
		Description:   "Returns a sign-in link for the tenant portal, to hand to the tenant. It works once, within expires_in; the session it opens may switch between the tenant's two environments.",
		DefaultStatus: http.StatusCreated, Metadata: operatorOnly,
		Errors: []int{404, 422},
	}, s.createPortalSession)

	route(api, huma.Operation{
		OperationID: "get-tenant-branding", Method: http.MethodGet, Path: "/v1/tenants/{id}/branding", Tags: tenants,
		Summary: "A tenant's portal branding", Metadata: operatorOnly,
		Errors: []int{404},
	}, s.getTenantBranding)
	route(api, huma.Operation{
		OperationID: "update-tenant-branding", Method: http.MethodPatch, Path: "/v1/tenants/{id}/branding", Tags: tenants,
		Summary:     "Change a tenant's portal branding",
		Description: "Display name, accent colour, logo, and the origins allowed to frame the portal. Only the fields given change; an empty value removes one.",
		Metadata:    operatorOnly,
		Errors:      []int{404, 422},
	}, s.updateTenantBranding)
	route(api, huma.Operation{
		OperationID: "get-branding", Method: http.MethodGet, Path: "/v1/branding", Tags: tenants,
		Summary: "The caller's tenant's portal branding",
		Errors:  []int{403},
	}, s.getBranding)
	route(api, huma.Operation{
		OperationID: "update-branding", Method: http.MethodPatch, Path: "/v1/branding", Tags: tenants,
		Summary:     "Change the caller's tenant's portal branding",
		Description: "A tenant's API key or portal session may set its display name, accent colour and logo; which sites may frame the portal is the operator's to set (PATCH /v1/tenants/{id}/branding).",
		Errors:      []int{403, 422},
	}, s.updateBranding)

	route(api, huma.Operation{
		OperationID: "list-audit-log", Method: http.MethodGet, Path: "/v1/audit-log", Tags: audit,
		Summary: "The audit log, newest first",
		Description: "Who changed what, when and from where: every change to tenants, API keys, endpoints (secrets, profiles and pauses included) and event types, " +
			"and every portal and console sign-in and sign-out, with the fields it changed (secrets shown as \"****\"). " +
			"An API key or a portal session reads its own tenant's and environment's entries; the operator reads any, or all. " +
			"With Accept: application/x-ndjson the page is one entry a line, and Herald-Next-Cursor says where the next starts (an export).",
		Errors: []int{403, 422},
	}, s.listAuditLog)
	declareNDJSON(api)

	route(api, huma.Operation{
		OperationID: "create-erasure", Method: http.MethodPost, Path: "/v1/erasures", Tags: []string{"Erasures"},
		Summary: "Erase a person's data",
		Description: "Erases what Herald keeps about the events one selector matches (a job, the jobs whose partner params hold a value under a key, " +
			"or events by id): each event's data, its job's partner params and callback URL, its deliveries' callback URLs and last errors, " +
			"its attempts' headers, response bodies and error texts, and its idempotency keys. Ids, types, times and outcomes stay, marked erased_at. " +
			"Pending deliveries are cancelled. The answer is the receipt, also listed by GET /v1/erasures; a selector matching nothing is a receipt " +
			"with zero counts, and erasing again is harmless. On SQLite the write-ahead log is emptied afterwards (wal_truncated). See docs/privacy.md.",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{403, 404, 422},
	}, s.createErasure)
	route(api, huma.Operation{
		OperationID: "list-erasures", Method: http.MethodGet, Path: "/v1/erasures", Tags: []string{"Erasures"},
		Summary:     "The erasure receipts, newest first",
		Description: "An API key or a portal session reads its own scope's; the operator reads any tenant's or environment's, or all.",
		Errors:      []int{403, 422},
	}, s.listErasures)

	route(api, huma.Operation{
		OperationID: "get-egress-ips", Method: http.MethodGet, Path: "/v1/egress-ips", Tags: endpoints,
		Summary:     "The addresses deliveries come from",
		Description: "For receivers that allowlist their callers' IP addresses. Empty when the operator has not published them.",
	}, s.getEgressIPs)
}

// route registers an operation. Beside the errors its handler answers, it
// declares those answered before the handler runs: by authenticate (400 for
// a credential in the URL, 401, 403 for a key calling an operator-only
// operation, 429 for a key over its rate limit, for a client over its
// budget of wrong credentials or a tenant over its request bytes in flight,
// 503 when the store cannot look a key up or the process is at its request
// bytes in flight), and by huma reading a request body (400, 413, 415, 422).
// huma adds 500, and 422 for operations with path parameters.
func route[I, O any](api huma.API, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	if op.Metadata["operator_only"] == true {
		op.Errors = append(op.Errors, http.StatusForbidden)
	}
	_, body := reflect.TypeFor[I]().FieldByName("Body")
	if _, raw := reflect.TypeFor[I]().FieldByName("RawBody"); body || raw {
		op.Errors = append(op.Errors, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity)
	}
	slices.Sort(op.Errors)
	op.Errors = slices.Compact(op.Errors)
	huma.Register(api, op, h)
}
