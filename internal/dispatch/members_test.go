package dispatch

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Smile ID's body signature, with the known answer verified in Node,
// Python and Go (the profiles spec, section 1.2).
func TestBodySignatureKnownAnswer(t *testing.T) {
	s := newBodySigner("085", "1b8a4e2c-6d3f-4a7b-9c0e-5f2d8a1b3c4e")
	at := time.Date(2021, 5, 6, 8, 48, 50, 763_000_000, time.UTC)
	ts, sig := s.sign(at)
	if ts != "2021-05-06T08:48:50.763Z" || sig != "gige88hdJYb7etFKoKyEY1f+tUJaBuWYDJX4pCj0Lmk=" {
		t.Fatalf("sign = %s %s", ts, sig)
	}
	body := s.appendTo([]byte(`{"ResultCode":"1210","timestamp":"old","PartnerParams":{}}`), at)
	want := `{"ResultCode":"1210","PartnerParams":{},"timestamp":"2021-05-06T08:48:50.763Z","signature":"gige88hdJYb7etFKoKyEY1f+tUJaBuWYDJX4pCj0Lmk="}`
	if string(body) != want {
		t.Fatalf("body\n got %s\nwant %s", body, want)
	}
}

// Smart KYC's header, keyed with the API secret as text, over the K1 body.
func TestHexHMACKeyedWithTextKnownAnswer(t *testing.T) {
	const k1 = `{"event":"submission.completed","timestamp":"2024-01-15T10:30:00Z","data":{"submissionId":"sub_123456","invitationId":"inv_123456","customerEmail":"customer@example.com","workflowId":"wf_123456","status":"completed","submittedAt":"2024-01-15T10:30:00Z"},"tenantId":"tenant_123456"}`
	p, err := prepare(domain.Endpoint{ID: "e", Secret: "whsec_dGVzdA==", Signatures: []domain.Signature{
		{Scheme: domain.SchemeStandardWebhooks},
		{Scheme: domain.SchemeHMACHex, Header: "X-SmartKYC-Signature", Key: domain.KeyText, Secret: "skyc_5f2b8e1d9c7a4b3e"},
	}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 281 || len(p.macs) != 1 || p.macs[0].header != "X-Smartkyc-Signature" {
		t.Fatalf("%d bytes, macs %+v", len(k1), p.macs)
	}
	if got := string(p.macs[0].mac.appendHex(nil, []byte(k1))); got != "17da9a7bb21c3463ea3868ca20db0d23fd22c30d0b67326ddc45f5dde61e313b" {
		t.Fatalf("hex HMAC = %s", got)
	}
}

func TestBodyAPIKeyPlacement(t *testing.T) {
	for _, c := range []struct {
		position, body, want string
	}{
		{domain.PositionFirst, `{"type":"x","k":"old","n":1}`, `{"k":"key","type":"x","n":1}`},
		{domain.PositionFirst, `{}`, `{"k":"key"}`},
		{domain.PositionLast, `{"k":"old","type":"x"}`, `{"type":"x","k":"key"}`},
		{domain.PositionLast, `{"type":"x","nested":{"k":"kept"}}`, `{"type":"x","nested":{"k":"kept"},"k":"key"}`},
		{domain.PositionFirst, `{ "a" : [1, {"k":2}] , "k" : null }`, `{"k":"key","a" : [1, {"k":2}]}`},
	} {
		p, err := prepare(domain.Endpoint{ID: "e", Secret: "whsec_dGVzdA==", PayloadMode: domain.PayloadRaw, Signatures: []domain.Signature{
			{Scheme: domain.SchemeBodyAPIKey, Field: "k", APIKey: "key", Position: c.position},
		}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, why := p.render(&domain.Event{Data: json.RawMessage(c.body)}, func(payloadMode) []byte { return []byte(c.body) })
		if string(got) != c.want || why != "" {
			t.Errorf("%s %s = %s (%s), want %s", c.position, c.body, got, why, c.want)
		}
	}
}

// An identical retry signs at the first attempt's instant; every other
// attempt at its own start, to the millisecond.
func TestSigningInstant(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 678_901_234, time.UTC)
	first := start.Add(-time.Minute).Truncate(time.Millisecond)
	for _, c := range []struct {
		identical bool
		signed    time.Time
		want      time.Time
	}{
		{false, time.Time{}, start.Truncate(time.Millisecond)},
		{false, first, start.Truncate(time.Millisecond)},
		{true, time.Time{}, start.Truncate(time.Millisecond)},
		{true, first, first},
	} {
		ep := &endpoint{Endpoint: domain.Endpoint{IdenticalRetries: c.identical}}
		if got := signingInstant(ep, &store.Claimed{SignedAt: c.signed}, start); !got.Equal(c.want) {
			t.Errorf("identical %v, signed %s: %s, want %s", c.identical, c.signed, got, c.want)
		}
	}
}

// The envelope carries partner params as published; a thin body only when
// the endpoint asks.
func TestPartnerParamsAreSplicedAsStored(t *testing.T) {
	const params = "{ \"ref\" : \"a<b>&c\",\n  \"note\": \"café ☕\",  \"n\": 1.50 }"
	ev := domain.Event{ID: "evt_1", Type: "a.b", TenantID: "acme", Environment: domain.Sandbox, Final: true,
		Job:  &domain.Job{ID: "job_pp", Kind: "kyc", PartnerParams: json.RawMessage(params)},
		Data: json.RawMessage(`{"x":1}`), CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	head := `{"id":"evt_1","type":"a.b","timestamp":"2026-01-02T03:04:05Z","environment":"sandbox","tenant_id":"acme",`
	for mode, want := range map[payloadMode]string{
		modeEnvelope:   head + `"job":{"id":"job_pp","kind":"kyc","partner_params":` + params + `},"final":true,"data":{"x":1}}`,
		modeThin:       head + `"job":{"id":"job_pp","kind":"kyc"},"final":true}`,
		modeThinParams: head + `"job":{"id":"job_pp","kind":"kyc","partner_params":` + params + `},"final":true}`,
		modeRaw:        `{"x":1}`,
	} {
		if got := string(render(&ev, mode)); got != want {
			t.Errorf("mode %d\n got %s\nwant %s", mode, got, want)
		}
	}
	if p := parsePayloadMode(domain.PayloadThin, true); p != modeThinParams || !strings.Contains(string(render(&ev, p)), `"ref"`) {
		t.Error("thin_partner_params does not keep them")
	}
}
