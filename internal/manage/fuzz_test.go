package manage

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/domain"
)

// FuzzSchema compiles fuzzed event type schemas as PutEventType does and
// checks fuzzed data against those that compile, as a publish does: it
// never panics, and data that fails is refused with a field under "data".
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
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, schema, data []byte) {
		sch, err := compileSchema(schema)
		if err != nil {
			return
		}
		err = validateData(sch, data, "data")
		var ve *domain.ValidationError
		if err != nil && (!errors.As(err, &ve) || !strings.HasPrefix(ve.Field, "data")) {
			t.Fatalf("refusal %v names no data field", err)
		}
	})
}
