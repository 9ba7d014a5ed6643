// Package catalog holds Herald's built-in event types: the KYC/KYB/AML
// catalog (verification.*, aml.*, invitation.*, message.*, media.*,
// spot_check.*), webhook.test, and Herald's own operational events
// (endpoint.circuit_opened, endpoint.disabled, endpoint.recovered,
// delivery.exhausted: internal/signals publishes them).
//
// The types are data, not code: each is a JSON file in types/ named after
// the type, holding its description, flags, JSON Schema (draft 2020-12)
// and example. Definitions shared by several schemas (a decision, a check,
// an AML match…) live once in shared_defs.json; each schema refers to them
// as "#/$defs/<name>", and Types adds the ones it uses (and the ones those
// use) to the schema's own "$defs", so every schema Types returns stands
// alone. docs/events.md documents the catalog.
package catalog

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/heraldhq/herald/internal/domain"
)

//go:embed types/*.json
var typeFiles embed.FS

//go:embed shared_defs.json
var sharedDefsJSON []byte

// file is the layout of one types/<name>.json.
type file struct {
	Description string `json:"description"`
	Sensitive   bool   `json:"sensitive"`
	TTLSeconds  int    `json:"ttl_seconds"`
	// RetryPolicy is the type's own schedule: the types that ask the
	// tenant to act now have the fast preset.
	RetryPolicy *domain.RetryPolicy `json:"retry_policy"`
	Schema      json.RawMessage     `json:"schema"`
	Example     json.RawMessage     `json:"example"`
}

var load = sync.OnceValues(loadTypes)

// Types returns the built-in event types, sorted by name. Each has a
// description, a self-contained JSON Schema for its data, and an example
// that satisfies the schema. The result is the caller's to change.
func Types() []domain.EventType {
	ts, err := load()
	if err != nil {
		// The files are embedded and checked by the package's tests.
		panic("catalog: " + err.Error())
	}
	out := make([]domain.EventType, len(ts))
	for i, t := range ts {
		out[i] = clone(t)
	}
	return out
}

// Lookup returns the built-in type with the given name.
func Lookup(name string) (domain.EventType, bool) {
	for _, t := range Types() {
		if t.Name == name {
			return t, true
		}
	}
	return domain.EventType{}, false
}

func clone(t domain.EventType) domain.EventType {
	t.Schema = slices.Clone(t.Schema)
	t.Example = slices.Clone(t.Example)
	if t.RetryPolicy != nil {
		p := *t.RetryPolicy
		t.RetryPolicy = &p
	}
	return t
}

func loadTypes() ([]domain.EventType, error) {
	var defs map[string]json.RawMessage
	if err := json.Unmarshal(sharedDefsJSON, &defs); err != nil {
		return nil, fmt.Errorf("shared_defs.json: %w", err)
	}
	for k, v := range defs {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, fmt.Errorf("shared_defs.json: %s: %w", k, err)
		}
		defs[k] = b.Bytes()
	}
	names, err := typeFiles.ReadDir("types")
	if err != nil {
		return nil, err
	}
	var ts []domain.EventType
	for _, e := range names {
		t, err := loadType(path.Join("types", e.Name()), defs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b domain.EventType) int { return strings.Compare(a.Name, b.Name) })
	return ts, nil
}

func loadType(p string, defs map[string]json.RawMessage) (domain.EventType, error) {
	raw, err := typeFiles.ReadFile(p)
	if err != nil {
		return domain.EventType{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return domain.EventType{}, err
	}
	name := strings.TrimSuffix(path.Base(p), ".json")
	if err := domain.ValidateEventTypeName("name", name); err != nil {
		return domain.EventType{}, err
	}
	if f.Description == "" || len(f.Schema) == 0 || len(f.Example) == 0 {
		return domain.EventType{}, fmt.Errorf("description, schema and example are all required")
	}
	schema, err := withDefs(f.Schema, defs)
	if err != nil {
		return domain.EventType{}, fmt.Errorf("schema: %w", err)
	}
	if f.RetryPolicy != nil {
		if err := f.RetryPolicy.Normalize(); err != nil {
			return domain.EventType{}, err
		}
	}
	var example bytes.Buffer
	if err := json.Compact(&example, f.Example); err != nil {
		return domain.EventType{}, fmt.Errorf("example: %w", err)
	}
	return domain.EventType{
		Name:        name,
		Description: f.Description,
		Schema:      schema,
		Example:     example.Bytes(),
		Sensitive:   f.Sensitive,
		TTLSeconds:  f.TTLSeconds,
		RetryPolicy: f.RetryPolicy,
	}, nil
}

var defRef = regexp.MustCompile(`"#/\$defs/([A-Za-z0-9_]+)"`)

// withDefs compacts a schema and appends to it a "$defs" holding every
// shared definition it refers to, directly or through other definitions.
// Keys keep their order in the file, so the schema reads as written.
func withDefs(schema json.RawMessage, defs map[string]json.RawMessage) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, schema); err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, ok := top["$defs"]; ok {
		return nil, fmt.Errorf("has its own $defs: put shared definitions in shared_defs.json")
	}
	used := map[string]json.RawMessage{}
	queue := [][]byte{b.Bytes()}
	for len(queue) > 0 {
		doc := queue[0]
		queue = queue[1:]
		for _, m := range defRef.FindAllSubmatch(doc, -1) {
			name := string(m[1])
			if _, ok := used[name]; ok {
				continue
			}
			d, ok := defs[name]
			if !ok {
				return nil, fmt.Errorf("refers to #/$defs/%s, which shared_defs.json does not define", name)
			}
			used[name] = d
			queue = append(queue, d)
		}
	}
	if len(used) == 0 {
		return b.Bytes(), nil
	}
	var defsJSON bytes.Buffer
	enc := json.NewEncoder(&defsJSON)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(used); err != nil { // keys sorted by name
		return nil, err
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("}"))
	out = append(out, `,"$defs":`...)
	out = append(out, bytes.TrimSpace(defsJSON.Bytes())...)
	out = append(out, '}')
	return out, nil
}
