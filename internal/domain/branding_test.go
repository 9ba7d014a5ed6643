package domain

import "testing"

// A display name is shown in every page's header: control characters,
// bidi overrides among them, are refused; other text is kept, trimmed.
func TestDisplayNameRefusesControlAndBidiCharacters(t *testing.T) {
	for _, bad := range []string{"Acme\x00", "Acme\u0085Bank", "Acme \u202eknaB", "\u2066Acme", "Acme\u200f"} {
		if _, err := ParseDisplayName(bad); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
	for in, want := range map[string]string{" Acme Bank ": "Acme Bank", "Ακμή Τράπεζα": "Ακμή Τράπεζα", "Acme 🏦": "Acme 🏦"} {
		if got, err := ParseDisplayName(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
}
