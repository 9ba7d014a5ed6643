package manage

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/domain"
)

// FuzzSchema compiles fuzzed event type schemas as PutEventType does and
// checks fuzzed data against those that compile, as a publish does: it
// never panics, data that fails is refused with a field under "data", and
// the schema with its references inlined (inlineRefs) judges the data as
// the schema as written does.
func FuzzSchema(f *testing.F) {
	files, _ := filepath.Glob("../catalog/types/*.json")
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var doc struct{ Schema, Example json.RawMessage }
		if json.Unmarshal(raw, &doc) == nil && doc.Schema != nil {
			f.Add([]byte(doc.Schema), []byte(doc.Example))
		}
	}
	for _, s := range [][2]string{
		{`{}`, `{}`}, {`true`, `{"a":1}`}, {`false`, `{}`},
		{`{"type":"object","required":["a"],"properties":{"a":{"type":"string","maxLength":3,"pattern":"^[a-z]+$"}}}`, `{"a":"abcd"}`},
		{`{"$ref":"#/$defs/x","$defs":{"x":{"$ref":"#/$defs/x"}}}`, `{}`},
		{`{"$ref":"https://example.com/s.json"}`, `{}`}, {`{"$ref":"file:///etc/passwd"}`, `{}`},
		{`{"type":"object","additionalProperties":false,"properties":{"n":{"type":"integer","minimum":1e308}}}`, `{"n":1e309}`},
		{`{"anyOf":[{"type":"array","items":{"$ref":"#"}},{"type":"null"}]}`, `{"x":[[[[null]]]]}`},
		{`{"pattern":"(a+)+$"}`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"`}, {`{"format":"email"}`, `{"e":"x@"}`}, {`{`, `{}`},
		{`{"$defs":{"s":{"type":"string"},"o":{"properties":{"a":{"$ref":"#/$defs/s"}},"unevaluatedProperties":false}},
			"allOf":[{"$ref":"#/$defs/o","description":"d"}],"properties":{"b":{"$ref":"#/$defs/s","minLength":2}}}`, `{"a":"x","b":"y"}`},
		{`{"$defs":{"n":{"$ref":"#/$defs/m"},"m":{"enum":[{"$ref":"#/$defs/n"}]}},"properties":{"x":{"$ref":"#/$defs/n"}}}`, `{"x":{"$ref":"#/$defs/n"}}`},
		{`{"$schema":"http://json-schema.org/draft-04/schema#","$defs":{"x":{"type":"string"}},"properties":{"a":{"id":"http://e/o","$defs":{"x":{"type":"integer"}},"properties":{"b":{"$ref":"#/$defs/x"}}}}}`, `{"a":{"b":1}}`},
		{`{"$defs":{"x":{"a":true}},"properties":{"$ref":"#/$defs/x"}}`, `{"a":1}`},
		{`{"minimum":1,"multipleOf":0.5}`, `1e99999999`}, {`{"maximum":1e-9999999}`, `{}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, schema, data []byte) {
		sch, err := compileSchema(schema)
		var plain *jsonschema.Schema
		v, perr := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
		if perr == nil {
			perr = checkNumbers(v, "schema")
		}
		if perr == nil {
			plain, perr = compileDecoded(v)
		}
		if (err == nil) != (perr == nil) {
			t.Fatalf("inlined the schema compiles with %v, as written with %v", err, perr)
		}
		if err != nil {
			return
		}
		err = validateData(sch, data, "data")
		var ve *domain.ValidationError
		if err != nil && (!errors.As(err, &ve) || !strings.HasPrefix(ve.Field, "data")) {
			t.Fatalf("refusal %v names no data field", err)
		}
		if perr := validateData(plain, data, "data"); (perr == nil) != (err == nil) {
			t.Fatalf("inlined: %v; as written: %v", err, perr)
		}
	})
}
