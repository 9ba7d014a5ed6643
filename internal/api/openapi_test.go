package api

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

// The OpenAPI document in docs/ is generated from the handlers; this test
// fails when it is stale. Regenerate with:
//
//	go run ./cmd/herald openapi > docs/openapi.yaml
func TestTheCommittedOpenAPIDocumentIsCurrent(t *testing.T) {
	_, h := New(Config{})
	want, err := h.OpenAPI().YAML()
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/openapi.yaml"
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(want) {
		t.Fatalf("docs/openapi.yaml is stale or missing (%v); run: go run ./cmd/herald openapi > docs/openapi.yaml", err)
	}
}

// Every route the server answers is in the OpenAPI document, but for the
// document itself and the health check.
func TestEveryRouteIsInTheOpenAPIDocument(t *testing.T) {
	mux, h := build(Config{})
	doc := h.OpenAPI()
	notAPI := map[string]bool{
		"GET /openapi.json": true, "GET /openapi.yaml": true, "GET /openapi-3.0.json": true, "GET /openapi-3.0.yaml": true,
		"GET /schemas/{schema}": true, "GET /healthz": true,
	}
	if len(mux.patterns) < 20 {
		t.Fatalf("only %d routes recorded: %v", len(mux.patterns), mux.patterns)
	}
	for _, p := range mux.patterns {
		if notAPI[p] {
			continue
		}
		method, path, _ := strings.Cut(p, " ")
		item := doc.Paths[path]
		var op *huma.Operation
		if item != nil {
			op = map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete}[method]
		}
		if op == nil {
			t.Errorf("route %s is served but not in the OpenAPI document", p)
		}
	}
}

// What redocly lint asks of the document, held here too so that a new
// operation or type cannot break it unnoticed: every operation says which
// errors it answers, and every schema's name is one that code generators
// can turn into a type name.
func TestEveryOperationDeclaresItsErrorsAndEverySchemaHasAPlainName(t *testing.T) {
	_, h := New(Config{})
	doc := h.OpenAPI()
	plain := regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	for name := range doc.Components.Schemas.Map() {
		if !plain.MatchString(name) {
			t.Errorf("schema %q: name a Go type for it", name)
		}
	}
	for path, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			for _, code := range []string{"400", "401", "500", "503"} {
				if op.Responses[code] == nil {
					t.Errorf("%s %s declares no %s response", op.Method, path, code)
				}
			}
		}
	}
	if len(doc.Servers) == 0 {
		t.Error("the document names no server")
	}
}
