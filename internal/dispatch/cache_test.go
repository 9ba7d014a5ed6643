package dispatch

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/webhook"
)

// prepared is an endpoint in its sending form, failing the test otherwise.
func prepared(t *testing.T, e domain.Endpoint) *endpoint {
	t.Helper()
	if e.Secret == "" {
		e.Secret = "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVz"
	}
	p, err := prepare(e, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func cacheEvent() domain.Event {
	return domain.Event{ID: "evt_1", TenantID: "acme", Environment: domain.Sandbox, Type: "verification.approved", Final: true,
		Job:       &domain.Job{ID: "job_1", PartnerParams: json.RawMessage(`{ "user_id" : "u<1>" }`)},
		Data:      json.RawMessage(`{"status":"approved","decision":{"result":"approved","result_code":"R100","result_text":"ok"},"reviewed_by":"auto"}`),
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func smileSigs(partner, key string) []domain.Signature {
	return []domain.Signature{{Scheme: domain.SchemeStandardWebhooks}, {Scheme: domain.SchemeBodySignature, PartnerID: partner, APIKey: key}}
}

// One event rendered for a claim: endpoints of one payload mode share one
// body; a profiled endpoint, one that adds a member and one with a body
// signature each get their own, made with their own options, and adding
// to the body never writes into the shared one. The body signature goes on
// per attempt, on a copy, so the cached body stays as rendered.
func TestTheBodyCacheKeepsProfiledAndSignedBodiesApart(t *testing.T) {
	ev := cacheEvent()
	eps := map[string]*endpoint{
		"std1":   prepared(t, domain.Endpoint{ID: "std1"}),
		"std2":   prepared(t, domain.Endpoint{ID: "std2"}),
		"kyc1":   prepared(t, domain.Endpoint{ID: "kyc1", Profile: "smart-kyc", ProfileOptions: map[string]json.RawMessage{"api_secret": json.RawMessage(`"s"`), "tenant_id": json.RawMessage(`"t-1"`)}}),
		"kyc2":   prepared(t, domain.Endpoint{ID: "kyc2", Profile: "smart-kyc", ProfileOptions: map[string]json.RawMessage{"api_secret": json.RawMessage(`"s"`), "tenant_id": json.RawMessage(`"t-2"`)}}),
		"apikey": prepared(t, domain.Endpoint{ID: "apikey", Signatures: []domain.Signature{{Scheme: domain.SchemeBodyAPIKey, Field: "k", APIKey: "key-1"}}}),
		"smile1": prepared(t, domain.Endpoint{ID: "smile1", Profile: "smile-id", ProfileOptions: map[string]json.RawMessage{"partner_id": json.RawMessage(`"085"`), "api_key": json.RawMessage(`"k1"`)}, Signatures: smileSigs("085", "k1")}),
		"smile2": prepared(t, domain.Endpoint{ID: "smile2", Profile: "smile-id", ProfileOptions: map[string]json.RawMessage{"partner_id": json.RawMessage(`"086"`), "api_key": json.RawMessage(`"k2"`)}, Signatures: smileSigs("086", "k2")}),
	}
	var claimed []store.Claimed
	for _, id := range []string{"std1", "std2", "kyc1", "kyc2", "apikey", "smile1", "smile2"} {
		claimed = append(claimed, store.Claimed{DeliveryID: "dlv_" + id, EndpointID: id, Event: ev})
	}
	jobs, missing := prepareJobs(claimed, eps)
	if len(jobs) != len(claimed) || len(missing) != 0 {
		t.Fatalf("%d jobs, %d missing", len(jobs), len(missing))
	}
	body := map[string][]byte{}
	for _, j := range jobs {
		if j.bodyErr != "" {
			t.Fatalf("%s: %s", j.ep.ID, j.bodyErr)
		}
		body[j.ep.ID] = j.body
	}
	envelope := render(&ev, modeEnvelope)
	if !bytes.Equal(body["std1"], envelope) || &body["std1"][0] != &body["std2"][0] {
		t.Errorf("the standard endpoints do not share one envelope: %s / %s", body["std1"], body["std2"])
	}
	if !bytes.Contains(body["kyc1"], []byte(`"tenantId":"t-1"`)) || !bytes.Contains(body["kyc2"], []byte(`"tenantId":"t-2"`)) {
		t.Errorf("smart-kyc bodies with their own options: %s / %s", body["kyc1"], body["kyc2"])
	}
	if !bytes.HasSuffix(body["apikey"], []byte(`,"k":"key-1"}`)) || bytes.Contains(body["std1"], []byte("key-1")) {
		t.Errorf("body-api-key: %s; shared envelope %s", body["apikey"], body["std1"])
	}
	if !bytes.Contains(body["smile1"], []byte(`"PartnerParams":{ "user_id" : "u<1>" }`)) || &body["smile1"][0] == &body["smile2"][0] {
		t.Errorf("smile-id bodies: %s, shared with the other smile-id endpoint: %v", body["smile1"], &body["smile1"][0] == &body["smile2"][0])
	}

	rendered := bytes.Clone(body["smile1"])
	at := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	s1, s2 := eps["smile1"].signed(body["smile1"], at), eps["smile2"].signed(body["smile2"], at)
	if !bytes.Equal(body["smile1"], rendered) {
		t.Fatalf("signing wrote into the cached body: %s", body["smile1"])
	}
	_, sig1 := newBodySigner("085", "k1").sign(at)
	_, sig2 := newBodySigner("086", "k2").sign(at)
	if !bytes.HasSuffix(s1, []byte(`"timestamp":"2026-01-02T03:04:05.678Z","signature":"`+sig1+`"}`)) || !bytes.Contains(s2, []byte(sig2)) {
		t.Errorf("signed bodies:\n%s\n%s", s1, s2)
	}
}

// Preview is what an attempt would send, signed at the instant given:
// the body (body-api-key's key masked), and the headers as the attempt log
// records them (signatures shown, credentials masked); nothing is sent.
func TestPreviewIsTheSignedRequestWithCredentialsMasked(t *testing.T) {
	d := New(nil, nil, Config{UserAgent: "Herald/test"})
	ev := cacheEvent()
	secret := "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVz"
	e := domain.Endpoint{ID: "ep", Secret: secret, Profile: "smile-id", Signatures: append(smileSigs("085", "k1"),
		domain.Signature{Scheme: domain.SchemeHMACHex, Header: "X-Sig", Key: domain.KeyText, Secret: "hex-secret"},
		domain.Signature{Scheme: domain.SchemeBodyAPIKey, Field: "callbackApiKey", APIKey: "api-key-1", Position: domain.PositionFirst}),
		ProfileOptions: map[string]json.RawMessage{"partner_id": json.RawMessage(`"085"`), "api_key": json.RawMessage(`"k1"`)},
		Auth:           &domain.EndpointAuth{Type: domain.AuthBearer, Token: "bearer-token-1"}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	body, headers, err := d.Preview(t.Context(), e, &ev, at)
	if err != nil {
		t.Fatal(err)
	}
	_, smileSig := newBodySigner("085", "k1").sign(at)
	if !bytes.HasPrefix(body, []byte(`{"callbackApiKey":"****",`)) || !bytes.Contains(body, []byte(`"signature":"`+smileSig+`"`)) ||
		bytes.Contains(body, []byte("api-key-1")) {
		t.Errorf("body %s", body)
	}
	h := http.Header{}
	for k, v := range headers {
		h[k] = []string{v}
	}
	v, _ := webhook.NewVerifier(secret)
	if err := v.VerifyAt(h, body, at); err != nil {
		t.Errorf("webhook-signature over the previewed body: %v (%v)", err, headers)
	}
	if headers["X-Sig"] != string(prepared(t, e).macs[0].mac.appendHex(nil, body)) || headers["Authorization"] != "Bearer ****" ||
		headers["webhook-timestamp"] != strconv.FormatInt(at.Unix(), 10) || headers["User-Agent"] != "Herald/test" {
		t.Errorf("headers %v", headers)
	}
	all, _ := json.Marshal(headers)
	for _, s := range []string{"bearer-token-1", "api-key-1", "hex-secret", `"k1"`} {
		if bytes.Contains(body, []byte(s)) || bytes.Contains(all, []byte(s)) {
			t.Errorf("the preview shows %q", s)
		}
	}
}
