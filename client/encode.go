package client

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// encodeBody writes v as encoding/json would, with two differences that
// keep what the caller wrote: nothing is HTML-escaped, and a
// json.RawMessage is spliced in verbatim (encoding/json compacts its
// whitespace), so partner params and event data reach receivers byte for
// byte. A value of any other json.Marshaler or encoding.TextMarshaler, and
// every leaf, is written by encoding/json itself.
func encodeBody(buf *bytes.Buffer, v any) error {
	return encodeValue(buf, reflect.ValueOf(v))
}

var (
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func encodeValue(buf *bytes.Buffer, v reflect.Value) error {
	if !v.IsValid() {
		buf.WriteString("null")
		return nil
	}
	t := v.Type()
	if t == rawMessageType {
		raw := v.Bytes()
		if len(raw) == 0 {
			buf.WriteString("null") // as encoding/json writes an empty one
			return nil
		}
		if !json.Valid(raw) {
			return fmt.Errorf("a json.RawMessage is not valid JSON: %.40q", raw)
		}
		buf.Write(raw)
		return nil
	}
	if t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		return encodeLeaf(buf, v)
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return encodeValue(buf, v.Elem())
	case reflect.Struct:
		return encodeStruct(buf, v)
	case reflect.Map:
		if t.Key().Kind() != reflect.String || t.Key().Implements(textMarshalerType) {
			return encodeLeaf(buf, v)
		}
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeLeaf(buf, reflect.ValueOf(k.String())); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeValue(buf, v.MapIndex(k)); err != nil {
				return fmt.Errorf("%s: %w", k.String(), err)
			}
		}
		buf.WriteByte('}')
		return nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return encodeLeaf(buf, v) // base64, as encoding/json writes bytes
		}
		if t.Kind() == reflect.Slice && v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, v.Index(i)); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		buf.WriteByte(']')
		return nil
	}
	return encodeLeaf(buf, v)
}

// encodeLeaf writes v with encoding/json, not HTML-escaped.
func encodeLeaf(buf *bytes.Buffer, v reflect.Value) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.Interface()); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

func encodeStruct(buf *bytes.Buffer, v reflect.Value) error {
	fields, err := structFields(v.Type())
	if err != nil {
		return err
	}
	buf.WriteByte('{')
	first := true
	for _, f := range fields {
		fv, ok := fieldByIndex(v, f.index)
		if !ok || f.omitEmpty && emptyValue(fv) || f.omitZero && zeroValue(fv) {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		if err := encodeLeaf(buf, reflect.ValueOf(f.name)); err != nil {
			return err
		}
		buf.WriteByte(':')
		if err := encodeValue(buf, fv); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	buf.WriteByte('}')
	return nil
}

// fieldByIndex is v's field at index, false when the way there passes a nil
// embedded pointer (encoding/json leaves such fields out).
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// emptyValue is encoding/json's omitempty rule.
func emptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// zeroValue is encoding/json's omitzero rule: the value's IsZero method
// where it has one.
func zeroValue(v reflect.Value) bool {
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	return v.IsZero()
}

// field is one member a struct type encodes to.
type field struct {
	name                string
	index               []int
	tagged              bool
	omitEmpty, omitZero bool
}

var fieldCache sync.Map // reflect.Type -> []field

// structFields lists the members t encodes to, in encoding/json's order and
// by its rules: json tags name them, "-" leaves one out, an untagged
// embedded struct's fields are promoted, and of several fields of one name
// the shallowest wins (a tagged one among equals; none when still tied).
func structFields(t reflect.Type) ([]field, error) {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field), nil
	}
	var all []field
	if err := collectFields(t, nil, &all); err != nil {
		return nil, err
	}
	var out []field
	for _, f := range all {
		if dominant(f, all) {
			out = append(out, f)
		}
	}
	fieldCache.Store(t, out)
	return out, nil
}

func collectFields(t reflect.Type, index []int, out *[]field) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		idx := append(slices.Clone(index), i)
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			if err := collectFields(ft, idx, out); err != nil {
				return err
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		f := field{name: name, index: idx, tagged: name != ""}
		if name == "" {
			f.name = sf.Name
		}
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "omitempty":
				f.omitEmpty = true
			case "omitzero":
				f.omitZero = true
			case "":
			default:
				return fmt.Errorf("field %s.%s: the json option %q is not supported", t.Name(), sf.Name, o)
			}
		}
		*out = append(*out, f)
	}
	return nil
}

// dominant says whether f is the field its name encodes, among all.
func dominant(f field, all []field) bool {
	rivals := 0
	for _, g := range all {
		if g.name != f.name || slices.Equal(g.index, f.index) {
			continue
		}
		switch {
		case len(g.index) < len(f.index):
			return false
		case len(g.index) == len(f.index):
			if g.tagged && !f.tagged {
				return false
			}
			if g.tagged == f.tagged {
				rivals++
			}
		}
	}
	return rivals == 0
}
