package profile

import "github.com/heraldhq/herald/internal/domain"

var smileID = &Profile{
	Name:        "smile-id",
	Description: "Smile ID job results: the result fields at the top level, partner params echoed, the signature in the body.",
	Document:    "Smile ID callbacks (reference 000)",
	Options: []Option{
		{Name: "partner_id", Type: TypeString, Required: true, Doc: "Your Smile ID partner id, as a string (it may have leading zeros); signed into the body's signature."},
		{Name: "api_key", Type: TypeString, Required: true, Secret: true, Doc: "The Smile ID API key receivers verify the body's signature with."},
	},
	Signatures: []SignatureSetting{
		{Scheme: domain.SchemeStandardWebhooks},
		{Scheme: domain.SchemeBodySignature, PartnerIDOption: "partner_id", APIKeyOption: "api_key"},
	},
	Success:     domain.Success2xx,
	RetryPolicy: domain.PresetDefault,
	EventTypes: []string{"verification.approved", "verification.rejected", "verification.review_required",
		"verification.completed", "verification.decision_updated"},
	render: renderSmileID,
}

// renderSmileID: ResultCode, ResultText (from data.decision), IsFinalResult,
// then data's PascalCase members (Smile's own fields) as published, then
// SmileJobID and PartnerParams. body-signature appends timestamp and
// signature after them.
func renderSmileID(dst []byte, in *Input, _ *settings, sc *scratch) []byte {
	o := object{fields: sc.fields[:0]}
	d := members(sc.data[:0], in.Data)
	decision := lookup(d, "decision")
	o.rawNN("ResultCode", Member(decision, "result_code"))
	o.rawNN("ResultText", Member(decision, "result_text"))
	if in.Final {
		o.str("IsFinalResult", "true")
	} else {
		o.str("IsFinalResult", "false")
	}
	for _, m := range d {
		if len(m.key) > 0 && m.key[0] >= 'A' && m.key[0] <= 'Z' {
			o.raw(string(m.key), m.val)
		}
	}
	if in.Job != nil {
		o.str("SmileJobID", in.Job.ID)
	}
	pp := in.partnerParams()
	if pp == nil {
		pp = emptyObject
	}
	o.raw("PartnerParams", pp)
	return o.appendTo(dst)
}

var emptyObject = []byte("{}")
