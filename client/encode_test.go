package client

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
)

// fill sets every field of v it can reach to a value that is not zero, so
// omitempty and omitzero keep it; depth bounds recursive types.
func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch {
	case v.Type() == rawMessageType:
		v.SetBytes([]byte("{ \"a\" :\n [1, 2.50, \"<&>\"] }"))
		return
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s<&>é")
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, depth+1)
		v.SetMapIndex(reflect.ValueOf("k<").Convert(v.Type().Key()), e)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() || v.Type().Field(i).Anonymous {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

// Every request body the client sends encodes as encoding/json would
// (without HTML escaping), except that raw JSON keeps its whitespace:
// compacted, the two are the same bytes, filled or empty.
func TestRequestBodiesEncodeAsEncodingJSONWithRawJSONVerbatim(t *testing.T) {
	for _, id := range slices.Sorted(maps.Keys(routes)) {
		in := routes[id].In
		if in == reflect.TypeFor[none]() {
			continue
		}
		for _, filled := range []bool{false, true} {
			v := reflect.New(in)
			if filled {
				fill(v.Elem(), 0)
			}
			var got, want bytes.Buffer
			if err := encodeBody(&got, v.Interface()); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v.Interface()); err != nil {
				t.Fatalf("%s: encoding/json: %v", id, err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, got.Bytes()); err != nil {
				t.Fatalf("%s: not JSON: %v\n%s", id, err, got.Bytes())
			}
			if compact.String() != string(bytes.TrimSpace(want.Bytes())) {
				t.Errorf("%s (filled %v):\n got %s\nwant %s", id, filled, compact.Bytes(), want.Bytes())
			}
			if filled && bytes.Contains(got.Bytes(), []byte(`"a" :`)) != hasRaw(in, 0) {
				t.Errorf("%s: raw JSON not verbatim: %s", id, got.Bytes())
			}
		}
	}
}

// hasRaw says whether t holds a json.RawMessage somewhere.
func hasRaw(t reflect.Type, depth int) bool {
	if t == rawMessageType {
		return true
	}
	if depth > 6 {
		return false
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Array:
		return hasRaw(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if hasRaw(t.Field(i).Type, depth+1) {
				return true
			}
		}
	}
	return false
}

// Raw JSON that is not JSON is refused before anything is sent, as
// encoding/json refuses it.
func TestInvalidRawJSONIsRefused(t *testing.T) {
	var buf bytes.Buffer
	err := encodeBody(&buf, &PublishEvent{Type: "a.b", Data: json.RawMessage(`{"a":`)})
	if err == nil {
		t.Fatalf("encoded %s", buf.Bytes())
	}
}

// Of a promoted field and a field of the same name at the top, the top one
// is sent, as encoding/json decides.
func TestAShallowerFieldHidesAPromotedOne(t *testing.T) {
	type inner struct {
		A string `json:"a"`
		B string `json:"b"`
	}
	type outer struct {
		inner
		A string `json:"a,omitempty"`
	}
	var buf bytes.Buffer
	if err := encodeBody(&buf, outer{inner: inner{A: "in", B: "b"}, A: "out"}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != `{"b":"b","a":"out"}` {
		t.Fatalf("%s", buf.Bytes())
	}
}
