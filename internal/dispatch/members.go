package dispatch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"time"
)

// placeMember returns a copy of the JSON object obj with member (an
// encoded `"name":value` pair) as its first or last top-level member.
// Callers remove any other member of the name first (withoutMember), so
// that parsers that keep the first of a repeated name and those that keep
// the last read the same.
func placeMember(obj, member []byte, first bool) []byte {
	b := bytes.TrimSpace(obj)
	empty := len(bytes.TrimSpace(b[1:len(b)-1])) == 0
	out := make([]byte, 0, len(b)+len(member)+1)
	if first {
		out = append(append(out, '{'), member...)
		if !empty {
			out = append(out, ',')
		}
		return append(out, b[1:]...)
	}
	out = append(out, b[:len(b)-1]...)
	if !empty {
		out = append(out, ',')
	}
	out = append(out, member...)
	return append(out, '}')
}

// withoutMember returns the object obj without its top-level members
// called name, the others unchanged, byte for byte. Most bodies do not
// hold the name at all and are returned as they are, unparsed.
func withoutMember(obj []byte, name string) []byte {
	quoted, _ := json.Marshal(name)
	if !bytes.Contains(obj, quoted) {
		return obj
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return obj
	}
	var kept [][]byte
	removed := false
	for dec.More() {
		start := dec.InputOffset()
		key, err := dec.Token()
		if err != nil {
			return obj
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return obj
		}
		if key == name {
			removed = true
			continue
		}
		kept = append(kept, bytes.TrimLeft(obj[start:dec.InputOffset()], " \t\r\n,"))
	}
	if !removed {
		return obj
	}
	out := make([]byte, 0, len(obj))
	out = append(out, '{')
	out = append(out, bytes.Join(kept, []byte{','})...)
	return append(out, '}')
}

// smileTime is the layout of Smile ID's timestamp: JavaScript's
// toISOString(), in UTC to the millisecond.
const smileTime = "2006-01-02T15:04:05.000Z"

// bodySigner makes Smile ID's body signature: base64 of the HMAC-SHA256,
// keyed with the API key as text, of timestamp + partner id +
// "sid_request". It covers no byte of the body (docs/security.md).
type bodySigner struct {
	partnerID string
	mac       *macPool
}

func newBodySigner(partnerID, apiKey string) *bodySigner {
	return &bodySigner{partnerID: partnerID, mac: newMACPool([]byte(apiKey))}
}

// sign returns the timestamp and signature of instant.
func (s *bodySigner) sign(instant time.Time) (timestamp, signature string) {
	timestamp = instant.UTC().Format(smileTime)
	msg := make([]byte, 0, len(timestamp)+len(s.partnerID)+len("sid_request"))
	msg = append(append(append(msg, timestamp...), s.partnerID...), "sid_request"...)
	return timestamp, string(s.mac.appendMAC(nil, msg, base64.StdEncoding.AppendEncode))
}

// appendTo returns a copy of the object body with "timestamp" and
// "signature" as its last members (any earlier ones of those names go).
func (s *bodySigner) appendTo(body []byte, instant time.Time) []byte {
	ts, sig := s.sign(instant)
	b := withoutMember(withoutMember(bytes.TrimSpace(body), "timestamp"), "signature")
	member := make([]byte, 0, 64+len(sig))
	member = append(append(append(member, `"timestamp":"`...), ts...), `","signature":"`...)
	member = append(append(member, sig...), '"')
	return placeMember(b, member, false)
}
