package profile_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/profile"
)

// A table of varied events, the catalog's shapes and the odd ones a platform
// may publish, on which every renderer must agree with its program.

var genTypes = []string{
	"verification.created", "verification.started", "verification.submitted", "verification.completed",
	"verification.approved", "verification.rejected", "verification.review_required",
	"verification.resubmission_requested", "verification.decision_updated", "verification.step_completed",
	"message.otp.requested", "message.link.requested", "media.video_call.updated", "media.file.available",
	"aml.monitoring.updated", "aml.match.found", "aml.screening.completed", "invitation.sent",
	"spot_check.completed", "acme.custom_thing",
}

var genStrings = []string{
	`"approved"`, `"rejected"`, `"review_required"`, `"resubmission_requested"`, `"manual"`, `"auto"`,
	`"sms"`, `"email"`, `"available"`, `"none"`, `""`, `"a<b>&c"`, `"café ☕"`, `"\u003cx\u003e"`, `"line\nbreak"`,
	`"sanctions"`, `"document"`, `"face_match"`, `"selfie"`, `"submitted"`, `"found"`, `"ended"`,
}

var genScalars = []string{`null`, `false`, `true`, `0`, `1.50`, `-3e2`, `12345678901234567890`}

func genScalar(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return genScalars[r.IntN(len(genScalars))]
	}
	return genStrings[r.IntN(len(genStrings))]
}

func genObject(r *rand.Rand, keys ...string) string {
	var parts []string
	for _, k := range keys {
		if r.IntN(3) > 0 {
			parts = append(parts, fmt.Sprintf("%q:%s", k, genScalar(r)))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// genValues are the data members the programs look at, each with the shapes
// it may take; the key is written as published.
var genValues = map[string]func(r *rand.Rand) string{
	"status":  genScalar,
	"channel": genScalar,
	"to":      genScalar,
	"text":    genScalar,
	"subject": genScalar,
	"link":    genScalar,
	"cc": func(r *rand.Rand) string {
		return []string{`[]`, `["a@x.io"]`, `["a@x.io","b<c>@y.io"]`, `"s@x.io"`, `null`, `[1, true, null, "z"]`}[r.IntN(6)]
	},
	"requested_by": genScalar,
	"decision":     func(r *rand.Rand) string { return genObject(r, "result", "result_code", "result_text", "reasons") },
	"reviewed_by":  genScalar,
	"step":         func(r *rand.Rand) string { return genObject(r, "name", "status") },
	"screening_id": genScalar,
	"reference":    genScalar,
	"ref":          genScalar,
	"search_id":    genScalar,
	"workflow":     func(r *rand.Rand) string { return genObject(r, "id", "name") },
	"match": func(r *rand.Rand) string {
		return genObject(r, "type", "score", "matched_name", "source_list", "risk_level", "countries", "id")
	},
	"recording":              func(r *rand.Rand) string { return genObject(r, "status", "file_id") },
	"room_id":                genScalar,
	"compositionStatus":      genScalar,
	"result":                 genScalar,
	"Actions":                func(r *rand.Rand) string { return `{"Liveness_Check":"Passed","Note":"a<b>&c"}` },
	"ConfidenceValue":        genScalar,
	"ResultCode":             genScalar,
	"IsFinalResult":          genScalar,
	"SmileJobID":             genScalar,
	"PartnerParams":          func(r *rand.Rand) string { return `{"from":"data"}` },
	"externalId":             genScalar,
	"onboardingStatus":       genScalar,
	"referenceNo":            genScalar,
	"systemDecision":         genScalar,
	"manualDecision":         genScalar,
	"finalDecision":          genScalar,
	"action":                 genScalar,
	"previousSystemDecision": genScalar,
	"sessionId":              genScalar,
	"callbackApiKey":         genScalar,
	"type":                   genScalar,
	"invitation_id":          genScalar,
	"submitted_at":           genScalar,
	"x__y":                   genScalar,
	"k_1z_":                  genScalar,
	"nested":                 func(r *rand.Rand) string { return "{ \"deep\" : [1, {\"a_b\": \"<&>\"}] ,\n \"n\": 1.50 }" },
}

// genInput makes the n-th event of the table.
func genInput(r *rand.Rand, n int) *profile.Input {
	in := &profile.Input{
		ID: fmt.Sprintf("evt_%04d", n), Type: genTypes[r.IntN(len(genTypes))], Timestamp: "2026-11-22T10:14:58Z",
		Environment: "production", TenantID: "tnt_acme", Final: r.IntN(2) == 0, Test: r.IntN(8) == 0,
	}
	if r.IntN(5) > 0 {
		in.Job = &profile.Job{ID: fmt.Sprintf("job_%d<&>", n), Kind: []string{"", "kyc", "kyb"}[r.IntN(3)]}
		switch r.IntN(4) {
		case 1:
			in.Job.PartnerParams = []byte("{ \"ref\" : \"a<b>&c\",\n  \"note\": \"café ☕\",  \"n\": 1.50 }")
		case 2:
			in.Job.PartnerParams = []byte(`{"externalId":"user-8841","referenceNo":"840-1"}`)
		case 3:
			in.Job.PartnerParams = []byte(`{"externalId":7,"referenceNo":null}`)
		}
	}
	keys := slices.Sorted(maps.Keys(genValues))
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var parts []string
	for _, k := range keys {
		if r.IntN(4) == 0 {
			sep := []string{":", " : ", ":\n  "}[r.IntN(3)]
			parts = append(parts, fmt.Sprintf("%q%s%s", k, sep, genValues[k](r)))
		}
	}
	in.Data = []byte("{" + strings.Join(parts, ", ") + "}")
	return in
}

// genOpts are option sets each profile is tried with.
var genOpts = map[string][]map[string]json.RawMessage{
	"standard":  {nil},
	"smile-id":  {opts(`{"partner_id":"085","api_key":"k"}`)},
	"incode":    {nil},
	"smart-kyc": {opts(`{"api_secret":"s"}`), opts(`{"api_secret":"s","tenant_id":"tenant_<1>","type_map":{"verification.started":"submission.started","invitation.sent":"x"}}`)},
	"identomat": {opts(`{"callback_api_key":"k"}`)},
	"idwise":    {nil, opts(`{"include_partner_params":true,"type_map":{"verification.approved":"Updated Journey"}}`)},
}

func TestRenderersAgreeWithTheirProgramsOnVariedEvents(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	for _, p := range profile.All() {
		t.Run(p.Name, func(t *testing.T) {
			ran, failed := 0, 0
			for n := range 400 {
				in := genInput(r, n)
				if !json.Valid(in.Data) {
					t.Fatalf("bad generated data %s", in.Data)
				}
				for _, o := range genOpts[p.Name] {
					if agree(t, p, in, o) {
						ran++
					} else {
						failed++
					}
				}
			}
			t.Logf("%d agreed; the program failed on %d (data shapes the catalog rules out)", ran, failed)
			if ran < 3*failed {
				t.Errorf("the program failed on too many inputs (%d of %d): the table is not testing much", failed, ran+failed)
			}
		})
	}
}
