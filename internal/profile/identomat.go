package profile

import (
	"strings"

	"github.com/heraldhq/herald/internal/domain"
)

var identomat = &Profile{
	Name:        "identomat",
	Description: "Identomat callbacks: flat typed bodies with callbackApiKey first, then type and sessionId.",
	Document:    "Identomat callbacks (reference 003)",
	Options: []Option{
		{Name: "callback_api_key", Type: TypeString, Required: true, Secret: true, Doc: "The key Identomat receivers check: the body's first member, callbackApiKey."},
	},
	Signatures: []SignatureSetting{
		{Scheme: domain.SchemeStandardWebhooks},
		{Scheme: domain.SchemeBodyAPIKey, Field: "callbackApiKey", Position: domain.PositionFirst, APIKeyOption: "callback_api_key"},
	},
	Success:     domain.Success2xx,
	RetryPolicy: domain.PresetDefault,
	EventTypes: []string{"message.*", "verification.approved", "verification.rejected", "verification.review_required",
		"verification.resubmission_requested", "verification.decision_updated", "media.video_call.updated"},
	TypeNames: []TypeName{
		{Type: "message.otp.requested", Name: "one-time-password-request", When: `data.channel == "sms"`},
		{Type: "message.otp.requested", Name: "email-one-time-password-request", When: `data.channel == "email"`},
		{Type: "message.link.requested", Name: "share-session-link-via-sms", When: `data.channel == "sms"`},
		{Type: "message.link.requested", Name: "share-session-link-via-email", When: `data.channel == "email"`},
		{Type: "verification.approved", Name: "session-change"},
		{Type: "verification.rejected", Name: "session-change"},
		{Type: "verification.review_required", Name: "session-change"},
		{Type: "verification.resubmission_requested", Name: "session-change"},
		{Type: "verification.decision_updated", Name: "session-change"},
		{Type: "media.video_call.updated", Name: "video-call-status-update"},
	},
	render: renderIdentomat,
}

// identomatResults maps the catalog's verification status to session-change's result.
var identomatResults = map[string]string{
	"approved": "APPROVED", "rejected": "REJECTED", "review_required": "MANUAL_CHECK",
	"resubmission_requested": "ADDITIONAL_INFORMATION_REQUESTED",
}

// The catalog's message fields under Identomat's names: {document, catalog}.
var (
	identomatEmail   = [][2]string{{"address", "to"}, {"subject", "subject"}, {"content", "text"}}
	identomatSMSLink = [][2]string{{"text", "text"}, {"phoneNumber", "to"}}
	identomatLink    = [][2]string{{"sessionLink", "link"}, {"createdBy", "requested_by"}}
)

// renderIdentomat: type, sessionId (the job), then the type's own fields.
// callbackApiKey is not the renderer's: the body-api-key scheme puts it
// first, and a callbackApiKey in the data is dropped so that it cannot be
// sent twice.
func renderIdentomat(dst []byte, in *Input, _ *settings, sc *scratch) []byte {
	d := members(sc.data[:0], in.Data)
	b := object{fields: sc.fields[:0]}
	channel := lookup(d, "channel")
	switch {
	case in.Type == "message.otp.requested" && stringIs(channel, "sms"):
		b.str("type", "one-time-password-request")
		b.raw("text", lookup(d, "text"))
		b.raw("phoneNumber", lookup(d, "to"))
	case in.Type == "message.otp.requested" && stringIs(channel, "email"):
		b.str("type", "email-one-time-password-request")
		b.renameNN(d, identomatEmail)
	case in.Type == "message.link.requested" && stringIs(channel, "sms"):
		b.str("type", "share-session-link-via-sms")
		b.renameNN(d, identomatSMSLink)
		b.renameNN(d, identomatLink)
	case in.Type == "message.link.requested" && stringIs(channel, "email"):
		b.str("type", "share-session-link-via-email")
		b.renameNN(d, identomatEmail)
		// The catalog's cc is an array, Identomat's a comma-separated string.
		if cc := lookup(d, "cc"); isArray(cc) {
			if s, ok := joinComma(cc); ok {
				b.str("cc", s)
			}
		} else {
			b.rawNN("cc", cc)
		}
		b.renameNN(d, identomatLink)
	case in.Type == "verification.approved" || in.Type == "verification.rejected" ||
		in.Type == "verification.review_required" || in.Type == "verification.resubmission_requested" ||
		in.Type == "verification.decision_updated":
		b.str("type", "session-change")
		if r := lookup(d, "result"); truthy(r) {
			b.raw("result", r)
		} else if st := lookup(d, "status"); isString(st) {
			if r, ok := identomatResults[stringOf(st)]; ok {
				b.str("result", r)
			}
		}
		if in.Job != nil && in.Job.Kind == "kyb" {
			b.str("sessionType", "kyb")
		}
	case in.Type == "media.video_call.updated":
		// The document shows the three file fields as null when there is
		// no recording: the one place a null is sent.
		recording := lookup(d, "recording")
		available := stringIs(Member(recording, "status"), "available")
		b.str("type", "video-call-status-update")
		b.raw("roomId", lookup(d, "room_id"))
		b.raw("roomStatus", lookup(d, "status"))
		switch {
		case hasKey(d, "compositionStatus"):
			b.raw("compositionStatus", lookup(d, "compositionStatus"))
		case available:
			b.str("compositionStatus", "available")
		default:
			b.raw("compositionStatus", nil)
		}
		if available {
			b.str("videoFileStatus", "available")
		} else {
			b.raw("videoFileStatus", nil)
		}
		b.raw("videoFileId", Member(recording, "file_id"))
	default:
		// A type the document has no name for: Herald's name and its data.
		b.str("type", in.Type)
		for _, m := range d {
			b.raw(string(m.key), m.val)
		}
	}

	// {type, sessionId} | nn, then the rest of b.
	o := object{fields: sc.out[:0]}
	if t := b.fields[0]; t.enc || !domain.IsJSONNull(t.raw) {
		o.put(t)
	}
	if in.Job != nil {
		o.str("sessionId", in.Job.ID)
	} else {
		o.rawNN("sessionId", lookup(d, "sessionId"))
	}
	for _, f := range b.fields[1:] {
		if f.key != "callbackApiKey" && f.key != "sessionId" {
			o.put(f)
		}
	}
	return o.appendTo(dst)
}

func hasKey(ms []member, key string) bool {
	for _, m := range ms {
		if string(m.key) == key {
			return true
		}
	}
	return false
}

// joinComma is jq's join(",") over an array of scalars; false when it has
// an object or array (jq fails there) or is empty (the member is omitted).
func joinComma(arr []byte) (string, bool) {
	var sb strings.Builder
	i := skipSpace(arr, 1)
	n := 0
	for i < len(arr) && arr[i] != ']' {
		end := skipValue(arr, i)
		v := arr[i:end]
		if n > 0 {
			sb.WriteByte(',')
		}
		switch {
		case isString(v):
			sb.WriteString(stringOf(v))
		case domain.IsJSONObject(v) || isArray(v):
			return "", false
		case !domain.IsJSONNull(v):
			sb.Write(v) // numbers and booleans as written
		}
		n++
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return sb.String(), n > 0
}
