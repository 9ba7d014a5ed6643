package manage

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCompactIsJSONCompact proves compact gives what json.Compact gives for
// any valid JSON, and keeps the very bytes of data that is compact already
// but for spaces inside its strings.
func FuzzCompactIsJSONCompact(f *testing.F) {
	for _, seed := range []string{
		`{"workflow":{"name":"Basic KYC"}}`, `{ "a": 1 }`, `{"a":"x\" y","b" :2}`, `{"a":"\\","b": 1}`,
		`{"a":"\\\" ","b":[1, 2]}`, "{\"a\":\"tab\\tand\tnewline\"}\n", `{"a":"\u2028 "}`, `[]`, ` {} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, b); err != nil {
			t.Fatal(err)
		}
		got := compact(b)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("compact(%q) = %q, want %q", b, got, want.Bytes())
		}
		if bytes.Equal(b, want.Bytes()) && len(b) > 0 && &got[0] != &b[0] {
			t.Fatalf("compact(%q) copied data that was compact already", b)
		}
	})
}
