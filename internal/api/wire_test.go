package api_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// rawReceiver keeps every request exactly as it arrived and answers the
// n-th (from 1) with answer's content type and body (status 200).
type rawReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []servertest.Received
}

func newRawReceiver(t *testing.T, answer func(n int) (contentType, body string)) *rawReceiver {
	rc := &rawReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, servertest.Received{Header: r.Header.Clone(), Body: body, Arrival: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		ct, out := answer(n)
		if ct == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write([]byte(out))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *rawReceiver) requests() []servertest.Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]servertest.Received(nil), rc.got...)
}

// verifySignature is Smart KYC's published Node code (002, "Signature
// Verification Example"), ported line for line:
//
//	const hmac = crypto.createHmac("sha256", secret);
//	const calculatedSignature = hmac.update(payload).digest("hex");
//	return signature === calculatedSignature;
func verifySignature(payload []byte, signature, secret string) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	calculatedSignature := hex.EncodeToString(update(mac, payload).Sum(nil))
	return signature == calculatedSignature
}

// update is Node's hmac.update: it writes and returns the HMAC.
func update(mac hash.Hash, payload []byte) hash.Hash {
	mac.Write(payload)
	return mac
}

// smileSignature is Smile ID's recipe: base64 of the HMAC-SHA256, keyed
// with the API key, of timestamp + partner id + "sid_request".
func smileSignature(apiKey, partnerID, timestamp string) string {
	h := hmac.New(sha256.New, []byte(apiKey))
	h.Write([]byte(timestamp))
	h.Write([]byte(partnerID))
	h.Write([]byte("sid_request"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestSignatureSchemesVerifyByEachDocumentsRecipe(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		const (
			apiSecret   = "skyc_5f2b8e1d9c7a4b3e"
			smileKey    = "1b8a4e2c-6d3f-4a7b-9c0e-5f2d8a1b3c4e"
			callbackKey = "callback-api-key-123"
			given       = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		)
		rc := servertest.NewReceiver(t)
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{
			URL: rc.URL, Secret: given,
			Signatures: []client.Signature{
				{Scheme: client.SchemeHMACHex, Header: "X-SmartKYC-Signature", Key: "text", Secret: apiSecret},
				{Scheme: client.SchemeBodyAPIKey, Field: "callbackApiKey", APIKey: callbackKey, Position: "first"},
				{Scheme: client.SchemeBodySignature, PartnerID: "085", APIKey: smileKey},
			},
		})
		if ep.Secret != given {
			t.Fatalf("created with secret %q, want the given %q", ep.Secret, given)
		}
		if len(ep.Signatures) != 4 || ep.Signatures[0].Scheme != client.SchemeStandardWebhooks || ep.CompatSignature != nil {
			t.Fatalf("signatures as created = %+v (compat %+v)", ep.Signatures, ep.CompatSignature)
		}
		rc.Trust(given)
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "wire.approved", Data: json.RawMessage(`{"status":"approved","callbackApiKey":"from-data","timestamp":"t"}`)})
		got := rc.Next(10 * time.Second)
		if got.Valid != nil {
			t.Fatalf("standard webhooks signature with the given secret: %v", got.Valid)
		}
		if !verifySignature(got.Body, got.Header.Get("X-SmartKYC-Signature"), apiSecret) {
			t.Errorf("Smart KYC's verifySignature refuses %q over %s", got.Header.Get("X-SmartKYC-Signature"), got.Body)
		}
		if !bytes.HasPrefix(got.Body, []byte(`{"callbackApiKey":"`+callbackKey+`",`)) || bytes.Count(got.Body, []byte(`"callbackApiKey"`)) != 2 { // and the data's
			t.Errorf("body-api-key first: %s", got.Body)
		}
		var body struct {
			Timestamp string `json:"timestamp"`
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal(got.Body, &body); err != nil || !bytes.HasSuffix(got.Body, []byte(`"signature":"`+body.Signature+`"}`)) ||
			bytes.Count(got.Body, []byte(`"timestamp"`)) != 2 { // Smile's (the envelope's goes) and the data's
			t.Fatalf("body signature members: %s", got.Body)
		}
		if at, err := time.Parse("2006-01-02T15:04:05.000Z", body.Timestamp); err != nil || time.Since(at) > time.Minute {
			t.Errorf("Smile timestamp %q: %v", body.Timestamp, err)
		}
		if want := smileSignature(smileKey, "085", body.Timestamp); body.Signature != want {
			t.Errorf("Smile signature %q, want %q", body.Signature, want)
		}

		// Secrets are never shown: not by GET, not in the attempt log.
		d, raw := settledDelivery(h, "acme", "sandbox", p.ID, ep.ID)
		if d.Status != client.DeliverySucceeded {
			t.Fatalf("delivery %+v", d)
		}
		text := endpointText(h, "acme", "sandbox", ep.ID)
		mustNotContain(t, "GET endpoint", text, apiSecret, smileKey, callbackKey, given)
		mustNotContain(t, "the attempt log", raw, apiSecret, smileKey, callbackKey, given)
		if !strings.Contains(text, `"secret":"****"`) || !strings.Contains(raw, got.Header.Get("X-SmartKYC-Signature")) {
			t.Errorf("endpoint %s, attempt log %s", text, raw)
		}

		// Rotating to a given secret: both v1 entries during the grace
		// period; the text-keyed HMAC is unchanged (it has its own key).
		next := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		rot := servertest.Must(h.As("acme", "sandbox").RotateEndpointSecret(t.Context(), ep.ID, &client.SecretRotation{Secret: next}))(t)
		if rot.Secret != next {
			t.Fatalf("rotated to %q, want %q", rot.Secret, next)
		}
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "wire.approved", Data: json.RawMessage(`{}`)})
		got = rc.Next(10 * time.Second)
		mustVerify(t, next, got)
		mustVerify(t, given, got)
		if !verifySignature(got.Body, got.Header.Get("X-SmartKYC-Signature"), apiSecret) {
			t.Error("the text-keyed HMAC changed with the rotation")
		}
	})
}

func TestCompatSignatureIsTheOlderFormOfTheList(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	sc := h.As("acme", "sandbox")
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{
		URL:             "http://127.0.0.1:9/hook",
		CompatSignature: &client.CompatSignature{Kind: client.CompatHMACHex, Header: "X-Sig"},
	})
	if len(ep.Signatures) != 2 || ep.Signatures[1].Scheme != client.SchemeHMACHex || ep.Signatures[1].Key != "whsec" ||
		ep.CompatSignature == nil || ep.CompatSignature.Header != "X-Sig" {
		t.Fatalf("compat_signature as a list: %+v / %+v", ep.Signatures, ep.CompatSignature)
	}
	// Both in one request: which wins would be a guess.
	_, err := sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{
		Signatures:      []client.Signature{{Scheme: client.SchemeStandardWebhooks}},
		CompatSignature: &client.CompatSignature{Kind: client.CompatNone},
	})
	wantInvalid(t, err, "body.compat_signature")
	// The list replaces the older form; a list without one shows none.
	got := servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Signatures: []client.Signature{}}))(t)
	if len(got.Signatures) != 1 || got.CompatSignature != nil {
		t.Fatalf("after an empty list: %+v / %+v", got.Signatures, got.CompatSignature)
	}
}

// wantInvalid asserts a 422 that names field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	e := servertest.Refused(t, err, http.StatusUnprocessableEntity)
	for _, f := range e.Errors {
		if f.Location == field {
			return
		}
	}
	t.Errorf("422 %v does not name %s", e, field)
}

func TestBadSignaturesAndSecretsAreRefusedNamingTheField(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	sc := h.As("acme", "sandbox")
	u := "http://127.0.0.1:9/hook"
	for field, in := range map[string]client.EndpointCreate{
		"body.signatures[1].header":     {URL: u, Signatures: []client.Signature{{Scheme: client.SchemeStandardWebhooks}, {Scheme: client.SchemeHMACHex}}},
		"body.signatures[0].secret":     {URL: u, Signatures: []client.Signature{{Scheme: client.SchemeHMACHex, Header: "X-S", Key: "text"}}},
		"body.signatures[0].key":        {URL: u, Signatures: []client.Signature{{Scheme: client.SchemeHMACHex, Header: "X-S", Key: "hex"}}},
		"body.signatures[0].scheme":     {URL: u, Signatures: []client.Signature{{Scheme: "md5"}}},
		"body.signatures[0].api_key":    {URL: u, Signatures: []client.Signature{{Scheme: client.SchemeBodySignature, PartnerID: "085"}}},
		"body.signatures[0].partner_id": {URL: u, Signatures: []client.Signature{{Scheme: client.SchemeBodySignature, APIKey: "k"}}},
		"body.signatures[0].field":      {URL: u, Signatures: []client.Signature{{Scheme: client.SchemeBodyAPIKey, APIKey: "k"}}},
		"body.signatures[0].position":   {URL: u, Signatures: []client.Signature{{Scheme: client.SchemeBodyAPIKey, Field: "f", APIKey: "k", Position: "middle"}}},
		"body.secret":                   {URL: u, Secret: "whsec_short"},
	} {
		_, err := sc.CreateEndpoint(t.Context(), &in)
		wantInvalid(t, err, field)
	}
	for _, bad := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		_, err := sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: u, Secret: bad})
		wantInvalid(t, err, "body.secret")
	}
	if list := servertest.Must(sc.ListEndpoints(t.Context(), nil))(t); len(list.Data) != 0 {
		t.Fatalf("refused endpoints were saved: %+v", list.Data)
	}
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: u})
	_, err := sc.RotateEndpointSecret(t.Context(), ep.ID, &client.SecretRotation{Secret: "whsec_short"})
	wantInvalid(t, err, "body.secret")
	_, err = sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Signatures: []client.Signature{{Scheme: client.SchemeHMACHex}}})
	wantInvalid(t, err, "body.signatures[0].header")
	if got := servertest.Must(sc.GetEndpoint(t.Context(), ep.ID))(t); len(got.Signatures) != 1 || got.PreviousSecretExpiresAt != nil {
		t.Fatalf("a refused change was saved: %+v", got)
	}
}

// An Incode-style receiver: success is 200 with application/json or 204,
// {"success": false} is a failure, and there is exactly one retry, exactly
// the same as the first attempt.
func TestIdenticalRetryIncodeStyle(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		answers := map[int][2]string{1: {"text/plain", `{"success":true}`}, 2: {"application/json", `{"success": false}`}}
		rc := newRawReceiver(t, func(n int) (string, string) { return answers[n][0], answers[n][1] })
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{
			URL: rc.URL, Success: "json-or-204", SuccessFalseFails: client.Ptr(true), IdenticalRetries: client.Ptr(true),
			// preset once's shape (one retry), with a wait a test can afford.
			RetryPolicy: &client.RetryPolicy{Delays: []string{"1s"}},
			Signatures:  []client.Signature{{Scheme: client.SchemeHMACHex, Header: "X-Signature"}},
			Headers:     map[string]string{"X-Team": "kyc"},
		})
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "wire.completed", Job: &client.JobRef{ID: "65f1c0d2a9e8b7c6d5e4f3a2"}, Data: json.RawMessage(`{"status":"completed"}`)})
		var d client.Delivery
		servertest.Eventually(t, 15*time.Second, "the delivery to fail", func() bool {
			d = *h.Delivery("acme", "sandbox", servertest.Must(h.As("acme", "sandbox").ListDeliveries(t.Context(), &client.DeliveryListParams{EventID: p.ID}))(t).Data[0].ID)
			return d.Status == client.DeliveryFailed
		})
		time.Sleep(1500 * time.Millisecond) // nothing follows the second failure
		got := rc.requests()
		if len(got) != 2 || d.AttemptCount != 2 {
			t.Fatalf("%d requests, %d attempts; want exactly one retry", len(got), d.AttemptCount)
		}
		if !bytes.Equal(got[0].Body, got[1].Body) {
			t.Errorf("retry body differs:\n%s\n%s", got[0].Body, got[1].Body)
		}
		for _, k := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "X-Signature", "Content-Type", "X-Team"} {
			if got[0].Header.Get(k) == "" {
				t.Errorf("header %s missing", k)
			}
		}
		if len(got[0].Header) != len(got[1].Header) {
			t.Errorf("headers differ:\n%v\n%v", got[0].Header, got[1].Header)
		}
		for k, v := range got[0].Header {
			if strings.Join(got[1].Header[k], "\n") != strings.Join(v, "\n") {
				t.Errorf("header %s: %q then %q", k, v, got[1].Header[k])
			}
		}
		if len(d.Attempts) != 2 || !strings.Contains(d.Attempts[0].Error, `"text/plain", not application/json`) ||
			!strings.Contains(d.Attempts[1].Error, `"success": false`) {
			t.Fatalf("attempt errors: %+v", d.Attempts)
		}

		// 200 application/json; charset=utf-8 {"success":true} is taken at once.
		ok := newRawReceiver(t, func(int) (string, string) { return "application/json; charset=utf-8", `{"success":true}` })
		servertest.Must(h.As("acme", "sandbox").UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{URL: &ok.URL}))(t)
		p = h.Publish("acme", "sandbox", client.PublishEvent{Type: "wire.completed", Data: json.RawMessage(`{}`)})
		if d, _ := settledDelivery(h, "acme", "sandbox", p.ID, ep.ID); d.Status != client.DeliverySucceeded || d.AttemptCount != 1 {
			t.Fatalf("success answer: %+v", d)
		}
	})
}

// Partner params with characters encoding/json escapes, unicode and odd
// whitespace arrive byte for byte in every body that carries them.
func TestPartnerParamsArriveByteForByte(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		const params = "{ \"ref\" : \"a<b>&c\",\n  \"note\": \"café ☕\",  \"n\": 1.50 }"
		receivers := map[string]*servertest.Receiver{}
		for _, mode := range []string{"envelope", "thin", "thin+params", "raw"} {
			rc := servertest.NewReceiver(t)
			in := client.EndpointCreate{URL: rc.URL, PayloadMode: strings.TrimSuffix(mode, "+params"), ThinPartnerParams: client.Ptr(mode == "thin+params")}
			if mode == "thin" {
				// A body-api-key member does not disturb them either.
				in.Signatures = []client.Signature{{Scheme: client.SchemeBodyAPIKey, Field: "k", APIKey: "v", Position: "first"}}
			}
			h.Endpoint("acme", "sandbox", in)
			receivers[mode] = rc
		}
		// The request is written by hand: the client would re-encode them.
		body := `{"type":"wire.started","job":{"id":"job_pp","partner_params":` + params + `},"data":{"status":"started"}}`
		h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: body})
		want := `"job":{"id":"job_pp","partner_params":` + params + `}`
		for mode, rc := range receivers {
			got := rc.Next(10 * time.Second)
			carries := mode == "envelope" || mode == "thin+params"
			if carries != bytes.Contains(got.Body, []byte(want)) || (!carries && bytes.Contains(got.Body, []byte(`"ref"`))) {
				t.Errorf("%s body: %s", mode, got.Body)
			}
		}
		// A later event of the job echoes them, byte for byte.
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "wire.approved", Job: &client.JobRef{ID: "job_pp"}, Data: json.RawMessage(`{}`)})
		if got := receivers["envelope"].Next(10 * time.Second); !bytes.Contains(got.Body, []byte(want)) {
			t.Errorf("echoed: %s", got.Body)
		}
	})
}
