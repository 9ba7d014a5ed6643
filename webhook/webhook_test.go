package webhook_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/webhook"
)

// The Standard Webhooks specification's published test vector.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var specTime = time.Unix(specTimestamp, 0)

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(webhook.HeaderSignature, sig)
	return h
}

func mustVerifier(t testing.TB, secrets ...string) *webhook.Verifier {
	t.Helper()
	v, err := webhook.NewVerifier(secrets...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func mustSign(t testing.TB, secret, id string, ts time.Time, body string) string {
	t.Helper()
	sig, err := webhook.Sign(secret, id, ts, []byte(body))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return sig
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func TestSignProducesSpecificationTestVector(t *testing.T) {
	if got := mustSign(t, specSecret, specID, specTime, specBody); got != specSignature {
		t.Errorf("Sign = %q, want %q", got, specSignature)
	}

	key, err := webhook.ParseSecret(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte("existing ")
	got := webhook.AppendSignature(prefix, key, specID, specTimestamp, []byte(specBody))
	if want := "existing " + specSignature; string(got) != want {
		t.Errorf("AppendSignature = %q, want %q", got, want)
	}
}

func TestVerifyAcceptsSpecificationTestVector(t *testing.T) {
	v := mustVerifier(t, specSecret)
	if err := v.VerifyAt(headers(specID, specTimestamp, specSignature), []byte(specBody), specTime); err != nil {
		t.Fatalf("VerifyAt: %v", err)
	}
}

func TestSecretWithoutPrefixSignsAndVerifiesLikePrefixedOne(t *testing.T) {
	bare := strings.TrimPrefix(specSecret, "whsec_")
	if got := mustSign(t, bare, specID, specTime, specBody); got != specSignature {
		t.Errorf("Sign with bare secret = %q, want %q", got, specSignature)
	}
	withPrefix, _ := webhook.ParseSecret(specSecret)
	without, err := webhook.ParseSecret(bare)
	if err != nil || !bytes.Equal(without, withPrefix) {
		t.Errorf("ParseSecret(bare) = %x, %v; want %x", without, err, withPrefix)
	}
	v := mustVerifier(t, bare)
	if err := v.VerifyAt(headers(specID, specTimestamp, specSignature), []byte(specBody), specTime); err != nil {
		t.Fatalf("VerifyAt with bare secret: %v", err)
	}
	// Secrets pasted from files keep their newline.
	if _, err := webhook.NewVerifier(specSecret + "\n"); err != nil {
		t.Errorf("secret with trailing newline: %v", err)
	}
}

func TestVerifyAcceptsAnyOfSeveralSignaturesDuringRotation(t *testing.T) {
	oldSecret, _ := webhook.NewSecret()
	newSecret, _ := webhook.NewSecret()
	now := time.Now()
	oldSig := mustSign(t, oldSecret, "msg_1", now, "{}")
	newSig := mustSign(t, newSecret, "msg_1", now, "{}")
	both := newSig + " " + oldSig

	for _, tc := range []struct {
		name    string
		secrets []string
		sig     string
	}{
		{"receiver has only the new secret", []string{newSecret}, both},
		{"receiver has only the old secret", []string{oldSecret}, both},
		{"receiver has both secrets, sender signs with old", []string{newSecret, oldSecret}, oldSig},
		{"receiver has both secrets, sender signs with new", []string{oldSecret, newSecret}, newSig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, tc.secrets...)
			if err := v.VerifyAt(headers("msg_1", now.Unix(), tc.sig), []byte("{}"), now); err != nil {
				t.Fatalf("VerifyAt: %v", err)
			}
		})
	}

	// The same rotation header built with AppendSignature.
	oldKey, _ := webhook.ParseSecret(oldSecret)
	newKey, _ := webhook.ParseSecret(newSecret)
	sig := webhook.AppendSignature(nil, newKey, "msg_1", now.Unix(), []byte("{}"))
	sig = append(sig, ' ')
	sig = webhook.AppendSignature(sig, oldKey, "msg_1", now.Unix(), []byte("{}"))
	if string(sig) != both {
		t.Errorf("AppendSignature rotation header = %q, want %q", sig, both)
	}
	sig = mustSigner(t, newSecret).AppendSignature(sig[:0], "msg_1", now.Unix(), []byte("{}"))
	sig = append(sig, ' ')
	sig = mustSigner(t, oldSecret).AppendSignature(sig, "msg_1", now.Unix(), []byte("{}"))
	if string(sig) != both {
		t.Errorf("Signer rotation header = %q, want %q", sig, both)
	}

	// A proxy may split the list over several header lines.
	h := headers("msg_1", now.Unix(), "v1,"+strings.Repeat("A", 43)+"=")
	h.Add(webhook.HeaderSignature, oldSig)
	if err := mustVerifier(t, oldSecret).VerifyAt(h, []byte("{}"), now); err != nil {
		t.Errorf("signature in second header line: %v", err)
	}
}

func TestVerifyRejectsWrongSecret(t *testing.T) {
	other, _ := webhook.NewSecret()
	v := mustVerifier(t, other)
	err := v.VerifyAt(headers(specID, specTimestamp, specSignature), []byte(specBody), specTime)
	wantErr(t, err, webhook.ErrNoMatchingSignature)
}

func TestVerifyRejectsTamperedRequest(t *testing.T) {
	v := mustVerifier(t, specSecret)
	for _, tc := range []struct {
		name string
		id   string
		ts   int64
		body string
		sig  string
	}{
		{"body", specID, specTimestamp, `{"test": 2432232315}`, specSignature},
		{"body with trailing newline", specID, specTimestamp, specBody + "\n", specSignature},
		{"id", "msg_other", specTimestamp, specBody, specSignature},
		{"timestamp", specID, specTimestamp + 1, specBody, specSignature},
		{"signature", specID, specTimestamp, specBody, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF="},
		{"signature truncated", specID, specTimestamp, specBody, specSignature[:len(specSignature)-2]},
		{"signature relabelled as ed25519", specID, specTimestamp, specBody, "v1a," + specSignature[3:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.VerifyAt(headers(tc.id, tc.ts, tc.sig), []byte(tc.body), specTime)
			wantErr(t, err, webhook.ErrNoMatchingSignature)
		})
	}
}

func TestVerifyEnforcesTimestampToleranceBothWays(t *testing.T) {
	secret, _ := webhook.NewSecret()
	signedAt := time.Unix(1_700_000_000, 0)
	sig := mustSign(t, secret, "msg_1", signedAt, "{}")
	h := headers("msg_1", signedAt.Unix(), sig)
	v := mustVerifier(t, secret)

	for _, tc := range []struct {
		name string
		now  time.Time
		want error
	}{
		{"just received", signedAt, nil},
		{"exactly the tolerance late", signedAt.Add(webhook.DefaultTolerance), nil},
		{"a second too late", signedAt.Add(webhook.DefaultTolerance + time.Second), webhook.ErrTimestampTooOld},
		{"a day too late", signedAt.Add(24 * time.Hour), webhook.ErrTimestampTooOld},
		{"exactly the tolerance early", signedAt.Add(-webhook.DefaultTolerance), nil},
		{"a second too early", signedAt.Add(-webhook.DefaultTolerance - time.Second), webhook.ErrTimestampTooNew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.VerifyAt(h, []byte("{}"), tc.now)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("VerifyAt: %v", err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}

	// Verify uses the clock: a request signed long ago is stale now.
	wantErr(t, v.Verify(h, []byte("{}")), webhook.ErrTimestampTooOld)

	// Timestamps that would overflow a time.Duration are rejected, not wrapped.
	for _, ts := range []int64{-1 << 62, 1 << 62} {
		h := headers("msg_1", ts, mustSign(t, secret, "msg_1", time.Unix(ts, 0), "{}"))
		if err := v.VerifyAt(h, []byte("{}"), signedAt); err == nil {
			t.Errorf("timestamp %d accepted", ts)
		}
	}
}

func TestWithToleranceWidensWindowWithoutChangingOriginal(t *testing.T) {
	secret, _ := webhook.NewSecret()
	signedAt := time.Unix(1_700_000_000, 0)
	h := headers("msg_1", signedAt.Unix(), mustSign(t, secret, "msg_1", signedAt, "{}"))
	v := mustVerifier(t, secret)
	wide := v.WithTolerance(10 * time.Minute)

	late := signedAt.Add(8 * time.Minute)
	if err := wide.VerifyAt(h, []byte("{}"), late); err != nil {
		t.Errorf("wide verifier, 8 minutes late: %v", err)
	}
	wantErr(t, wide.VerifyAt(h, []byte("{}"), signedAt.Add(11*time.Minute)), webhook.ErrTimestampTooOld)
	wantErr(t, v.VerifyAt(h, []byte("{}"), late), webhook.ErrTimestampTooOld)

	// Zero or negative tolerances mean the default rather than "exact".
	if err := v.WithTolerance(0).VerifyAt(h, []byte("{}"), signedAt.Add(4*time.Minute)); err != nil {
		t.Errorf("WithTolerance(0), 4 minutes late: %v", err)
	}
}

func TestVerifyReportsMissingHeaders(t *testing.T) {
	v := mustVerifier(t, specSecret)
	for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		t.Run("without "+name, func(t *testing.T) {
			h := headers(specID, specTimestamp, specSignature)
			h.Del(name)
			err := v.VerifyAt(h, []byte(specBody), specTime)
			wantErr(t, err, webhook.ErrMissingHeaders)
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name %s", err, name)
			}
		})
		t.Run("with empty "+name, func(t *testing.T) {
			h := headers(specID, specTimestamp, specSignature)
			h.Set(name, " ")
			wantErr(t, v.VerifyAt(h, []byte(specBody), specTime), webhook.ErrMissingHeaders)
		})
	}
	wantErr(t, v.VerifyAt(http.Header{}, []byte(specBody), specTime), webhook.ErrMissingHeaders)
	wantErr(t, v.VerifyAt(nil, []byte(specBody), specTime), webhook.ErrMissingHeaders)
}

func TestVerifyRejectsMalformedTimestamp(t *testing.T) {
	v := mustVerifier(t, specSecret)
	for _, ts := range []string{"yesterday", "1614265330.5", "2021-02-25T15:02:10Z"} {
		h := headers(specID, specTimestamp, specSignature)
		h.Set(webhook.HeaderTimestamp, ts)
		wantErr(t, v.VerifyAt(h, []byte(specBody), specTime), webhook.ErrInvalidTimestamp)
	}
}

func TestVerifyReadsHeadersBuiltAsLowercaseMapLiteral(t *testing.T) {
	v := mustVerifier(t, specSecret)
	h := http.Header{
		"webhook-id":        {specID},
		"webhook-timestamp": {strconv.Itoa(specTimestamp)},
		"webhook-signature": {specSignature},
	}
	if err := v.VerifyAt(h, []byte(specBody), specTime); err != nil {
		t.Fatalf("VerifyAt: %v", err)
	}
}

func TestVerifyIgnoresEntriesOfUnknownVersions(t *testing.T) {
	v := mustVerifier(t, specSecret)
	for _, sig := range []string{
		"v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= " + specSignature,
		specSignature + " v1b,whatever",
		"nonsense " + specSignature,
		"v1a,not-base64 " + specSignature,
		"  " + specSignature + "  ",
	} {
		if err := v.VerifyAt(headers(specID, specTimestamp, sig), []byte(specBody), specTime); err != nil {
			t.Errorf("%q: %v", sig, err)
		}
	}
	// The right MAC under an unknown version is not accepted as v1.
	for _, sig := range []string{
		"v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		"V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		"g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	} {
		wantErr(t, v.VerifyAt(headers(specID, specTimestamp, sig), []byte(specBody), specTime), webhook.ErrNoMatchingSignature)
	}
}

func TestEd25519SignaturesRoundTrip(t *testing.T) {
	pub, priv, err := webhook.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pub, "whpk_") || !strings.HasPrefix(priv, "whsk_") {
		t.Fatalf("NewKeyPair = %q, %q; want whpk_/whsk_ prefixes", pub, priv)
	}
	pk, err := webhook.ParsePublicKey(pub)
	if err != nil || len(pk) != ed25519.PublicKeySize {
		t.Fatalf("ParsePublicKey: %v", err)
	}
	sk, err := webhook.ParsePrivateKey(priv)
	if err != nil || len(sk) != ed25519.PrivateKeySize {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	if !sk.Public().(ed25519.PublicKey).Equal(pk) {
		t.Fatal("public key does not belong to private key")
	}

	now := time.Now()
	body := `{"type":"verification.approved"}`
	sig, err := webhook.SignEd25519(priv, "msg_1", now, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig, "v1a,") {
		t.Fatalf("SignEd25519 = %q, want v1a, prefix", sig)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1a,"))
	if err != nil || !ed25519.Verify(pk, []byte("msg_1."+strconv.FormatInt(now.Unix(), 10)+"."+body), raw) {
		t.Fatalf("signature does not cover id.timestamp.body: %v", err)
	}
	if got := string(webhook.AppendSignatureEd25519([]byte("x"), sk, "msg_1", now.Unix(), []byte(body))); got != "x"+sig {
		t.Errorf("AppendSignatureEd25519 = %q, want %q", got, "x"+sig)
	}

	hmacSecret, _ := webhook.NewSecret()
	h := headers("msg_1", now.Unix(), sig)
	if err := mustVerifier(t, pub).VerifyAt(h, []byte(body), now); err != nil {
		t.Errorf("public key verifier: %v", err)
	}
	if err := mustVerifier(t, hmacSecret, pub).VerifyAt(h, []byte(body), now); err != nil {
		t.Errorf("mixed verifier: %v", err)
	}
	mixed := headers("msg_1", now.Unix(), mustSign(t, hmacSecret, "msg_1", now, body)+" "+sig)
	if err := mustVerifier(t, pub).VerifyAt(mixed, []byte(body), now); err != nil {
		t.Errorf("public key verifier, header with v1 and v1a: %v", err)
	}
	if err := mustVerifier(t, hmacSecret).VerifyAt(mixed, []byte(body), now); err != nil {
		t.Errorf("HMAC verifier, header with v1 and v1a: %v", err)
	}

	wantErr(t, mustVerifier(t, pub).VerifyAt(h, []byte(body+" "), now), webhook.ErrNoMatchingSignature)
	otherPub, _, _ := webhook.NewKeyPair()
	wantErr(t, mustVerifier(t, otherPub).VerifyAt(h, []byte(body), now), webhook.ErrNoMatchingSignature)
	wantErr(t, mustVerifier(t, hmacSecret).VerifyAt(h, []byte(body), now), webhook.ErrNoMatchingSignature)
}

func TestMalformedSecretsAndKeysAreRejected(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_not base64!", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"} {
		if _, err := webhook.ParseSecret(s); !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Errorf("ParseSecret(%q) error = %v, want ErrInvalidSecret", s, err)
		}
		if _, err := webhook.NewVerifier(s); !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Errorf("NewVerifier(%q) error = %v, want ErrInvalidSecret", s, err)
		}
		if _, err := webhook.Sign(s, "msg", time.Now(), nil); !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Errorf("Sign(%q) error = %v, want ErrInvalidSecret", s, err)
		}
		if _, err := webhook.NewSigner(s); !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Errorf("NewSigner(%q) error = %v, want ErrInvalidSecret", s, err)
		}
	}
	_, err := webhook.NewVerifier()
	wantErr(t, err, webhook.ErrInvalidSecret)

	pub, priv, _ := webhook.NewKeyPair()
	_, err = webhook.NewVerifier(priv)
	wantErr(t, err, webhook.ErrInvalidSecret)
	_, err = webhook.NewVerifier(specSecret, "whpk_c2hvcnQ=")
	wantErr(t, err, webhook.ErrInvalidSecret)
	_, err = webhook.ParsePublicKey(priv)
	wantErr(t, err, webhook.ErrInvalidSecret)
	_, err = webhook.ParsePrivateKey(pub)
	wantErr(t, err, webhook.ErrInvalidSecret)
	_, err = webhook.SignEd25519(pub, "msg", time.Now(), nil)
	wantErr(t, err, webhook.ErrInvalidSecret)

	// A private key whose public half belongs to another key.
	sk, _ := webhook.ParsePrivateKey(priv)
	otherPub, _, _ := webhook.NewKeyPair()
	opk, _ := webhook.ParsePublicKey(otherPub)
	bad := append(append([]byte{}, sk.Seed()...), opk...)
	_, err = webhook.ParsePrivateKey("whsk_" + base64.StdEncoding.EncodeToString(bad))
	wantErr(t, err, webhook.ErrInvalidSecret)
}

func TestNewSecretReturnsDistinctPrefixed24ByteKeys(t *testing.T) {
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := webhook.NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	if !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secret %q lacks whsec_ prefix", a)
	}
	key, err := webhook.ParseSecret(a)
	if err != nil || len(key) != 24 {
		t.Fatalf("ParseSecret(NewSecret()) = %d bytes, %v; want 24", len(key), err)
	}
}

func mustSigner(t testing.TB, secret string) *webhook.Signer {
	t.Helper()
	s, err := webhook.NewSigner(secret)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

func TestSignerProducesSpecificationTestVector(t *testing.T) {
	for _, secret := range []string{specSecret, strings.TrimPrefix(specSecret, "whsec_"), " " + specSecret + "\n"} {
		s := mustSigner(t, secret)
		if got := string(s.AppendSignature(nil, specID, specTimestamp, []byte(specBody))); got != specSignature {
			t.Errorf("NewSigner(%q).AppendSignature = %q, want %q", secret, got, specSignature)
		}
		got := s.AppendSignature([]byte("existing "), specID, specTimestamp, []byte(specBody))
		if want := "existing " + specSignature; string(got) != want {
			t.Errorf("NewSigner(%q).AppendSignature with prefix = %q, want %q", secret, got, want)
		}
	}

	// NewSignerKey keeps its own copy of the key.
	key, _ := webhook.ParseSecret(specSecret)
	s := webhook.NewSignerKey(key)
	clear(key)
	if got := string(s.AppendSignature(nil, specID, specTimestamp, []byte(specBody))); got != specSignature {
		t.Errorf("NewSignerKey after the caller cleared its key = %q, want %q", got, specSignature)
	}
}

// A Signer reuses crypto/hmac states; it must sign exactly as AppendSignature
// does for keys shorter than, equal to and longer than SHA-256's block size,
// however often it is used.
func TestSignerAgreesWithAppendSignature(t *testing.T) {
	for _, keyLen := range []int{0, 1, 24, 32, 63, 64, 65, 128, 300} {
		key := bytes.Repeat([]byte{byte(keyLen), 0xa5}, keyLen)[:keyLen]
		s := webhook.NewSignerKey(key)
		for _, bodyLen := range []int{0, 1, 55, 64, 1000} {
			body := bytes.Repeat([]byte("x"), bodyLen)
			checkSignerAgrees(t, s, key, "msg_"+strconv.Itoa(bodyLen), int64(keyLen)*1e6, body)
		}
		// An id longer than the pooled scratch buffer, then short ones again.
		checkSignerAgrees(t, s, key, strings.Repeat("i", 10_000), 1, []byte("b"))
		checkSignerAgrees(t, s, key, "msg", -5, []byte("b"))
		checkSignerAgrees(t, s, key, "", 0, nil)
	}
}

func FuzzSignerAgreesWithAppendSignature(f *testing.F) {
	f.Add([]byte("key"), "msg_1", int64(specTimestamp), []byte(specBody))
	f.Add(bytes.Repeat([]byte{1}, 65), "", int64(0), []byte(nil))
	f.Fuzz(func(t *testing.T, key []byte, id string, ts int64, body []byte) {
		s := webhook.NewSignerKey(key)
		checkSignerAgrees(t, s, key, id, ts, body)
		checkSignerAgrees(t, s, key, id, ts, body) // with a reused state
	})
}

func checkSignerAgrees(t *testing.T, s *webhook.Signer, key []byte, id string, ts int64, body []byte) {
	t.Helper()
	want := string(webhook.AppendSignature([]byte("p "), key, id, ts, body))
	if got := string(s.AppendSignature([]byte("p "), id, ts, body)); got != want {
		t.Errorf("key %d bytes, id %d bytes, ts %d, body %d bytes: Signer.AppendSignature = %q, want %q",
			len(key), len(id), ts, len(body), got, want)
	}
}

func TestSignerIsSafeForConcurrentUse(t *testing.T) {
	secret, _ := webhook.NewSecret()
	key, _ := webhook.ParseSecret(secret)
	s := mustSigner(t, secret)

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst []byte
			for i := range 200 {
				id := fmt.Sprintf("msg_%d_%d", g, i)
				ts := int64(1_700_000_000 + g*1000 + i)
				body := bytes.Repeat([]byte{byte('a' + g)}, i)
				dst = s.AppendSignature(dst[:0], id, ts, body)
				if want := webhook.AppendSignature(nil, key, id, ts, body); !bytes.Equal(dst, want) {
					t.Errorf("%s: Signer.AppendSignature = %q, want %q", id, dst, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestSignerDoesNotPrintSecret(t *testing.T) {
	s := mustSigner(t, specSecret)
	key, _ := webhook.ParseSecret(specSecret)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		if strings.Contains(out, "MfKQ9r8G") || strings.Contains(out, fmt.Sprint(key[:4])) || strings.Contains(out, fmt.Sprintf("%x", key[:4])) {
			t.Errorf("%s prints the secret: %s", format, out)
		}
	}
}

func TestHeraldSignatureVerifiesWithOfficialLibrary(t *testing.T) {
	secret, _ := webhook.NewSecret()
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"verification.approved"}`)

	official, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := headers("msg_1", now.Unix(), mustSign(t, secret, "msg_1", now, string(body)))
	if err := official.Verify(body, h); err != nil {
		t.Fatalf("official library rejects Herald's signature: %v", err)
	}

	// Including a rotation header that also carries an ed25519 entry.
	other, _ := webhook.NewSecret()
	_, priv, _ := webhook.NewKeyPair()
	sk, _ := webhook.ParsePrivateKey(priv)
	otherKey, _ := webhook.ParseSecret(other)
	key, _ := webhook.ParseSecret(secret)
	sig := webhook.AppendSignatureEd25519(nil, sk, "msg_1", now.Unix(), body)
	sig = append(sig, ' ')
	sig = webhook.AppendSignature(sig, otherKey, "msg_1", now.Unix(), body)
	sig = append(sig, ' ')
	sig = webhook.AppendSignature(sig, key, "msg_1", now.Unix(), body)
	if err := official.Verify(body, headers("msg_1", now.Unix(), string(sig))); err != nil {
		t.Fatalf("official library rejects Herald's rotation header %q: %v", sig, err)
	}
	sig = mustSigner(t, secret).AppendSignature(nil, "msg_1", now.Unix(), body)
	if err := official.Verify(body, headers("msg_1", now.Unix(), string(sig))); err != nil {
		t.Fatalf("official library rejects Signer's header %q: %v", sig, err)
	}

	// And the spec vector, without the tolerance check.
	spec, _ := standardwebhooks.NewWebhook(specSecret)
	if err := spec.VerifyIgnoringTimestamp([]byte(specBody), headers(specID, specTimestamp, mustSign(t, specSecret, specID, specTime, specBody))); err != nil {
		t.Fatalf("official library rejects Herald's spec vector: %v", err)
	}
}

func TestOfficialLibrarySignatureVerifiesWithHerald(t *testing.T) {
	secret, _ := webhook.NewSecret()
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"verification.approved"}`)

	for _, form := range []string{secret, strings.TrimPrefix(secret, "whsec_")} {
		official, err := standardwebhooks.NewWebhook(form)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := official.Sign("msg_1", now, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set(standardwebhooks.HeaderWebhookID, "msg_1")
		h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(standardwebhooks.HeaderWebhookSignature, sig)
		if err := mustVerifier(t, secret).Verify(h, body); err != nil {
			t.Fatalf("Herald rejects official signature %q: %v", sig, err)
		}
		if err := mustVerifier(t, form).Verify(h, body); err != nil {
			t.Fatalf("Herald, secret %q, rejects official signature: %v", form, err)
		}
	}
}

func TestParseVerifiesBeforeDecodingEnvelope(t *testing.T) {
	secret, _ := webhook.NewSecret()
	v := mustVerifier(t, secret)
	now := time.Now()
	body := `{"id":"evt_1","type":"verification.approved","timestamp":"2025-01-02T03:04:05Z",` +
		`"environment":"sandbox","tenant_id":"ten_1","job":{"id":"job_1","kind":"kyc","partner_params":{"ref":"abc"}},` +
		`"final":true,"test":true,"data":{"score":1},"new_field":"ignored"}`

	ev, err := v.Parse(headers("msg_1", now.Unix(), mustSign(t, secret, "msg_1", now, body)), []byte(body))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := webhook.Event{
		ID: "evt_1", Type: "verification.approved", Timestamp: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Environment: "sandbox", TenantID: "ten_1", Final: true, Test: true,
	}
	if ev.ID != want.ID || ev.Type != want.Type || !ev.Timestamp.Equal(want.Timestamp) || ev.Environment != want.Environment ||
		ev.TenantID != want.TenantID || ev.Final != want.Final || ev.Test != want.Test || string(ev.Data) != `{"score":1}` {
		t.Errorf("Parse = %+v, want %+v with data {\"score\":1}", ev, want)
	}
	if ev.Job == nil || ev.Job.ID != "job_1" || ev.Job.Kind != "kyc" || string(ev.Job.PartnerParams) != `{"ref":"abc"}` {
		t.Errorf("Parse job = %+v", ev.Job)
	}

	// A forged envelope is never decoded.
	_, err = v.Parse(headers("msg_1", now.Unix(), mustSign(t, secret, "msg_1", now, body)), []byte(strings.Replace(body, "sandbox", "production", 1)))
	wantErr(t, err, webhook.ErrNoMatchingSignature)

	// A signed body that is not an envelope fails to decode.
	_, err = v.Parse(headers("msg_1", now.Unix(), mustSign(t, secret, "msg_1", now, "not json")), []byte("not json"))
	if err == nil || errors.Is(err, webhook.ErrNoMatchingSignature) {
		t.Errorf("Parse of signed non-JSON = %v, want a decode error", err)
	}
}

func TestParseRequestVerifiesAndDecodesBody(t *testing.T) {
	secret, _ := webhook.NewSecret()
	v := mustVerifier(t, secret)
	now := time.Now()
	body := `{"id":"evt_1","type":"verification.approved","timestamp":"2025-01-02T03:04:05Z"}`

	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
	r.Header = headers("msg_1", now.Unix(), mustSign(t, secret, "msg_1", now, body))
	ev, err := v.ParseRequest(r)
	if err != nil {
		t.Fatalf("ParseRequest: %v", err)
	}
	if ev.ID != "evt_1" || ev.Type != "verification.approved" || ev.Job != nil {
		t.Errorf("ParseRequest = %+v", ev)
	}

	r = httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body+" "))
	r.Header = headers("msg_1", now.Unix(), mustSign(t, secret, "msg_1", now, body))
	_, err = v.ParseRequest(r)
	wantErr(t, err, webhook.ErrNoMatchingSignature)
}

type unreadable struct{ t *testing.T }

func (u unreadable) Read([]byte) (int, error) {
	u.t.Error("body read although headers already disqualify the request")
	return 0, io.EOF
}

func TestParseRequestRejectsStaleOrUnsignedRequestsWithoutReadingBody(t *testing.T) {
	secret, _ := webhook.NewSecret()
	v := mustVerifier(t, secret)
	old := time.Now().Add(-time.Hour)

	r := httptest.NewRequest(http.MethodPost, "/hook", unreadable{t})
	r.Header = headers("msg_1", old.Unix(), mustSign(t, secret, "msg_1", old, "{}"))
	_, err := v.ParseRequest(r)
	wantErr(t, err, webhook.ErrTimestampTooOld)

	r = httptest.NewRequest(http.MethodPost, "/hook", unreadable{t})
	_, err = v.ParseRequest(r)
	wantErr(t, err, webhook.ErrMissingHeaders)
}

func TestParseRequestRejectsBodyOverLimit(t *testing.T) {
	secret, _ := webhook.NewSecret()
	v := mustVerifier(t, secret)
	now := time.Now()
	body := `{"id":"evt_1","data":"` + strings.Repeat("x", webhook.MaxBodySize) + `"}`
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
	r.Header = headers("msg_1", now.Unix(), mustSign(t, secret, "msg_1", now, body))
	_, err := v.ParseRequest(r)
	wantErr(t, err, webhook.ErrBodyTooLarge)
}

func TestVerifierDoesNotPrintSecrets(t *testing.T) {
	v := mustVerifier(t, specSecret)
	key, _ := webhook.ParseSecret(specSecret)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, v)
		if strings.Contains(out, "MfKQ9r8G") || strings.Contains(out, fmt.Sprint(key[:4])) || strings.Contains(out, fmt.Sprintf("%x", key[:4])) {
			t.Errorf("%s prints the secret: %s", format, out)
		}
	}
}

func TestVerifierIsSafeForConcurrentUse(t *testing.T) {
	oldSecret, _ := webhook.NewSecret()
	newSecret, _ := webhook.NewSecret()
	pub, priv, _ := webhook.NewKeyPair()
	v := mustVerifier(t, oldSecret, newSecret, pub)
	now := time.Now()

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := fmt.Sprintf("msg_%d_%d", g, i)
				body := []byte(fmt.Sprintf(`{"n":%d}`, i))
				secret := oldSecret
				if i%2 == 0 {
					secret = newSecret
				}
				sig, err := webhook.Sign(secret, id, now, body)
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					sig, _ = webhook.SignEd25519(priv, id, now, body)
				}
				if err := v.VerifyAt(headers(id, now.Unix(), sig), body, now); err != nil {
					t.Errorf("%s: %v", id, err)
				}
				if err := v.VerifyAt(headers(id, now.Unix(), sig), append(body, ' '), now); !errors.Is(err, webhook.ErrNoMatchingSignature) {
					t.Errorf("%s tampered: %v", id, err)
				}
			}
		}()
	}
	wg.Wait()
}

func TestSignerDoesNotAllocateIntoBufferWithCapacity(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so allocations are not meaningful")
	}
	s := mustSigner(t, specSecret)
	body := []byte(specBody)
	dst := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(1000, func() {
		dst = s.AppendSignature(dst[:0], specID, specTimestamp, body)
	})
	if allocs != 0 {
		t.Errorf("Signer.AppendSignature allocates %v times per call, want 0", allocs)
	}
	if string(dst) != specSignature {
		t.Errorf("Signer.AppendSignature = %q, want %q", dst, specSignature)
	}
}

func BenchmarkAppendSignature(b *testing.B) {
	secret, _ := webhook.NewSecret()
	key, _ := webhook.ParseSecret(secret)
	body := bytes.Repeat([]byte(`{"k":"v"}`), 100)
	dst := make([]byte, 0, 128)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		dst = webhook.AppendSignature(dst[:0], key, "msg_2Kq3x9ZtY7bW", 1_700_000_000, body)
	}
}

func BenchmarkSignerAppendSignature(b *testing.B) {
	secret, _ := webhook.NewSecret()
	s := mustSigner(b, secret)
	body := bytes.Repeat([]byte(`{"k":"v"}`), 100)
	dst := make([]byte, 0, 128)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		dst = s.AppendSignature(dst[:0], "msg_2Kq3x9ZtY7bW", 1_700_000_000, body)
	}
}

func BenchmarkVerify(b *testing.B) {
	secret, _ := webhook.NewSecret()
	v := mustVerifier(b, secret)
	body := bytes.Repeat([]byte(`{"k":"v"}`), 100)
	now := time.Now()
	h := headers("msg_1", now.Unix(), mustSign(b, secret, "msg_1", now, string(body)))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := v.VerifyAt(h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}
