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
