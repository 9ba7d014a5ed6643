package api_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/server/servertest"
)

// TestUnknownQueryParameterIsRefusedOnEveryRead walks every GET operation of
// the served OpenAPI document, so a read added later (a new list) is
// covered without a line of its own: a parameter it does not declare is a
// 400 problem naming it, and the same call without it is not refused.
func TestUnknownQueryParameterIsRefusedOnEveryRead(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		var doc struct {
			Paths map[string]map[string]struct {
				OperationID string `json:"operationId"`
			} `json:"paths"`
		}
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/openapi.json"}).JSON(t, &doc)
		var paths []string
		for p, ops := range doc.Paths {
			if _, ok := ops["get"]; ok && strings.HasPrefix(p, "/v1/") {
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		lists := 0
		for _, path := range paths {
			op := doc.Paths[path]["get"].OperationID
			concrete := strings.NewReplacer("{id}", "acme", "{name}", "a.b").Replace(path)
			t.Run(op, func(t *testing.T) {
				r := h.Must(http.StatusBadRequest, servertest.Call{Method: "GET", Path: concrete + "?stauts=failed", Tenant: "acme", Env: "sandbox"})
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q, want application/problem+json", ct)
				}
				var p struct {
					Detail string `json:"detail"`
					Errors []struct {
						Location string `json:"location"`
					} `json:"errors"`
				}
				r.JSON(t, &p)
				if len(p.Errors) != 1 || p.Errors[0].Location != "query.stauts" || !strings.Contains(p.Detail, "stauts") {
					t.Errorf("the problem does not name query.stauts: %s", r.Body)
				}
				if r := h.Do(servertest.Call{Method: "GET", Path: concrete, Tenant: "acme", Env: "sandbox"}); r.Status == http.StatusBadRequest {
					t.Errorf("without the unknown parameter: status %d: %s", r.Status, r.Body)
				}
			})
			if strings.HasPrefix(op, "list-") {
				lists++
			}
		}
		if lists < 6 {
			t.Fatalf("only %d list operations found in the document", lists)
		}
	})
}

// TestDeclaredQueryParametersStillWork guards the rule from refusing what
// an operation does declare.
func TestDeclaredQueryParametersStillWork(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	r := h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/deliveries?status=failed&limit=5&event_type=a.b", Tenant: "acme", Env: "sandbox"})
	var l struct{ Data []json.RawMessage }
	r.JSON(t, &l)
}
