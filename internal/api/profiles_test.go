package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The receivers below are written from the reference documents' text alone
// (/work/shared/reference/000…004; docs/profiles.md quotes them).

// Smile ID (000, and smile-identity-core-js signature.ts): the signature
// is base64(HMAC-SHA256(api key, timestamp + partner_id + "sid_request"));
// PartnerParams come back in every callback.
func smileReceiver(partnerID, apiKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var res struct {
			Timestamp     string `json:"timestamp"`
			Signature     string `json:"signature"`
			PartnerParams json.RawMessage
		}
		switch {
		case json.NewDecoder(r.Body).Decode(&res) != nil, smileSignature(apiKey, partnerID, res.Timestamp) != res.Signature:
			http.Error(w, "bad signature", http.StatusUnauthorized)
		case len(res.PartnerParams) == 0:
			http.Error(w, "no PartnerParams", http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}
}

// Incode (001): a flat body; the receiver answers {"success": ok} as JSON.
var onboardingStatuses = []string{"UNKNOWN", "ID_VALIDATION_FINISHED", "POST_PROCESSING_FINISHED", "FACE_VALIDATION_FINISHED",
	"GOVERNMENT_VALIDATION_FINISHED", "ONBOARDING_FINISHED", "MANUAL_REVIEW_APPROVED", "MANUAL_REVIEW_REJECTED"}

func incodeReceiver(w http.ResponseWriter, r *http.Request) {
	var b map[string]any
	if json.NewDecoder(r.Body).Decode(&b) != nil {
		http.Error(w, "refused", http.StatusBadRequest)
		return
	}
	_, hasID := b["interviewId"].(string)
	st, hasSt := b["onboardingStatus"].(string)
	_, hasRef := b["ref"].(string)
	_, hasSearch := b["search_id"].(string)
	ok := hasID && ((hasSt && slices.Contains(onboardingStatuses, st)) || (hasRef && hasSearch))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]bool{"success": ok})
}

// Smart KYC (002): X-SmartKYC-Signature checked with the document's
// verifySignature (wire_test.go), keyed with the API secret as text.
func smartKYCReceiver(secret string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		payload, _ := io.ReadAll(r.Body)
		if !verifySignature(payload, r.Header.Get("X-SmartKYC-Signature"), secret) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p struct {
			Event, Timestamp string
			Data             map[string]any
			TenantID         string `json:"tenantId"`
		}
		if json.Unmarshal(payload, &p) != nil || p.Event == "" || p.Data == nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// Identomat (003): callbackApiKey is the first member and equals the key.
func identomatReceiver(apiKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		dec := json.NewDecoder(bytes.NewReader(body))
		_, _ = dec.Token()
		first, _ := dec.Token()
		var p map[string]any
		_ = json.Unmarshal(body, &p)
		_, hasSession := p["sessionId"].(string)
		if first != "callbackApiKey" || p["callbackApiKey"] != apiKey || !hasSession {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// IDWise (004): the endpoint's auth, and no personal data: only the
// allowlisted members may appear in body.
func idwiseReceiver(wantAuthorization string) http.HandlerFunc {
	allowed := []string{"eventId", "journeyId", "referenceNo", "systemDecision", "manualDecision", "finalDecision",
		"action", "previousSystemDecision", "updatedAMLVersionNumber"}
	return func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Event string
			Body  map[string]any
		}
		if r.Header.Get("Authorization") != wantAuthorization || json.NewDecoder(r.Body).Decode(&p) != nil ||
			p.Event == "" || p.Body["eventId"] == nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		for k := range p.Body {
			if !slices.Contains(allowed, k) {
				http.Error(w, "unexpected field "+k, http.StatusBadRequest)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}
}

// docReceiver runs a document's receiver and keeps what it was sent.
type docReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []servertest.Received
}

func newDocReceiver(t *testing.T, h http.HandlerFunc) *docReceiver {
	rc := &docReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, servertest.Received{Header: r.Header.Clone(), Body: body, Arrival: time.Now()})
		rc.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *docReceiver) last(t *testing.T) servertest.Received {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) == 0 {
		t.Fatal("nothing arrived")
	}
	return rc.got[len(rc.got)-1]
}

// fixture is one of the profiles spec's golden fixtures
// (internal/profile/testdata): a Herald event, the body its profile renders
// and, where the document has one, the document's own example.
type fixture struct {
	Type        string          `json:"type"`
	ID          string          `json:"id"`
	Timestamp   string          `json:"timestamp"`
	Environment string          `json:"environment"`
	TenantID    string          `json:"tenant_id"`
	Job         *client.JobRef  `json:"job"`
	Final       bool            `json:"final"`
	Data        json.RawMessage `json:"data"`
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../profile/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// publishFixture publishes the fixture's event and answers with it, its
// id and a function that puts the fixture's id and timestamp back into a
// body, for the comparison with the golden bytes.
func publishFixture(t *testing.T, h *servertest.Herald, id string) (fixture, string, func([]byte) []byte) {
	t.Helper()
	var f fixture
	if err := json.Unmarshal(readFixture(t, "golden/"+id+".event.json"), &f); err != nil {
		t.Fatal(err)
	}
	p := h.Publish(f.TenantID, f.Environment, client.PublishEvent{Type: f.Type, Job: f.Job, Final: f.Final, Data: f.Data})
	ev := servertest.Must(h.As(f.TenantID, f.Environment).GetEvent(t.Context(), p.ID))(t)
	ts := ev.Timestamp.UTC().Format(time.RFC3339)
	return f, p.ID, func(b []byte) []byte {
		b = bytes.ReplaceAll(b, []byte(`"`+p.ID+`"`), []byte(`"`+f.ID+`"`))
		return bytes.ReplaceAll(b, []byte(`"`+ts+`"`), []byte(`"`+f.Timestamp+`"`))
	}
}

// hasEveryField reports the first member of the document's example (at any
// depth) that got lacks or carries with another value.
func hasEveryField(doc, got any, path string) string {
	switch d := doc.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path
		}
		for k, v := range d {
			if miss := hasEveryField(v, g[k], path+"."+k); miss != "" {
				return miss
			}
		}
		return ""
	default:
		if db, _ := json.Marshal(doc); true {
			if gb, _ := json.Marshal(got); !bytes.Equal(db, gb) {
				return path
			}
		}
		return ""
	}
}

func profileOptions(s string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

const (
	smilePartnerID = "085"
	smileAPIKey    = "1b8a4e2c-6d3f-4a7b-9c0e-5f2d8a1b3c4e"
	smartKYCSecret = "skyc_5f2b8e1d9c7a4b3e"
	identomatKey   = "apikey123"
	idwiseToken    = "idwise-bearer-0a1b2c3d"
)

func TestEachProfileIsTakenByAReceiverWrittenFromItsDocument(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("tnt_acme")
		h.Tenant("tenant_123456")
		cases := []struct {
			ids      []string
			profile  string
			options  string
			receiver http.HandlerFunc
			auth     *client.EndpointAuth
			// wrap is what the signature schemes add to the rendered body.
			wrap func(t *testing.T, golden, got []byte) []byte
		}{
			{[]string{"S1"}, "smile-id", `{"partner_id":"` + smilePartnerID + `","api_key":"` + smileAPIKey + `"}`,
				smileReceiver(smilePartnerID, smileAPIKey), nil, func(t *testing.T, golden, got []byte) []byte {
					i := bytes.LastIndex(got, []byte(`,"timestamp":"`))
					if i < 0 {
						return got
					}
					return append(got[:i:i], '}')
				}},
			{[]string{"I1", "I2"}, "incode", "", incodeReceiver, nil, nil},
			{[]string{"K1", "K2", "K3"}, "smart-kyc", `{"api_secret":"` + smartKYCSecret + `"}`, smartKYCReceiver(smartKYCSecret), nil, nil},
			{[]string{"D2", "D3", "D4", "D5", "D6", "D7", "D8"}, "identomat", `{"callback_api_key":"` + identomatKey + `"}`,
				identomatReceiver(identomatKey), nil, func(t *testing.T, _, got []byte) []byte {
					prefix := `{"callbackApiKey":"` + identomatKey + `",`
					if !bytes.HasPrefix(got, []byte(prefix)) {
						t.Errorf("callbackApiKey is not the first member: %s", got)
						return got
					}
					return append([]byte{'{'}, got[len(prefix):]...)
				}},
			{[]string{"W1"}, "idwise", "", idwiseReceiver("Bearer " + idwiseToken),
				&client.EndpointAuth{Type: client.AuthBearer, Token: idwiseToken}, nil},
		}
		for _, c := range cases {
			t.Run(c.profile, func(t *testing.T) {
				rc := newDocReceiver(t, c.receiver)
				var opts map[string]json.RawMessage
				if c.options != "" {
					opts = profileOptions(c.options)
				}
				var f fixture
				_ = json.Unmarshal(readFixture(t, "golden/"+c.ids[0]+".event.json"), &f)
				ep := servertest.Must(h.As(f.TenantID, f.Environment).CreateEndpoint(t.Context(),
					&client.EndpointCreate{URL: rc.URL, Profile: c.profile, ProfileOptions: opts, Auth: c.auth}))(t)
				if ep.Profile != c.profile {
					t.Fatalf("created with profile %q", ep.Profile)
				}
				for _, id := range c.ids {
					f, evID, back := publishFixture(t, h, id)
					d, log := settledDelivery(h, f.TenantID, f.Environment, evID, ep.ID)
					if d.Status != client.DeliverySucceeded {
						t.Fatalf("%s: the document's receiver refused: %+v %s", id, d, log)
					}
					got := rc.last(t)
					golden := readFixture(t, "golden/"+id+".body.json")
					sent := back(got.Body) // with the fixture's event id and time
					body := sent
					if c.wrap != nil {
						body = c.wrap(t, golden, body)
					}
					if !bytes.Equal(body, golden) {
						t.Errorf("%s body\n got %s\nwant %s", id, body, golden)
					}
					if doc, err := os.ReadFile("../profile/testdata/doc/" + id + ".json"); err == nil {
						var dv, gv any
						_ = json.Unmarshal(doc, &dv)
						_ = json.Unmarshal(sent, &gv)
						if miss := hasEveryField(dv, gv, ""); miss != "" {
							t.Errorf("%s: the document's %s is missing or differs in %s", id, miss, got.Body)
						}
					}
					for _, secret := range []string{smileAPIKey, smartKYCSecret, idwiseToken} {
						if strings.Contains(log, secret) {
							t.Errorf("%s: the attempt log shows a secret: %s", id, log)
						}
					}
				}
				text := endpointText(h, f.TenantID, f.Environment, ep.ID)
				mustNotContain(t, "GET endpoint", text, smileAPIKey, smartKYCSecret, `"`+identomatKey+`"`, idwiseToken)
			})
		}
	})
}

// Incode's contract (001): "200 OK with response type application/json, or
// 204"; {"success": false} is a failure; exactly one retry, exactly the
// same as the first. The profile's once preset waits a minute: the test
// overrides the delay only (1s), which makes retry_policy the endpoint's own.
func TestIncodeProfileRetriesOnceByteForByteAndFailsOnTextAndSuccessFalse(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		plain := servertest.Must(sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: "https://example.com/incode", Profile: "incode"}))(t)
		if plain.RetryPolicy.Preset != "once" || !plain.IdenticalRetries || plain.Success != "json-or-204" || !plain.SuccessFalseFails {
			t.Fatalf("incode endpoint as created: %+v", plain.Endpoint)
		}
		answers := map[int][2]string{1: {"text/plain", `{"success":true}`}, 2: {"application/json", `{"success": false}`}}
		rc := newRawReceiver(t, func(n int) (string, string) { return answers[n][0], answers[n][1] })
		ep := servertest.Must(sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: rc.URL, Profile: "incode",
			RetryPolicy: &client.RetryPolicy{Delays: []string{"1s"}}}))(t)
		if slices.Contains(ep.ProfileFields, "retry_policy") || !slices.Contains(ep.ProfileFields, "identical_retries") {
			t.Fatalf("profile_fields %v", ep.ProfileFields)
		}
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.completed", Final: true,
			Job:  &client.JobRef{ID: "65f1c0d2a9e8b7c6d5e4f3a2", Kind: "kyc"},
			Data: json.RawMessage(`{"status":"completed","decision":{"result":"approved","reasons":[]},"reviewed_by":"auto","onboardingStatus":"ONBOARDING_FINISHED"}`)})
		var d client.Delivery
		servertest.Eventually(t, 15*time.Second, "the delivery to fail", func() bool {
			d = *h.Delivery("acme", "sandbox", servertest.Must(sc.ListDeliveries(t.Context(), &client.DeliveryListParams{EventID: p.ID}))(t).Data[0].ID)
			return d.Status == client.DeliveryFailed
		})
		time.Sleep(1500 * time.Millisecond) // nothing follows the second failure
		got := rc.requests()
		if len(got) != 2 || d.AttemptCount != 2 {
			t.Fatalf("%d requests, %d attempts; want exactly one retry", len(got), d.AttemptCount)
		}
		if !bytes.Equal(got[0].Body, got[1].Body) || !bytes.Contains(got[0].Body, []byte(`"onboardingStatus":"ONBOARDING_FINISHED"`)) {
			t.Errorf("bodies:\n%s\n%s", got[0].Body, got[1].Body)
		}
		if len(got[0].Header) != len(got[1].Header) {
			t.Errorf("headers differ:\n%v\n%v", got[0].Header, got[1].Header)
		}
		for k, v := range got[0].Header {
			if strings.Join(got[1].Header[k], "\n") != strings.Join(v, "\n") {
				t.Errorf("header %s: %q then %q", k, v, got[1].Header[k])
			}
		}
		if len(d.Attempts) != 2 || !strings.Contains(d.Attempts[0].Error, "text/plain") || !strings.Contains(d.Attempts[1].Error, `"success": false`) {
			t.Fatalf("attempt errors: %+v", d.Attempts)
		}
	})
}

// IDWise carries partner params only when asked, byte for byte.
func TestIDWisePartnerParamsOnlyWhenAsked(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	sc := h.As("acme", "sandbox")
	rc := newRawReceiver(t, func(int) (string, string) { return "", "" })
	ep := servertest.Must(sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: rc.URL, Profile: "idwise"}))(t)
	// The typed client compacts the params (encoding/json); wire_test.go
	// proves odd bytes arrive as published.
	params := `{"referenceNo":"840-2026-000123","email":"jane@example.com"}`
	publish := func() []byte {
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.completed", Final: true,
			Job:  &client.JobRef{ID: "6720a1b2c3d4e5f6a7b8c22e", PartnerParams: json.RawMessage(params)},
			Data: json.RawMessage(`{"status":"completed","decision":{"result":"review_required","reasons":[]},"reviewed_by":"auto"}`)})
		settledDelivery(h, "acme", "sandbox", p.ID, ep.ID)
		got := rc.requests()
		return got[len(got)-1].Body
	}
	if b := publish(); bytes.Contains(b, []byte("jane@")) || !bytes.Contains(b, []byte(`"referenceNo":"840-2026-000123"`)) {
		t.Fatalf("without include_partner_params: %s", b)
	}
	servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{ProfileOptions: profileOptions(`{"include_partner_params":true}`)}))(t)
	if b := publish(); !bytes.Contains(b, []byte(`"partnerParams":`+params)) {
		t.Fatalf("with include_partner_params: %s", b)
	}
}

func TestBadProfilesAreRefusedNamingTheFieldAndNothingIsSaved(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	sc := h.As("acme", "sandbox")
	for field, in := range map[string]client.EndpointCreate{
		"profile":                      {Profile: "acme-vendor"},
		"profile_options.nope":         {Profile: "smart-kyc", ProfileOptions: profileOptions(`{"api_secret":"s","nope":1}`)},
		"profile_options.partner_id":   {Profile: "smile-id", ProfileOptions: profileOptions(`{"partner_id":85,"api_key":"k"}`)},
		"profile_options.api_secret":   {Profile: "smart-kyc"},
		"payload_mode":                 {Profile: "incode", PayloadMode: "thin"},
		"profile_options.type_map.a.b": {Profile: "idwise", ProfileOptions: profileOptions(`{"type_map":{"a.b":""}}`)},
	} {
		in.URL = "https://example.com/hook"
		_, err := sc.CreateEndpoint(t.Context(), &in)
		wantInvalid(t, err, "body."+field)
	}
	if l := servertest.Must(sc.ListEndpoints(t.Context(), nil))(t); len(l.Data) != 0 {
		t.Fatalf("saved: %+v", l.Data)
	}
}

// Changing a secret option re-signs; "****" keeps it; choosing another
// profile re-applies every setting no request set.
func TestProfileOptionsAndProfileChangesFollowThrough(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	sc := h.As("acme", "sandbox")
	ep := servertest.Must(sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: "https://example.com/hook",
		Profile: "smart-kyc", ProfileOptions: profileOptions(`{"api_secret":"first-secret"}`), Success: "json-or-204"}))(t)
	if string(ep.ProfileOptions["api_secret"]) != `"****"` || len(ep.Signatures) != 2 || ep.Signatures[1].Secret != "****" {
		t.Fatalf("created: %+v", ep.Endpoint)
	}
	up := servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{ProfileOptions: profileOptions(`{"api_secret":"****","tenant_id":"t-1"}`)}))(t)
	pv := servertest.Must(sc.PreviewTransform(t.Context(), &client.PreviewRequest{EndpointID: ep.ID,
		Event: &client.PublishEvent{Type: "verification.approved", Data: json.RawMessage(`{"status":"approved","decision":{"result":"approved","reasons":[]},"reviewed_by":"auto"}`)}}))(t)
	if !verifySignature([]byte(pv.Body), pv.Headers["X-Smartkyc-Signature"], "first-secret") || !strings.Contains(pv.Body, `"tenantId":"t-1"`) {
		t.Fatalf("after **** (%v): preview %+v", up.ProfileOptions, pv)
	}
	if strings.Contains(pv.Body+strings.Join(slices.Collect(mapValues(pv.Headers)), " "), "first-secret") {
		t.Fatal("the preview echoes the secret")
	}
	incode := "incode"
	up = servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Profile: &incode}))(t)
	if up.Success != "json-or-204" || !up.SuccessFalseFails || up.RetryPolicy.Preset != "once" || len(up.Signatures) != 1 ||
		len(up.ProfileOptions) != 0 || up.EventTypes == nil {
		t.Fatalf("after choosing incode: %+v", up)
	}
}

func mapValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestProfilesAreListedAndThePreviewMasksSecretMembers(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	ps := servertest.Must(h.Client.ListProfiles(t.Context()))(t)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"standard", "smile-id", "incode", "smart-kyc", "identomat", "idwise"}) {
		t.Fatalf("profiles %v", names)
	}
	sc := h.As("acme", "sandbox")
	if _, err := sc.ListProfiles(t.Context()); err != nil {
		t.Fatalf("a tenant key cannot list profiles: %v", err)
	}
	pv := servertest.Must(sc.PreviewTransform(t.Context(), &client.PreviewRequest{
		Endpoint: &client.EndpointUpdate{Profile: ptr("identomat"), ProfileOptions: profileOptions(`{"callback_api_key":"apikey123"}`)},
		Event: &client.PublishEvent{Type: "verification.approved", Job: &client.JobRef{ID: "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp", Kind: "kyc"},
			Data: json.RawMessage(`{"status":"approved","decision":{"result":"approved","reasons":[]},"reviewed_by":"auto"}`)},
	}))(t)
	if want := `{"callbackApiKey":"****","type":"session-change","sessionId":"ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp","result":"APPROVED"}`; pv.Body != want {
		t.Fatalf("preview body %s, want %s", pv.Body, want)
	}
	if pv.Headers["webhook-signature"] == "" {
		t.Errorf("preview headers %v", pv.Headers)
	}
	if l := servertest.Must(sc.ListEndpoints(t.Context(), nil))(t); len(l.Data) != 0 {
		t.Fatalf("the preview saved an endpoint: %+v", l.Data)
	}
}

func ptr[T any](v T) *T { return &v }

// An explicit false on create is the endpoint's own setting and wins over
// the profile's true; what the request leaves out still follows the profile.
func TestAnExplicitFalseOnCreateOverridesTheProfile(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	ep := servertest.Must(h.As("acme", "sandbox").CreateEndpoint(t.Context(), &client.EndpointCreate{URL: "https://example.com/hook",
		Profile: "incode", SuccessFalseFails: client.Ptr(false)}))(t)
	if ep.SuccessFalseFails || !ep.IdenticalRetries || slices.Contains(ep.ProfileFields, "success_false_fails") || !slices.Contains(ep.ProfileFields, "identical_retries") {
		t.Fatalf("success_false_fails %v, identical_retries %v, from the profile %v", ep.SuccessFalseFails, ep.IdenticalRetries, ep.ProfileFields)
	}
}

// "****" is how a stored secret is shown. Written back where nothing is
// stored to keep (a signature's secret, a newly chosen profile's option), it
// is refused naming the field, instead of being saved as the secret.
func TestTheMaskIsNeverSavedAsASecret(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "https://example.com/hook",
			Signatures: []client.Signature{{Scheme: client.SchemeHMACHex, Header: "X-Sig", Key: "text", Secret: "real-secret"}}})
		read := servertest.Must(sc.GetEndpoint(t.Context(), ep.ID))(t)
		_, err := sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Signatures: read.Signatures})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "signatures[1].secret") {
			t.Fatalf("writing the read list back: %v", e)
		}
		_, err = sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Profile: client.Ptr("smart-kyc"),
			ProfileOptions: profileOptions(`{"api_secret":"****"}`)})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "profile_options.api_secret") {
			t.Fatalf("a new profile with a masked secret: %v", e)
		}
		after := servertest.Must(sc.GetEndpoint(t.Context(), ep.ID))(t)
		if after.Profile != "standard" || len(after.Signatures) != 2 || after.Signatures[1].Header != "X-Sig" {
			t.Fatalf("a refused update changed the endpoint: %+v", after)
		}
	})
}
