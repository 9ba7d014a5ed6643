package profile

import (
	"bytes"
	"encoding/json"
	"iter"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/domain"
)

// The renderers read the stored event with this small scanner rather than
// encoding/json: they copy values as they are stored (byte for byte, never
// re-encoded) and decode only the few strings they compare. The input is
// valid JSON: Herald validates data and partner params at publish.

// member is one top-level member of a JSON object: its decoded key and its
// value's bytes as stored.
type member struct {
	key []byte
	val []byte
}

// objectMembers yields the top-level members of obj in order: each key
// decoded, each value as stored. A value that is not an object has none.
// Nested values are skipped, not parsed.
func objectMembers(obj []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func(key, val []byte) bool) {
		i := skipSpace(obj, 0)
		if i >= len(obj) || obj[i] != '{' {
			return
		}
		i++
		for {
			i = skipSpace(obj, i)
			if i >= len(obj) || obj[i] != '"' {
				return
			}
			end := skipValue(obj, i)
			key := obj[i+1 : end-1]
			if bytes.IndexByte(key, '\\') >= 0 {
				key = []byte(decodeString(obj[i:end]))
			}
			i = skipSpace(obj, end)
			i = skipSpace(obj, i+1) // ':'
			end = skipValue(obj, i)
			if !yield(key, obj[i:end]) {
				return
			}
			i = skipSpace(obj, end)
			if i >= len(obj) || obj[i] != ',' {
				return
			}
			i++
		}
	}
}

// members appends the top-level members of obj to dst, in order.
func members(dst []member, obj []byte) []member {
	for key, val := range objectMembers(obj) {
		dst = append(dst, member{key: key, val: val})
	}
	return dst
}

// Member is obj's top-level member named key (the last one, as JSON
// decoders keep), or nil when obj is not an object or has none. It reads
// only the top level, skipping nested values without parsing them, so it
// costs one pass and no allocation. obj must be valid JSON: check bytes
// from outside Herald with json.Valid first.
func Member(obj []byte, key string) []byte {
	var v []byte
	for k, val := range objectMembers(obj) {
		if string(k) == key {
			v = val
		}
	}
	return v
}

// lookup is the value of the last member named key, or nil.
func lookup(ms []member, key string) []byte {
	var v []byte
	for _, m := range ms {
		if string(m.key) == key {
			v = m.val
		}
	}
	return v
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value that starts at i.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// JSON value tests on stored bytes. nil is an absent member: jq's null.

func truthy(v []byte) bool   { return !domain.IsJSONNull(v) && string(v) != "false" }
func isArray(v []byte) bool  { return len(v) > 0 && v[0] == '[' }
func isString(v []byte) bool { return len(v) > 0 && v[0] == '"' }

// or is jq's `a // b`: a unless it is null or false.
func or(a, b []byte) []byte {
	if truthy(a) {
		return a
	}
	return b
}

// stringIs reports whether v is the JSON string s.
func stringIs(v []byte, s string) bool {
	if !isString(v) {
		return false
	}
	if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == s
	}
	return decodeString(v) == s
}

// stringOf is the content of the JSON string v.
func stringOf(v []byte) string {
	if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	return decodeString(v)
}

func decodeString(v []byte) string {
	var s string
	_ = json.Unmarshal(v, &s) // v is a valid JSON string
	return s
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string. It escapes what encoding/json
// escapes, and <, > and & only when html is set: the standard envelope keeps
// encoding/json's bytes, the documents' bodies are never HTML-escaped.
func appendString(dst []byte, s string, html bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && (!html || (b != '<' && b != '>' && b != '&')) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			// Valid JSON, but not valid JavaScript source.
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(dst, s[start:]...), '"')
}

// object builds a JSON object member by member with jq's `+` on objects: a
// member set again keeps its first position and takes its last value.
type object struct {
	fields []objField
}

type objField struct {
	key string
	raw []byte // a stored value, copied as it is
	str string // a string Herald derived, encoded on output
	enc bool   // str is the value
}

func (o *object) find(key string) int {
	for i := range o.fields {
		if o.fields[i].key == key {
			return i
		}
	}
	return -1
}

func (o *object) put(f objField) {
	if i := o.find(f.key); i >= 0 {
		o.fields[i] = f
		return
	}
	o.fields = append(o.fields, f)
}

// raw sets key to a stored value; an absent value (nil) is jq's null.
func (o *object) raw(key string, v []byte) {
	if v == nil {
		v = null
	}
	o.put(objField{key: key, raw: v})
}

// rawNN sets key to v unless v is null: jq's `{key: v} | nn`.
func (o *object) rawNN(key string, v []byte) {
	if !domain.IsJSONNull(v) {
		o.put(objField{key: key, raw: v})
	}
}

// renameNN sets each {name, key} of names to data's member key, unless null.
func (o *object) renameNN(data []member, names [][2]string) {
	for _, n := range names {
		o.rawNN(n[0], lookup(data, n[1]))
	}
}

func (o *object) str(key, s string) { o.put(objField{key: key, str: s, enc: true}) }

// del drops key: jq's del(.key).
func (o *object) del(key string) {
	if i := o.find(key); i >= 0 {
		o.fields = append(o.fields[:i], o.fields[i+1:]...)
	}
}

func (o *object) appendTo(dst []byte) []byte {
	dst = append(dst, '{')
	for i, f := range o.fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(appendString(dst, f.key, false), ':')
		if f.enc {
			dst = appendString(dst, f.str, false)
		} else {
			dst = append(dst, f.raw...)
		}
	}
	return append(dst, '}')
}

var null = []byte("null")
