package manage

import (
	"fmt"
	"slices"
	"strings"
)

// annotations are the keywords that say something about a schema without
// asserting anything: a "$ref" with only these beside it is its target.
var annotations = map[string]bool{
	"description": true, "title": true, "$comment": true, "examples": true, "default": true,
	"deprecated": true, "readOnly": true, "writeOnly": true,
}

// values are the keywords whose value is data, not a schema: never walked.
var values = map[string]bool{"const": true, "enum": true}

// schemaMaps are the keywords whose value maps names to schemas: the map
// itself is not a schema (a property named "$ref" is no reference).
var schemaMaps = map[string]bool{"properties": true, "patternProperties": true, "$defs": true, "dependentSchemas": true}

// draft2020 is the one dialect inlining knows; a schema that names
// another is left as written (draft 4's "id" changes the base of its
// references, for one).
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// maxInlined bounds the values an inlined schema may hold, against a
// schema whose definitions refer to each other many times over (inlining
// copies a definition at every reference).
const maxInlined = 20_000

// inlineRefs replaces each "$ref" to "#/$defs/<name>" that has only
// annotations beside it by the definition it names, in a schema decoded
// as jsonschema.UnmarshalJSON decodes it. The validator then checks such a
// value in the subschema itself instead of through a reference, which
// costs a frame, its allocations and the error's detail ("validation
// failed" instead of what failed): the catalog's schemas are mostly such
// references into their shared definitions. Verdicts do not change, since
// a reference with nothing else beside it means its target. Anything that
// makes that less than obvious leaves the reference, or the whole schema,
// as it was: an "$id" or "$anchor" anywhere (another base for references),
// dynamic or recursive references, a definition name that needs escaping,
// a reference inside the definition it names (recursion), or more than
// maxInlined values in all. The "$defs" stay, for the references that
// remain.
func inlineRefs(schema any) any {
	root, ok := schema.(map[string]any)
	if d, named := root["$schema"]; ok && named && strings.TrimSuffix(fmt.Sprint(d), "#") != draft2020 {
		return schema
	}
	if !ok || hasKey(schema, func(k string) bool {
		return k == "$id" || k == "$anchor" || k == "$dynamicRef" || k == "$dynamicAnchor" || k == "$recursiveRef" || k == "$recursiveAnchor"
	}) {
		return schema
	}
	defs, _ := root["$defs"].(map[string]any)
	// inside are the definitions being inlined, outermost first.
	var inside []string
	budget := maxInlined
	var walk func(v any) any
	walk = func(v any) any {
		if budget--; budget < 0 {
			return v
		}
		switch v := v.(type) {
		case map[string]any:
			if name, target, ok := inlinable(v, defs); ok && !slices.Contains(inside, name) {
				inside = append(inside, name)
				out := walk(target)
				inside = inside[:len(inside)-1]
				return out
			}
			out := make(map[string]any, len(v))
			for k, e := range v {
				m, isMap := e.(map[string]any)
				switch {
				case values[k] || annotations[k]:
					out[k] = e
				case schemaMaps[k] && isMap:
					named := make(map[string]any, len(m))
					for name, sub := range m {
						named[name] = walk(sub)
					}
					out[k] = named
				default:
					out[k] = walk(e)
				}
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = walk(e)
			}
			return out
		}
		return v
	}
	out := walk(root)
	if budget < 0 {
		return schema
	}
	return out
}

// inlinable returns the definition a schema object stands for, and its
// name, when it is a "$ref" into defs with only annotations beside it.
func inlinable(v map[string]any, defs map[string]any) (string, any, bool) {
	ref, ok := v["$ref"].(string)
	if !ok {
		return "", nil, false
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok || name == "" || strings.ContainsAny(name, "/~%") {
		return "", nil, false
	}
	for k := range v {
		if k != "$ref" && !annotations[k] {
			return "", nil, false
		}
	}
	target, ok := defs[name]
	return name, target, ok
}

// hasKey reports whether any object in v, at any depth, has a key that
// matches.
func hasKey(v any, match func(string) bool) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if match(k) || hasKey(e, match) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasKey(e, match) {
				return true
			}
		}
	}
	return false
}
