package profile

import "github.com/heraldhq/herald/internal/domain"

var standard = &Profile{
	Name:        "standard",
	Description: "Herald's own envelope, signed with Standard Webhooks: the default.",
	Document:    "Herald (docs/delivery.md)",
	Signatures:  []SignatureSetting{{Scheme: domain.SchemeStandardWebhooks}},
	Success:     domain.Success2xx,
	RetryPolicy: domain.PresetDefault,
	render:      renderStandard,
}

// renderStandard writes the envelope with the bytes encoding/json gives it
// (Herald's own strings HTML-escaped, as before profiles), except that the
// partner params, like the data, are the stored bytes.
func renderStandard(dst []byte, in *Input, _ *settings, _ *scratch) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, in.ID, true)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, in.Type, true)
	dst = append(dst, `,"timestamp":`...)
	dst = appendString(dst, in.Timestamp, true)
	dst = append(dst, `,"environment":`...)
	dst = appendString(dst, in.Environment, true)
	dst = append(dst, `,"tenant_id":`...)
	dst = appendString(dst, in.TenantID, true)
	if j := in.Job; j != nil {
		dst = append(dst, `,"job":{"id":`...)
		dst = appendString(dst, j.ID, true)
		if j.Kind != "" {
			dst = append(dst, `,"kind":`...)
			dst = appendString(dst, j.Kind, true)
		}
		if len(j.PartnerParams) > 0 {
			dst = append(append(dst, `,"partner_params":`...), j.PartnerParams...)
		}
		dst = append(dst, '}')
	}
	if in.Final {
		dst = append(dst, `,"final":true`...)
	}
	if in.Test {
		dst = append(dst, `,"test":true`...)
	}
	if len(in.Data) > 0 {
		dst = append(append(dst, `,"data":`...), in.Data...)
	}
	return append(dst, '}')
}
