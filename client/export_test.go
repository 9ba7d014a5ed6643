package client

import "reflect"

// Route describes one operation the client calls, for the OpenAPI test.
type Route = routeInfo

// Routes returns every operation the client calls, by operation id.
func Routes() map[string]Route { return routes }

// None is the type a route gives an absent query, request or response body.
var None = reflect.TypeFor[none]()
