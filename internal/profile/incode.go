package profile

import "github.com/heraldhq/herald/internal/domain"

var incode = &Profile{
	Name:        "incode",
	Description: "Incode onboarding and watchlist notifications: flat bodies, one identical retry, success is 200 JSON or 204.",
	Document:    "Incode webhooks (reference 001)",
	Signatures:  []SignatureSetting{{Scheme: domain.SchemeStandardWebhooks}},
	Success:     domain.SuccessJSONOr204, SuccessFalseFails: true,
	RetryPolicy: domain.PresetOnce, IdenticalRetries: true,
	EventTypes: []string{"verification.step_completed", "verification.completed", "verification.approved",
		"verification.rejected", "verification.decision_updated", "aml.monitoring.updated"},
	render: renderIncode,
}

// incodeStepStatus maps catalog step names to Incode's onboardingStatus.
var incodeStepStatus = map[string]string{
	"document":            "ID_VALIDATION_FINISHED",
	"face_match":          "FACE_VALIDATION_FINISHED",
	"government_database": "GOVERNMENT_VALIDATION_FINISHED",
	"post_processing":     "POST_PROCESSING_FINISHED",
}

// renderIncode: {interviewId, externalId, onboardingStatus}, or for
// aml.monitoring.updated {interviewId, ref, search_id}. Incode's status enum
// is closed: a type it has no status for is UNKNOWN, never Herald's name.
func renderIncode(dst []byte, in *Input, _ *settings, sc *scratch) []byte {
	o := object{fields: sc.fields[:0]}
	d := members(sc.data[:0], in.Data)
	if in.Job != nil {
		o.str("interviewId", in.Job.ID)
	}
	if in.Type == "aml.monitoring.updated" {
		screening := lookup(d, "screening_id")
		o.rawNN("ref", or(lookup(d, "ref"), or(lookup(d, "reference"), screening)))
		o.rawNN("search_id", or(lookup(d, "search_id"), screening))
		return o.appendTo(dst)
	}
	ext := lookup(d, "externalId")
	if !truthy(ext) {
		if ext = Member(in.partnerParams(), "externalId"); !isString(ext) {
			ext = nil
		}
	}
	o.rawNN("externalId", ext)
	if st := lookup(d, "onboardingStatus"); truthy(st) {
		o.raw("onboardingStatus", st)
	} else {
		o.str("onboardingStatus", incodeStatus(in.Type, d))
	}
	return o.appendTo(dst)
}

func incodeStatus(typ string, d []member) string {
	manual := stringIs(lookup(d, "reviewed_by"), "manual")
	switch typ {
	case "verification.step_completed":
		if name := Member(lookup(d, "step"), "name"); isString(name) {
			if st, ok := incodeStepStatus[stringOf(name)]; ok {
				return st
			}
		}
		return "UNKNOWN"
	case "verification.completed":
		return "ONBOARDING_FINISHED"
	case "verification.decision_updated":
		if stringIs(lookup(d, "status"), "approved") {
			return "MANUAL_REVIEW_APPROVED"
		}
		return "MANUAL_REVIEW_REJECTED"
	case "verification.approved":
		if manual {
			return "MANUAL_REVIEW_APPROVED"
		}
		return "ONBOARDING_FINISHED"
	case "verification.rejected":
		if manual {
			return "MANUAL_REVIEW_REJECTED"
		}
		return "ONBOARDING_FINISHED"
	}
	return "UNKNOWN"
}
