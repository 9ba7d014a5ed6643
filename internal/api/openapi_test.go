package api

import (
	"os"
	"testing"
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
