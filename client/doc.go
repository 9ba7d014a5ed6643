// Package client is Herald's typed Go client: a method per API operation,
// the API's request and response bodies as Go structs, problem+json
// answers as *Error, and helpers to walk paginated lists.
//
// It is written by hand rather than generated, so that it has no
// dependency beyond the standard library and its types read like Go; a
// test holds every method, path, query parameter and body field against
// the OpenAPI document the server generates from its handlers, so the two
// cannot drift apart unnoticed.
//
// An operator token may act for any tenant: WithScope names the tenant and
// environment of tenant-scoped calls. A tenant's API key carries its own
// scope. HandlerTransport serves calls with an http.Handler in the same
// process, so that Herald's portal can call its API, and tests a handler,
// without a socket.
//
// See docs/client.md for a walk-through.
package client
