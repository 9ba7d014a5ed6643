package profile

import "github.com/heraldhq/herald/internal/domain"

var idwise = &Profile{
	Name:        "idwise",
	Description: "IDWise notifications: {event, body} with identifiers and decisions only, never personal data.",
	Document:    "IDWise webhooks (reference 004)",
	Options: []Option{
		{Name: "include_partner_params", Type: TypeBoolean, Default: []byte("false"), Doc: "Send the job's partner params as body.partnerParams. Off by default: IDWise notifications carry no personal data."},
		{Name: "type_map", Type: TypeStringMap, Doc: "Event names by Herald type, over the profile's own mapping."},
	},
	Signatures:  []SignatureSetting{{Scheme: domain.SchemeStandardWebhooks}},
	Success:     domain.Success2xx,
	RetryPolicy: domain.PresetDefault,
	EventTypes: []string{"verification.submitted", "verification.completed", "verification.approved",
		"verification.rejected", "verification.decision_updated", "aml.monitoring.updated", "spot_check.completed"},
	TypeNames: idwiseNames,
	render:    renderIDWise,
}

var idwiseNames = []TypeName{
	{Type: "verification.submitted", Name: "Finished User Steps"},
	{Type: "verification.completed", Name: "Finished Journey"},
	{Type: "verification.decision_updated", Name: "Manually Reviewed"},
	{Type: "aml.monitoring.updated", Name: "AML Monitor Update"},
	{Type: "spot_check.completed", Name: "Finished Spot Check"},
	{Type: "verification.approved", Name: "Manually Reviewed", When: `data.reviewed_by == "manual"`},
	{Type: "verification.approved", Name: "Finished Journey", When: `data.reviewed_by != "manual"`},
	{Type: "verification.rejected", Name: "Manually Reviewed", When: `data.reviewed_by == "manual"`},
	{Type: "verification.rejected", Name: "Finished Journey", When: `data.reviewed_by != "manual"`},
}

// idwiseDecisions maps the catalog's decision result to IDWise's words.
var idwiseDecisions = map[string]string{"approved": "Complete", "rejected": "Rejected", "review_required": "Refer"}

// idwiseExtras are the only data members the body copies: the body is an
// allowlist, so that no personal data can reach it.
var idwiseExtras = [...]string{"action", "previousSystemDecision", "updatedAMLVersionNumber"}

// renderIDWise: {event, body{eventId, journeyId, referenceNo, the decision
// words, the non-PII extras, partnerParams when asked for}}.
func renderIDWise(dst []byte, in *Input, s *settings, sc *scratch) []byte {
	d := members(sc.data[:0], in.Data)
	manual := stringIs(lookup(d, "reviewed_by"), "manual")
	var dec string
	if r := Member(lookup(d, "decision"), "result"); isString(r) {
		dec = idwiseDecisions[stringOf(r)]
	}

	event := mapName(idwiseNames, s.typeMap, in.Type)
	if _, mapped := s.typeMap[in.Type]; !mapped && (in.Type == "verification.approved" || in.Type == "verification.rejected") {
		event = "Finished Journey"
		if manual {
			event = "Manually Reviewed"
		}
	}

	b := object{fields: sc.fields[:0]}
	b.str("eventId", in.ID)
	if in.Job != nil {
		b.str("journeyId", in.Job.ID)
	}
	ref := lookup(d, "referenceNo")
	if !truthy(ref) {
		if ref = Member(in.partnerParams(), "referenceNo"); !isString(ref) {
			ref = nil
		}
	}
	b.rawNN("referenceNo", ref)
	decision := func(key string, derived bool) {
		if v := lookup(d, key); truthy(v) {
			b.raw(key, v)
		} else if derived && dec != "" {
			b.str(key, dec)
		}
	}
	decision("systemDecision", !manual)
	decision("manualDecision", manual)
	decision("finalDecision", manual)
	for _, m := range d {
		for _, k := range idwiseExtras {
			if string(m.key) == k {
				b.rawNN(k, m.val)
			}
		}
	}
	if s.includePartnerParams {
		b.rawNN("partnerParams", in.partnerParams())
	}

	dst = append(dst, `{"event":`...)
	dst = appendString(dst, event, false)
	dst = b.appendTo(append(dst, `,"body":`...))
	return append(dst, '}')
}
