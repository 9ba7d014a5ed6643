package client_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/api"
)

// The client is written by hand; this test holds it to the OpenAPI
// document the server generates from its handlers. It fails when an
// operation has no client method or the client calls one the API does not
// have, when a method or path differs, when a query parameter or header is
// missing on either side, and when a request or response body's JSON
// fields (recursively, both ways) or the fields it requires differ.
func TestTheClientAgreesWithTheOpenAPIDocument(t *testing.T) {
	_, h := api.New(api.Config{})
	doc := h.OpenAPI()
	ops := documentOperations(doc)
	routes := client.Routes()
	if len(ops) < 30 {
		t.Fatalf("only %d operations in the document", len(ops))
	}
	for _, id := range slices.Sorted(maps.Keys(routes)) {
		if _, ok := ops[id]; !ok {
			t.Errorf("the client calls %s, which is not in the OpenAPI document", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(ops)) {
		op := ops[id]
		r, ok := routes[id]
		if !ok {
			t.Errorf("operation %s (%s %s) has no client method", id, op.Method, op.Path)
			continue
		}
		c := &conformance{t: t, reg: doc.Components.Schemas, op: id}
		if r.Method != op.Method || r.Path != op.Path {
			c.errorf("the client sends %s %s, the document says %s %s", r.Method, r.Path, op.Method, op.Path)
		}
		c.parameters(op, r.Query)
		c.requestBody(op, r.In)
		c.responseBody(op, r.Out)
	}

	// The problem+json body the client decodes into *Error.
	c := &conformance{t: t, reg: doc.Components.Schemas, op: "problem+json", subset: true}
	c.compare(reflect.TypeFor[client.Error](), &huma.Schema{Ref: "#/components/schemas/ErrorModel"}, "Error")
}

// documentOperations indexes the document's operations by id.
func documentOperations(doc *huma.OpenAPI) map[string]*huma.Operation {
	ops := map[string]*huma.Operation{}
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Patch, item.Delete} {
			if op != nil {
				ops[op.OperationID] = op
			}
		}
	}
	return ops
}

// clientHeaders are the request headers the client can send.
var clientHeaders = []string{"Herald-Tenant", "Herald-Environment", "Idempotency-Key"}

type conformance struct {
	t   *testing.T
	reg huma.Registry
	op  string
	// subset checks only that the client's fields are in the document.
	subset bool
}

func (c *conformance) errorf(format string, args ...any) {
	c.t.Helper()
	c.t.Errorf("%s: %s", c.op, fmt.Sprintf(format, args...))
}

func (c *conformance) parameters(op *huma.Operation, query reflect.Type) {
	c.t.Helper()
	var docQuery []string
	for _, p := range op.Parameters {
		switch p.In {
		case "query":
			docQuery = append(docQuery, p.Name)
		case "header":
			if !slices.Contains(clientHeaders, p.Name) {
				c.errorf("the document takes header %s, which the client never sends", p.Name)
			}
		}
	}
	goQuery := queryNames(query)
	for _, n := range docQuery {
		if !slices.Contains(goQuery, n) {
			c.errorf("query parameter %s is in the document but not in the client's %s", n, query)
		}
	}
	for _, n := range goQuery {
		if !slices.Contains(docQuery, n) {
			c.errorf("the client's %s sends query parameter %s, which the document does not have", query, n)
		}
	}
}

// queryNames lists the query tags of a params struct and the structs it
// embeds.
func queryNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if f.Anonymous {
			names = append(names, queryNames(f.Type)...)
		} else if n := f.Tag.Get("query"); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func (c *conformance) requestBody(op *huma.Operation, in reflect.Type) {
	c.t.Helper()
	if op.RequestBody == nil {
		if in != client.None {
			c.errorf("the client sends a %s body; the document takes none", in)
		}
		return
	}
	mt := op.RequestBody.Content["application/json"]
	if mt == nil || in == client.None {
		c.errorf("the document takes a JSON body; the client sends %s", in)
		return
	}
	c.compare(in, mt.Schema, "request "+typeName(in))
}

func (c *conformance) responseBody(op *huma.Operation, out reflect.Type) {
	c.t.Helper()
	for code, resp := range op.Responses {
		if !strings.HasPrefix(code, "2") {
			continue
		}
		mt := resp.Content["application/json"]
		switch {
		case mt == nil && out != client.None:
			c.errorf("the client decodes a %s from the %s answer, which has no body", out, code)
		case mt != nil && out == client.None:
			c.errorf("the %s answer has a JSON body; the client ignores it", code)
		case mt != nil:
			c.compare(out, mt.Schema, "response "+typeName(out))
		}
	}
}

// typeName is a type's name without the client's import path.
func typeName(t reflect.Type) string {
	return strings.ReplaceAll(t.String(), "github.com/heraldhq/herald/client.", "")
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// compare holds a Go type to a schema; at names the place, as
// "response Endpoint.retry_policy".
func (c *conformance) compare(typ reflect.Type, s *huma.Schema, at string) {
	c.t.Helper()
	if s != nil && s.Ref != "" {
		s = c.reg.SchemaFromRef(s.Ref)
	}
	if s == nil {
		c.errorf("%s: the document has no schema", at)
		return
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := map[reflect.Kind]string{
		reflect.String: "string", reflect.Bool: "boolean", reflect.Int: "integer", reflect.Int64: "integer",
		reflect.Struct: "object", reflect.Map: "object", reflect.Slice: "array",
	}[typ.Kind()]
	switch {
	case typ == rawType || typ.Kind() == reflect.Interface:
		// Any JSON.
	case typ == timeType:
		if s.Type != "string" || s.Format != "date-time" {
			c.errorf("%s: the client has a time, the document a %s %s", at, s.Type, s.Format)
		}
	case want == "" || s.Type != want:
		c.errorf("%s: the client has a Go %s, the document a %q", at, typ, s.Type)
	case typ.Kind() == reflect.Slice:
		c.compare(typ.Elem(), s.Items, at+"[]")
	case typ.Kind() == reflect.Map:
		if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
			c.compare(typ.Elem(), ap, at+"{}")
		}
	case typ.Kind() == reflect.Struct:
		c.object(typ, s, at)
	}
}

// object compares a struct's JSON fields with an object schema's
// properties, both ways, and which of them are required.
func (c *conformance) object(typ reflect.Type, s *huma.Schema, at string) {
	c.t.Helper()
	fields := jsonFields(typ)
	for name, f := range fields {
		prop, ok := s.Properties[name]
		if !ok {
			c.errorf("%s.%s: the client's field %s.%s is not in the document", at, name, typeName(typ), f.goName)
			continue
		}
		if required := slices.Contains(s.Required, name); !c.subset && required == f.optional {
			if required {
				c.errorf("%s.%s: the document requires it; the client's %s.%s omits it when empty", at, name, typeName(typ), f.goName)
			} else {
				c.errorf("%s.%s: the document has it optional; the client's %s.%s needs omitempty or omitzero", at, name, typeName(typ), f.goName)
			}
		}
		c.compare(f.typ, prop, at+"."+name)
	}
	if c.subset {
		return
	}
	for name := range s.Properties {
		if _, ok := fields[name]; !ok {
			c.errorf("%s.%s: the document has this field; the client's %s does not", at, name, typeName(typ))
		}
	}
}

type jsonField struct {
	goName   string
	typ      reflect.Type
	optional bool // omitempty or omitzero
	depth    int
}

// jsonFields lists a struct's fields as encoding/json sees them: by JSON
// name, embedded structs' fields promoted, the shallower field winning.
func jsonFields(typ reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for f := range t.Fields() {
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				walk(f.Type, depth+1)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if prev, ok := out[name]; ok && prev.depth <= depth {
				continue
			}
			optional := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
			out[name] = jsonField{goName: f.Name, typ: f.Type, optional: optional, depth: depth}
		}
	}
	walk(typ, 0)
	return out
}
