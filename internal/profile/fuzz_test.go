package profile_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/profile"
)

// FuzzRenderers holds every renderer to its program on fuzzed data and
// partner params: the program's value wherever the program runs, valid JSON
// always.
func FuzzRenderers(f *testing.F) {
	for _, g := range goldens {
		in := envelope(f, read(f, "testdata/golden/"+g.id+".event.json"))
		var pp []byte
		if in.Job != nil {
			pp = in.Job.PartnerParams
		}
		f.Add([]byte(in.Data), []byte(pp), uint8(0), uint8(3))
	}
	f.Add([]byte("{ \"status\" : \"approved\",\n \"cc\": [\"a<b>\", 1.50, null] }"), []byte(`{"ref":"a<b>&c","n":1.50}`), uint8(5), uint8(1))
	f.Fuzz(func(t *testing.T, data, pp []byte, typ, flags uint8) {
		if !topLevelObject(data) || (len(pp) > 0 && !topLevelObject(pp)) {
			t.Skip()
		}
		in := &profile.Input{ID: "evt_1", Type: genTypes[int(typ)%len(genTypes)], Timestamp: "2026-11-22T10:14:58Z",
			Environment: "sandbox", TenantID: "tnt_acme", Final: flags&4 != 0, Test: flags&8 != 0, Data: data}
		if flags&1 != 0 {
			in.Job = &profile.Job{ID: "job_1", Kind: []string{"kyc", "kyb"}[flags>>4&1], PartnerParams: pp}
		}
		for _, p := range profile.All() {
			if p.Name == "smart-kyc" && renamesCollide(data) {
				continue
			}
			for _, o := range genOpts[p.Name] {
				agree(t, p, in, o)
			}
		}
	})
}

// topLevelObject reports whether b is what Herald stores for data and
// partner params: one JSON object, whose top-level keys are unique (JSON
// leaves duplicates' meaning open), UTF-8, its numbers within float64.
func topLevelObject(b []byte) bool {
	var m map[string]any
	if !utf8.Valid(b) || json.Unmarshal(b, &m) != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		if seen[k.(string)] {
			return false
		}
		seen[k.(string)] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return true
}

// renamesCollide reports whether two of data's members would take the same
// Smart KYC name (invitation_id and invitationId, say). Which one wins is
// then a matter of member order, which gojq does not keep: the renderer
// follows jq's published order, the oracle cannot.
func renamesCollide(data []byte) bool {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(data, &m)
	seen := map[string]int{"submissionId": 1}
	for k := range m {
		names := []string{camelCase(k)}
		switch k {
		case "workflow":
			names = []string{"workflowId", "workflowName"}
		case "match":
			names = append(names, "matchType", "matchScore", "matchedName", "sourceList", "riskLevel", "countries", "matchId")
		}
		for _, n := range names {
			seen[n]++
		}
	}
	for _, n := range seen {
		if n > 1 {
			return true
		}
	}
	return false
}

// camelCase is the program's gsub("_(?<c>[a-z0-9])"; .c | ascii_upcase).
var snake = regexp.MustCompile(`_[a-z0-9]`)

func camelCase(k string) string {
	return snake.ReplaceAllStringFunc(k, func(m string) string { return strings.ToUpper(m[1:]) })
}
