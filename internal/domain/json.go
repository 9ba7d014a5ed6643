package domain

import "bytes"

// IsJSONNull reports whether b, one JSON value or nothing, is absent or
// null: an absent member and an explicit null mean the same to Herald.
func IsJSONNull(b []byte) bool {
	return len(b) == 0 || string(bytes.TrimSpace(b)) == "null"
}

// IsJSONObject reports whether b, one valid JSON value, is an object.
func IsJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}
