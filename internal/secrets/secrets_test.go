package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealedValuesOpenOnlyWithTheirKey(t *testing.T) {
	k1, _ := NewKey()
	k2, _ := NewKey()
	b1, err := NewBox(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b1.Seal("whsec_supersecret")
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || strings.Contains(sealed, "supersecret") {
		t.Fatalf("sealed = %q", sealed)
	}
	again, _ := b1.Seal("whsec_supersecret")
	if again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if got, err := b1.Open(sealed); err != nil || got != "whsec_supersecret" {
		t.Fatalf("open = %q, %v", got, err)
	}
	b2, _ := NewBox(k2)
	if _, err := b2.Open(sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("open with another key: %v", err)
	}
	// A rotation box opens the old and seals with the new.
	rot, _ := NewBox(k2, k1)
	if got, err := rot.Open(sealed); err != nil || got != "whsec_supersecret" {
		t.Fatalf("rotation box open = %q, %v", got, err)
	}
	resealed, _ := rot.Seal("x")
	if _, err := b2.Open(resealed); err != nil {
		t.Fatalf("the rotation box did not seal with the new key: %v", err)
	}
	// Tampering is detected.
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := b1.Open(tampered); err == nil {
		t.Fatal("a tampered value opened")
	}
	// Plain values written before encryption read as they are; empty stays empty.
	if got, _ := b1.Open("whsec_legacy"); got != "whsec_legacy" {
		t.Fatalf("legacy = %q", got)
	}
	if s, _ := b1.Seal(""); s != "" {
		t.Fatalf("empty sealed to %q", s)
	}
}

func TestTheKeyFileIsCreatedOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.key")
	k, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k) != KeySize {
		t.Fatalf("create: %v %v %d", err, created, len(k))
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v", st.Mode(), err)
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || string(k2) != string(k) {
		t.Fatalf("reload: %v %v", err, created)
	}
	if _, err := DecodeKey("short"); err == nil {
		t.Fatal("a short key was accepted")
	}
}
