package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/domain"
)

func TestAuditChangesCompareStoredValuesAndShowMaskedOnes(t *testing.T) {
	type res struct {
		URL       string `json:"url"`
		Password  string `json:"password,omitempty"`
		CA        string `json:"ca,omitempty"`
		UpdatedAt string `json:"updated_at"`
	}
	snap := func(r res) domain.Snapshot {
		shown := r
		if shown.Password != "" {
			shown.Password = domain.Masked
		}
		s, err := domain.Snap(r, shown)
		if err != nil {
			t.Fatal(err)
		}
		s.SetSecret("secret", "whsec_"+r.URL)
		return s
	}
	before := snap(res{URL: "a", Password: "p1", UpdatedAt: "1"})
	after := snap(res{URL: "a", Password: "p2", CA: strings.Repeat("x", 3000), UpdatedAt: "2"})
	got, _ := json.Marshal(domain.Changes(before, after))
	// The URL (and so the secret) did not change; the password did, and
	// shows masked; the long CA shows its length; updated_at is left out.
	want := `{"ca":{"to":"(3002 bytes)"},"password":{"from":"****","to":"****"}}`
	if string(got) != want {
		t.Fatalf("changes %s, want %s", got, want)
	}
	created, _ := json.Marshal(domain.Changes(domain.Snapshot{}, snap(res{URL: "b"})))
	if string(created) != `{"secret":{"to":"****"},"url":{"to":"b"}}` {
		t.Fatalf("a creation's changes %s", created)
	}
	deleted, _ := json.Marshal(domain.Changes(snap(res{URL: "b"}), domain.Snapshot{}))
	if string(deleted) != `{"secret":{"from":"****"},"url":{"from":"b"}}` {
		t.Fatalf("a deletion's changes %s", deleted)
	}
}
