package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// wireTests prove what the store keeps of a receiver's wire contract.
var wireTests = []conformanceTest{
	{"WireSettingsRoundTrip", testWireSettings},
	{"DeliveryKeepsItsFirstSigningInstant", testSigningInstant},
	{"PartnerParamsAreKeptByteForByte", testPartnerParamsBytes},
}

func testWireSettings(t *testing.T, s store.Store) {
	setup(t, s)
	e := endpoint(t, s, scope)
	got, err := s.GetEndpoint(ctx, scope, e.ID)
	must(t, err)
	if got.Signatures != nil || got.SuccessFalseFails || got.IdenticalRetries || got.ThinPartnerParams {
		t.Fatalf("new endpoint's wire settings = %+v", got)
	}
	e.Signatures = []domain.Signature{
		{Scheme: domain.SchemeStandardWebhooks},
		{Scheme: domain.SchemeHMACHex, Header: "X-SmartKYC-Signature", Key: domain.KeyText, Secret: "skyc_5f2b8e1d9c7a4b3e"},
		{Scheme: domain.SchemeBodyAPIKey, Field: "callbackApiKey", APIKey: "cbk", Position: domain.PositionFirst},
	}
	e.SuccessFalseFails, e.IdenticalRetries, e.ThinPartnerParams = true, true, true
	must(t, s.UpdateEndpoint(ctx, e))
	got, err = s.GetEndpoint(ctx, scope, e.ID)
	must(t, err)
	if !got.SuccessFalseFails || !got.IdenticalRetries || !got.ThinPartnerParams || len(got.Signatures) != 3 ||
		got.Signatures[1] != e.Signatures[1] || got.Signatures[2] != e.Signatures[2] {
		t.Fatalf("wire settings read back = %+v", got)
	}
}

func testSigningInstant(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	publish(t, s, scope, "a.b")
	c := claimAll(t, s, "p", time.Now())
	if len(c) != 1 || !c[0].SignedAt.IsZero() {
		t.Fatalf("first claim = %+v", c)
	}
	first := time.Now().Truncate(time.Millisecond)
	o := outcome(c[0], domain.DeliveryPending, time.Now(), 500)
	o.SignedAt = first
	must(t, s.Record(ctx, []store.Outcome{o}))
	c = claimAll(t, s, "p", time.Now().Add(time.Second))
	if len(c) != 1 || !c[0].SignedAt.Equal(first) {
		t.Fatalf("second claim = %+v, want signed at %s", c, first)
	}
	// A later attempt's instant does not replace the first.
	o = outcome(c[0], domain.DeliveryFailed, time.Time{}, 500)
	o.SignedAt = first.Add(time.Minute)
	must(t, s.Record(ctx, []store.Outcome{o}))
	// A manual retry signs afresh.
	_, err := s.RetryDelivery(ctx, scope, c[0].DeliveryID, time.Now())
	must(t, err)
	c = claimAll(t, s, "p", time.Now().Add(time.Second))
	if len(c) != 1 || !c[0].SignedAt.IsZero() {
		t.Fatalf("claim after a manual retry = %+v, want no signing instant", c)
	}
}

// partnerParams are as a platform may send them: spacing, a newline,
// characters encoding/json escapes, unicode and a number with a trailing
// zero.
const partnerParams = "{ \"ref\" : \"a<b>&c\",\n  \"note\": \"café ☕\",  \"n\": 1.50 }"

func testPartnerParamsBytes(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	ev := event("verification.started")
	ev.Job = &domain.Job{ID: "job_pp", PartnerParams: json.RawMessage(partnerParams)}
	res, err := s.Publish(ctx, scope, []store.Publication{{Event: ev}})
	must(t, err)
	got, err := s.GetEvent(ctx, scope, res[0].EventID)
	must(t, err)
	if string(got.Job.PartnerParams) != partnerParams {
		t.Fatalf("event's partner params = %q, want %q", got.Job.PartnerParams, partnerParams)
	}
	c := claimAll(t, s, "p", time.Now())
	if len(c) != 1 || string(c[0].Event.Job.PartnerParams) != partnerParams {
		t.Fatalf("claimed event's job = %+v", c[0].Event.Job)
	}
	// A later event of the job echoes them as they were stored.
	later := event("verification.approved")
	later.Job = &domain.Job{ID: "job_pp"}
	res, err = s.Publish(ctx, scope, []store.Publication{{Event: later}})
	must(t, err)
	if got, err = s.GetEvent(ctx, scope, res[0].EventID); err != nil || string(got.Job.PartnerParams) != partnerParams {
		t.Fatalf("echoed partner params = %q (%v)", got.Job.PartnerParams, err)
	}
}
