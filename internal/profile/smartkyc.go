package profile

import (
	"strings"

	"github.com/heraldhq/herald/internal/domain"
)

var smartKYC = &Profile{
	Name:        "smart-kyc",
	Description: "Smart KYC webhooks: {event, timestamp, data, tenantId} with X-SmartKYC-Signature, the hex HMAC-SHA256 of the body keyed with the API secret as text.",
	Document:    "Smart KYC webhooks (reference 002)",
	Options: []Option{
		{Name: "api_secret", Type: TypeString, Required: true, Secret: true, Doc: "The API secret receivers verify X-SmartKYC-Signature with, used as text."},
		{Name: "tenant_id", Type: TypeString, Doc: "The body's tenantId; Herald's tenant id when unset."},
		{Name: "type_map", Type: TypeStringMap, Doc: "Event names by Herald type, over the profile's own mapping."},
	},
	Signatures: []SignatureSetting{
		{Scheme: domain.SchemeStandardWebhooks},
		{Scheme: domain.SchemeHMACHex, Header: "X-SmartKYC-Signature", Key: domain.KeyText, SecretOption: "api_secret"},
	},
	Success:     domain.Success2xx,
	RetryPolicy: domain.PresetDefault,
	EventTypes: []string{"verification.created", "verification.submitted", "verification.approved",
		"verification.rejected", "verification.decision_updated", "invitation.*",
		"aml.screening.completed", "aml.match.found", "aml.match.dismissed"},
	TypeNames: smartKYCNames,
	render:    renderSmartKYC,
}

var smartKYCNames = []TypeName{
	{Type: "verification.created", Name: "submission.created"},
	{Type: "verification.submitted", Name: "submission.completed"},
	{Type: "verification.approved", Name: "submission.approved"},
	{Type: "verification.rejected", Name: "submission.rejected"},
	{Type: "verification.decision_updated", Name: "submission.updated"},
}

// smartKYCMatch flattens aml.match.found's match object: document name,
// catalog name, in the document's order.
var smartKYCMatch = [...][2]string{
	{"matchType", "type"}, {"matchScore", "score"}, {"matchedName", "matched_name"},
	{"sourceList", "source_list"}, {"riskLevel", "risk_level"}, {"countries", "countries"}, {"matchId", "id"},
}

// renderSmartKYC: data is Herald's data renamed in place, in published
// order: snake_case keys become camelCase, workflow{id,name} becomes
// workflowId/workflowName, a found match is flattened, and a submission's
// status is the suffix of its event name; submissionId (the job) leads.
func renderSmartKYC(dst []byte, in *Input, s *settings, sc *scratch) []byte {
	event := mapName(smartKYCNames, s.typeMap, in.Type)
	submission := strings.HasPrefix(event, "submission.")
	o := object{fields: sc.fields[:0]}
	if in.Job != nil {
		o.str("submissionId", in.Job.ID)
	}
	for _, m := range members(sc.data[:0], in.Data) {
		switch key := string(m.key); {
		case key == "workflow" && domain.IsJSONObject(m.val):
			o.raw("workflowId", Member(m.val, "id"))
			if name := Member(m.val, "name"); !domain.IsJSONNull(name) {
				o.raw("workflowName", name)
			}
		case key == "match" && event == "aml.match.found" && domain.IsJSONObject(m.val):
			ms := members(sc.sub[:0], m.val)
			for _, f := range smartKYCMatch {
				if v := lookup(ms, f[1]); !domain.IsJSONNull(v) {
					o.raw(f[0], v)
				}
			}
		case key == "status" && submission:
			o.str("status", strings.TrimPrefix(event, "submission."))
		default:
			o.raw(camel(key), m.val)
		}
	}
	if in.Job != nil {
		o.str("submissionId", in.Job.ID)
	}
	tenant := s.tenantID
	if tenant == "" {
		tenant = in.TenantID
	}
	dst = append(dst, `{"event":`...)
	dst = appendString(dst, event, false)
	dst = append(dst, `,"timestamp":`...)
	dst = appendString(dst, in.Timestamp, false)
	dst = o.appendTo(append(dst, `,"data":`...))
	dst = append(dst, `,"tenantId":`...)
	dst = appendString(dst, tenant, false)
	return append(dst, '}')
}

// camel turns snake_case into camelCase as the jq program's
// gsub("_(?<c>[a-z0-9])"; .c | ascii_upcase) does.
func camel(key string) string {
	if strings.IndexByte(key, '_') < 0 {
		return key
	}
	b := make([]byte, 0, len(key))
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == '_' && i+1 < len(key) && (key[i+1] >= 'a' && key[i+1] <= 'z' || key[i+1] >= '0' && key[i+1] <= '9') {
			b = append(b, upper(key[i+1]))
			i++
			continue
		}
		b = append(b, key[i])
	}
	return string(b)
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// mapName is typ's name: from the endpoint's type_map, else the profile's
// mapping, else Herald's own.
func mapName(names []TypeName, typeMap map[string]string, typ string) string {
	if n, ok := typeMap[typ]; ok {
		return n
	}
	for _, tn := range names {
		if tn.Type == typ && tn.When == "" {
			return tn.Name
		}
	}
	return typ
}
