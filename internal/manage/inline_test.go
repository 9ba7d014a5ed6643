package manage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/domain"
)

// verdict is what a check says of data: "" when it passes, else the field
// it names.
func verdict(t *testing.T, sch *jsonschema.Schema, data any) string {
	t.Helper()
	err := validateDecoded(sch, data, "data")
	if err == nil {
		return ""
	}
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("check failed with %v", err)
	}
	return ve.Field
}

func decoded(t *testing.T, doc []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mutations are the example and, for every value in it, the example with
// that value of another type, and with each object's keys one less or one
// more and each array one longer: what publishers get wrong.
func mutations(t *testing.T, example any) []any {
	copyOf := func() any {
		b, err := json.Marshal(example)
		if err != nil {
			t.Fatal(err)
		}
		return decoded(t, b)
	}
	out := []any{copyOf()}
	// change copies the example and applies fn to the value at path, which
	// returns the value to put in its place.
	change := func(path []any, fn func(v any) any) {
		root := copyOf()
		if len(path) == 0 {
			out = append(out, fn(root))
			return
		}
		parent := root
		for _, step := range path[:len(path)-1] {
			switch p := parent.(type) {
			case map[string]any:
				parent = p[step.(string)]
			case []any:
				parent = p[step.(int)]
			}
		}
		switch p := parent.(type) {
		case map[string]any:
			k := path[len(path)-1].(string)
			if n := fn(p[k]); n == nil {
				delete(p, k)
			} else {
				p[k] = n
			}
		case []any:
			p[path[len(path)-1].(int)] = fn(p[path[len(path)-1].(int)])
		}
		out = append(out, root)
	}
	var walk func(v any, path []any)
	walk = func(v any, path []any) {
		path = path[:len(path):len(path)]
		for _, other := range []any{"text", json.Number("-1"), json.Number("1.5"), true, []any{}, map[string]any{}} {
			change(path, func(any) any { return other })
		}
		switch v := v.(type) {
		case map[string]any:
			change(path, func(o any) any { o.(map[string]any)["unexpected"] = true; return o })
			for k, e := range v {
				change(append(path, k), func(any) any { return nil }) // removed
				walk(e, append(path, k))
			}
		case []any:
			change(path, func(a any) any { return append(a.([]any), "extra") })
			for i, e := range v {
				walk(e, append(path, i))
			}
		}
	}
	walk(copyOf(), nil)
	return out
}

func TestInlinedSchemasJudgeEveryMutationOfTheExamplesAsTheirReferencesDo(t *testing.T) {
	checked, refused := 0, 0
	for _, typ := range catalog.Types() {
		if typ.Schema == nil || typ.Example == nil {
			continue
		}
		raw := decoded(t, typ.Schema)
		plain, err := compileDecoded(raw)
		if err != nil {
			t.Fatal(err)
		}
		inlined := inlineRefs(decoded(t, typ.Schema))
		if b, _ := json.Marshal(inlined); bytes.Contains(b, []byte(`"$ref"`)) && !bytes.Contains(typ.Schema, []byte(`"$ref"`)) {
			t.Fatalf("%s: inlining added a reference", typ.Name)
		}
		fast, err := compileDecoded(inlined)
		if err != nil {
			t.Fatalf("%s: the inlined schema does not compile: %v", typ.Name, err)
		}
		for _, m := range mutations(t, decoded(t, typ.Example)) {
			want, got := verdict(t, plain, m), verdict(t, fast, m)
			if want != got {
				b, _ := json.Marshal(m)
				t.Fatalf("%s: %s judged %q with references, %q inlined", typ.Name, b, want, got)
			}
			checked++
			if want != "" {
				refused++
			}
		}
	}
	if checked < 1000 || refused < checked/4 {
		t.Fatalf("%d mutations checked, %d of them refused: too few to say anything", checked, refused)
	}
	t.Logf("%d mutations judged alike, %d of them refused", checked, refused)
}

func TestInliningNamesWhatFailed(t *testing.T) {
	typ, _ := catalog.Lookup("verification.approved")
	sch, err := compileSchema(typ.Schema)
	if err != nil {
		t.Fatal(err)
	}
	err = validateDecoded(sch, decoded(t, []byte(`{"status":"approved","decision":{"result":"approved"},"reviewed_by":"auto",
		"checks":[{"name":"document","result":"clear","score":1.5}]}`)), "data")
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || ve.Field != "data.checks.0.score" || !strings.Contains(ve.Error(), "maximum") {
		t.Fatalf("got %v, want the score's maximum named", err)
	}
}

func TestARefusalNamesTheFieldInsideTheConditionThatFailed(t *testing.T) {
	typ, _ := catalog.Lookup("message.otp.requested")
	sch, err := compileSchema(typ.Schema)
	if err != nil {
		t.Fatal(err)
	}
	err = validateDecoded(sch, decoded(t, []byte(`{"status":"requested","channel":"sms","to":"not-a-phone","code":"1234","text":"x"}`)), "data")
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || ve.Field != "data.to" || !strings.Contains(ve.Error(), "pattern") {
		t.Fatalf("got %v, want data.to and its pattern named (not the allOf around it)", err)
	}
}

func TestSchemasInliningCannotHelpAreKeptAsTheyAre(t *testing.T) {
	for name, doc := range map[string]string{
		"recursive": `{"$defs":{"node":{"type":"object","properties":{"left":{"$ref":"#/$defs/node"},"right":{"$ref":"#/$defs/node"}}}},
			"$ref":"#/$defs/node"}`,
		"with an $id":      `{"$id":"https://example.com/s","$defs":{"a":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/a"}}}`,
		"escaped name":     `{"$defs":{"a/b":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/a~1b"}}}`,
		"ref with a check": `{"$defs":{"a":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/a","maxLength":2}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			sch, err := compileSchema(json.RawMessage(doc))
			if err != nil {
				t.Fatal(err)
			}
			if name == "recursive" {
				if got := verdict(t, sch, decoded(t, []byte(`{"left":{"right":{"left":3}}}`))); got != "data.left.right.left" {
					t.Fatalf("a bad leaf deep in a recursive schema named %q", got)
				}
				return
			}
			if got := verdict(t, sch, decoded(t, []byte(`{"x":"abc"}`))); (got == "") != (name == "with an $id" || name == "escaped name") {
				t.Fatalf("verdict %q", got)
			}
		})
	}
}

// A schema whose definitions each refer to the next many times would be
// copied out of all proportion: past maxInlined values it is kept as it was,
// at once.
// Two schemas a review found inlining would have changed: a draft 4
// schema whose "id" moves the base of a reference (b is an integer, not
// the root's string), and a "$ref" where properties expects a name, which
// does not compile as written and must not compile inlined.
func TestInliningLeavesOtherDraftsAndNamesAlone(t *testing.T) {
	draft4 := `{"$schema":"http://json-schema.org/draft-04/schema#","$defs":{"x":{"type":"string"}},
		"properties":{"a":{"id":"http://e/o","$defs":{"x":{"type":"integer"}},"properties":{"b":{"$ref":"#/$defs/x"}}}}}`
	v := decoded(t, []byte(draft4))
	plain, err := compileDecoded(v)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := compileSchema(json.RawMessage(draft4))
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{`{"a":{"b":1}}`, `{"a":{"b":"s"}}`} {
		if want, got := verdict(t, plain, decoded(t, []byte(data))), verdict(t, fast, decoded(t, []byte(data))); want != got {
			t.Fatalf("%s: %q as written, %q inlined", data, want, got)
		}
	}
	named := `{"$defs":{"x":{"a":true}},"properties":{"$ref":"#/$defs/x"}}`
	_, werr := compileDecoded(decoded(t, []byte(named)))
	_, ierr := compileSchema(json.RawMessage(named))
	if (werr == nil) != (ierr == nil) {
		t.Fatalf("as written: %v; inlined: %v", werr, ierr)
	}
}

func TestASchemaThatWouldGrowOutOfProportionIsKeptAsItWas(t *testing.T) {
	var defs []string
	for i := range 30 {
		refs := `{"type":"string"}`
		if i < 29 {
			refs = fmt.Sprintf(`{"properties":{"a":{"$ref":"#/$defs/d%d"},"b":{"$ref":"#/$defs/d%d"},"c":{"$ref":"#/$defs/d%d"}}}`, i+1, i+1, i+1)
		}
		defs = append(defs, fmt.Sprintf(`"d%d":%s`, i, refs))
	}
	doc := `{"$defs":{` + strings.Join(defs, ",") + `},"$ref":"#/$defs/d0"}`
	began := time.Now()
	sch, err := compileSchema(json.RawMessage(doc))
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("compiling took %s", took)
	}
	if got := verdict(t, sch, decoded(t, []byte(`{"a":{"b":{"c":{}}}}`))); got != "" {
		t.Fatalf("verdict %q", got)
	}
}
