package dispatch

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/webhook"
)

func verify(t *testing.T, key string, h hit) {
	t.Helper()
	v, err := webhook.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(h.header, h.body); err != nil {
		t.Errorf("signature over %s does not verify with %.10s…: %v", h.body, key, err)
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return m
}

func TestPayloadModes(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	const data = `{"status":"approved","name":"Ada Lovelace"}`
	sinks := map[string]*sink{}
	eps := map[string]*domain.Endpoint{}
	for _, mode := range []string{"", domain.PayloadEnvelope, domain.PayloadRaw, domain.PayloadThin} {
		sinks[mode] = newSink(t, nil)
		eps[mode] = r.endpoint(sinks[mode].URL, func(e *domain.Endpoint) { e.PayloadMode = mode })
	}
	id := r.publish("verification.approved", data)
	for mode, e := range eps {
		r.succeeded(id, e.ID)
		h := sinks[mode].only(t)
		verify(t, e.Secret, h)
		if h.header.Get("webhook-id") != id || h.header.Get("Content-Type") != "application/json" {
			t.Errorf("%q: headers %v", mode, h.header)
		}
		body := decode(t, h.body)
		switch mode {
		case "", domain.PayloadEnvelope:
			if body["id"] != id || body["type"] != "verification.approved" || body["data"].(map[string]any)["name"] != "Ada Lovelace" {
				t.Errorf("%q: envelope %s", mode, h.body)
			}
			if job := body["job"].(map[string]any); job["id"] != "job_7f3a" {
				t.Errorf("%q: job %v", mode, job)
			}
		case domain.PayloadRaw:
			if string(h.body) != data {
				t.Errorf("raw body %s, want the data alone %s", h.body, data)
			}
		case domain.PayloadThin:
			if _, ok := body["data"]; ok || body["id"] != id || body["type"] != "verification.approved" || body["tenant_id"] != "acme" {
				t.Errorf("thin body %s", h.body)
			}
			if strings.Contains(string(h.body), "Lovelace") {
				t.Errorf("thin body carries personal data: %s", h.body)
			}
		}
	}
}

// The bodies of one event are rendered once per payload mode, shared by
// every endpoint in that mode; only body-api-key endpoints get their own.
func TestPayloadBodiesAreRenderedOncePerMode(t *testing.T) {
	ev := domain.Event{ID: "evt_1", Type: "a.b", Data: json.RawMessage(`{"x":1}`), CreatedAt: time.Now()}
	mk := func(id, mode string, cs *domain.CompatSignature) *endpoint {
		e := domain.Endpoint{ID: id, Secret: "whsec_dGVzdA==", PayloadMode: mode}
		if cs != nil {
			e.ApplyCompatSignature(cs)
		}
		p, err := prepare(e, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	eps := map[string]*endpoint{
		"e1": mk("e1", "", nil), "e2": mk("e2", "envelope", nil), "e3": mk("e3", "thin", nil), "e4": mk("e4", "thin", nil),
		"e5": mk("e5", "thin", &domain.CompatSignature{Kind: domain.CompatBodyAPIKey, Field: "k", APIKey: "v"}),
		"e6": mk("e6", "raw", nil),
	}
	var claimed []store.Claimed
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5", "e6"} {
		claimed = append(claimed, store.Claimed{EndpointID: id, Event: ev})
	}
	jobs, missing := prepareJobs(claimed, eps)
	if len(jobs) != 6 || len(missing) != 0 {
		t.Fatalf("%d jobs, %d missing", len(jobs), len(missing))
	}
	same := func(a, b []byte) bool { return len(a) > 0 && &a[0] == &b[0] }
	if !same(jobs[0].body, jobs[1].body) || !same(jobs[2].body, jobs[3].body) || same(jobs[0].body, jobs[2].body) {
		t.Error("bodies of one mode are not shared")
	}
	if same(jobs[4].body, jobs[2].body) || string(jobs[4].body) != strings.TrimSuffix(string(jobs[2].body), "}")+`,"k":"v"}` {
		t.Errorf("body-api-key body %s from %s", jobs[4].body, jobs[2].body)
	}
	if string(jobs[5].body) != `{"x":1}` {
		t.Errorf("raw body %s", jobs[5].body)
	}
}

func TestCompatHMACHexHeader(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	for _, mode := range []string{domain.PayloadEnvelope, domain.PayloadRaw, domain.PayloadThin} {
		var secret string
		// A receiver built to Smart KYC's scheme: hex HMAC-SHA256 of the
		// raw body, keyed with the secret's bytes, in X-SmartKYC-Signature.
		rc := newSink(t, func(req *http.Request, body []byte) int {
			key, _ := webhook.ParseSecret(secret)
			m := hmac.New(sha256.New, key)
			m.Write(body)
			if !hmac.Equal([]byte(req.Header.Get("X-SmartKYC-Signature")), []byte(hex.EncodeToString(m.Sum(nil)))) {
				return http.StatusUnauthorized
			}
			return http.StatusOK
		})
		e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
			e.PayloadMode = mode
			e.EventTypes = []string{"verification." + mode}
			e.ApplyCompatSignature(&domain.CompatSignature{Kind: domain.CompatHMACHex, Header: "X-SmartKYC-Signature"})
		})
		secret = e.Secret
		id := r.publish("verification."+mode, `{"status":"approved"}`)
		d := r.succeeded(id, e.ID)
		h := rc.only(t)
		verify(t, e.Secret, h) // the Standard Webhooks headers are always sent
		// The log shows the compatibility signature, like webhook-signature.
		if got := d.AttemptLog[0].RequestHeaders["X-Smartkyc-Signature"]; got != h.header.Get("X-SmartKYC-Signature") || len(got) != 64 {
			t.Errorf("%s: logged compat signature %q, sent %q", mode, got, h.header.Get("X-SmartKYC-Signature"))
		}
	}
}

func TestCompatBodyAPIKey(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	const apiKey = "cbk_live_7d3c9e1f2a4b6c8d"
	checker := func(req *http.Request, body []byte) int {
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || m["callbackApiKey"] != apiKey {
			return http.StatusForbidden
		}
		return http.StatusOK
	}
	for _, mode := range []string{domain.PayloadEnvelope, domain.PayloadRaw, domain.PayloadThin} {
		rc := newSink(t, checker)
		e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
			e.PayloadMode = mode
			e.EventTypes = []string{"verification." + mode}
			e.ApplyCompatSignature(&domain.CompatSignature{Kind: domain.CompatBodyAPIKey, Field: "callbackApiKey", APIKey: apiKey})
		})
		id := r.publish("verification."+mode, `{"status":"approved","callbackApiKey":"from-the-data"}`)
		d := r.succeeded(id, e.ID)
		h := rc.only(t)
		verify(t, e.Secret, h) // signed over the final body, key included
		body := decode(t, h.body)
		switch mode {
		case domain.PayloadRaw:
			if body["status"] != "approved" || body["id"] != nil {
				t.Errorf("raw body %s", h.body)
			}
		case domain.PayloadThin:
			if body["data"] != nil || body["id"] != id {
				t.Errorf("thin body %s", h.body)
			}
		default:
			if body["id"] != id || body["data"].(map[string]any)["status"] != "approved" {
				t.Errorf("envelope body %s", h.body)
			}
		}
		noSecretsIn(t, d, apiKey)
	}

	// In raw mode the data must be an object to take the field: the
	// delivery fails at once, saying why, and nothing is sent.
	rc := newSink(t, checker)
	e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
		e.PayloadMode = domain.PayloadRaw
		e.EventTypes = []string{"list.made"}
		e.ApplyCompatSignature(&domain.CompatSignature{Kind: domain.CompatBodyAPIKey, Field: "callbackApiKey", APIKey: apiKey})
	})
	d := r.settled(r.publish("list.made", `["not","an","object"]`), e.ID)
	if d.Status != domain.DeliveryFailed || !strings.Contains(d.AttemptLog[0].Error, "an array") || rc.count() != 0 {
		t.Fatalf("raw array with body-api-key: %s %s", d.Status, attemptsJSON(d))
	}
}

func TestEd25519Signing(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	rc := newSink(t, nil)
	pub, priv, err := webhook.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
		e.Signing, e.SigningPublicKey, e.SigningPrivateKey = domain.SigningEd25519, pub, priv
	})
	id := r.publish("verification.approved", `{"status":"approved"}`)
	d := r.succeeded(id, e.ID)
	h := rc.only(t)

	sig := h.header.Get("webhook-signature")
	if !strings.HasPrefix(sig, "v1a,") || strings.Contains(sig, " ") {
		t.Fatalf("signature %q, want one v1a entry", sig)
	}
	// With nothing but Go's crypto/ed25519.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1a,"))
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(pub, "whpk_"))
	msg := id + "." + h.header.Get("webhook-timestamp") + "." + string(h.body)
	if !ed25519.Verify(ed25519.PublicKey(pk), []byte(msg), raw) {
		t.Fatal("crypto/ed25519 does not verify the signature")
	}
	// With the webhook package, given the whpk_ key; the whsec_ secret does
	// not verify an ed25519 delivery.
	verify(t, pub, h)
	if v, _ := webhook.NewVerifier(e.Secret); v.Verify(h.header, h.body) == nil {
		t.Error("the HMAC secret verifies an ed25519-only delivery")
	}
	if !strings.HasPrefix(d.AttemptLog[0].RequestHeaders["webhook-signature"], "v1a,") {
		t.Errorf("logged signature %q", d.AttemptLog[0].RequestHeaders["webhook-signature"])
	}

	// During a secret rotation's grace period the HMAC entries go too.
	next, _ := webhook.NewSecret()
	until := time.Now().Add(time.Hour)
	old := e.Secret
	e.PreviousSecret, e.Secret, e.PreviousSecretExpiresAt = old, next, &until
	r.update(e)
	id = r.publish("verification.approved", `{"status":"approved"}`)
	r.succeeded(id, e.ID)
	h = rc.all()[1]
	entries := strings.Fields(h.header.Get("webhook-signature"))
	if len(entries) != 3 || !strings.HasPrefix(entries[0], "v1a,") {
		t.Fatalf("signature during rotation %q", h.header.Get("webhook-signature"))
	}
	for _, k := range []string{pub, old, next} {
		verify(t, k, h)
	}
}

func TestSigningHMACRotationUnchanged(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	rc := newSink(t, nil)
	e := r.endpoint(rc.URL, func(e *domain.Endpoint) { e.Signing = domain.SigningHMAC })
	next, _ := webhook.NewSecret()
	until := time.Now().Add(time.Hour)
	old := e.Secret
	e.PreviousSecret, e.Secret, e.PreviousSecretExpiresAt = old, next, &until
	r.update(e)
	r.succeeded(r.publish("a.b", `{}`), e.ID)
	h := rc.only(t)
	if entries := strings.Fields(h.header.Get("webhook-signature")); len(entries) != 2 || !strings.HasPrefix(entries[1], "v1,") {
		t.Fatalf("signature %q", h.header.Get("webhook-signature"))
	}
	verify(t, old, h)
	verify(t, next, h)
}

func TestAuthBasicBearerHeader(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	cases := []struct {
		auth   domain.EndpointAuth
		check  func(*http.Request) bool
		logged map[string]string
		secret string
	}{
		{
			domain.EndpointAuth{Type: domain.AuthBasic, Username: "acme-bank", Password: "correct horse battery staple"},
			func(r *http.Request) bool {
				u, p, ok := r.BasicAuth()
				return ok && u == "acme-bank" && p == "correct horse battery staple"
			},
			map[string]string{"Authorization": "Basic ****"}, "correct horse battery staple",
		},
		{
			domain.EndpointAuth{Type: domain.AuthBearer, Token: "eyJhbGciOiJIUzI1NiJ9.static-token-1234"},
			func(r *http.Request) bool {
				return r.Header.Get("Authorization") == "Bearer eyJhbGciOiJIUzI1NiJ9.static-token-1234"
			},
			map[string]string{"Authorization": "Bearer ****"}, "static-token-1234",
		},
		{
			// A header whose name does not look secret is masked all the same.
			domain.EndpointAuth{Type: domain.AuthHeader, Name: "x-partner", Value: "partner-credential-98765"},
			func(r *http.Request) bool { return r.Header.Get("X-Partner") == "partner-credential-98765" },
			map[string]string{"X-Partner": "****"}, "98765",
		},
	}
	for _, c := range cases {
		t.Run(c.auth.Type, func(t *testing.T) {
			rc := newSink(t, func(req *http.Request, _ []byte) int {
				if !c.check(req) {
					return http.StatusUnauthorized
				}
				return http.StatusOK
			})
			auth := c.auth
			e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
				e.Auth = &auth
				// A custom header of the same name does not override the auth.
				e.Headers = map[string]string{"Authorization": "Bearer wrong", "X-Team": "kyc"}
			})
			d := r.succeeded(r.publish("a.b", `{}`), e.ID)
			verify(t, e.Secret, rc.only(t))
			for k, v := range c.logged {
				if got := d.AttemptLog[0].RequestHeaders[k]; got != v {
					t.Errorf("logged %s = %q, want %q", k, got, v)
				}
			}
			noSecretsIn(t, d, c.secret, auth.Password, auth.Token, auth.Value)
		})
	}
}

// wholeEnvelope is DESIGN.md's envelope as encoding/json writes it.
type wholeEnvelope struct {
	ID          string             `json:"id"`
	Type        string             `json:"type"`
	Timestamp   string             `json:"timestamp"`
	Environment domain.Environment `json:"environment"`
	TenantID    string             `json:"tenant_id"`
	Job         *domain.Job        `json:"job,omitempty"`
	Final       bool               `json:"final,omitempty"`
	Test        bool               `json:"test,omitempty"`
	Data        json.RawMessage    `json:"data,omitempty"`
}

// The envelope splices the stored data in rather than encoding it again:
// the body is byte for byte what encoding the whole envelope gives, but
// for the data, which is sent as stored (without encoding/json's escaping
// of <, > and &, as the raw payload mode always sent it).
func TestEnvelopeIsTheWholeEnvelopeEncoded(t *testing.T) {
	for _, ev := range []domain.Event{
		{ID: "evt_1", Type: "verification.approved", TenantID: "acme", Environment: domain.Sandbox,
			CreatedAt: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"a":1,"b":[true,null,"<x>"]}`)},
		{ID: "evt_2", Type: "verification.declined", TenantID: "acme", Environment: domain.Production, Final: true, Test: true,
			Job: &domain.Job{ID: "job_1", Kind: "kyc"}, CreatedAt: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC), Data: json.RawMessage(`{}`)},
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(wholeEnvelope{ID: ev.ID, Type: ev.Type, Timestamp: "2026-12-03T07:00:00Z", Environment: ev.Environment,
			TenantID: ev.TenantID, Job: ev.Job, Final: ev.Final, Test: ev.Test, Data: ev.Data}); err != nil {
			t.Fatal(err)
		}
		if got := renderEnvelope(&ev); string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("envelope\n got %s\nwant %s", got, want.String())
		}
	}
}
