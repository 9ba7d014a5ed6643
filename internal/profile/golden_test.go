package profile_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/heraldhq/herald/internal/profile"
)

// The golden fixtures of the profiles spec: for each reference document, a
// Herald event (testdata/golden/<id>.event.json) and the exact body its
// profile renders (<id>.body.json); testdata/doc holds the documents' own
// examples verbatim.
var goldens = []struct {
	id, profile string
	opts        map[string]json.RawMessage
}{
	{"S1", "smile-id", opts(`{"partner_id":"085","api_key":"1b8a4e2c-6d3f-4a7b-9c0e-5f2d8a1b3c4e"}`)},
	{"I1", "incode", nil},
	{"I2", "incode", nil},
	{"K1", "smart-kyc", opts(`{"api_secret":"skyc_5f2b8e1d9c7a4b3e"}`)},
	{"K2", "smart-kyc", opts(`{"api_secret":"skyc_5f2b8e1d9c7a4b3e"}`)},
	{"K3", "smart-kyc", opts(`{"api_secret":"skyc_5f2b8e1d9c7a4b3e"}`)},
	{"D1", "identomat", opts(`{"callback_api_key":"callback-api-key-123"}`)},
	{"D2", "identomat", opts(`{"callback_api_key":"apikey123"}`)},
	{"D3", "identomat", opts(`{"callback_api_key":"apikey123"}`)},
	{"D4", "identomat", opts(`{"callback_api_key":"apikey123"}`)},
	{"D5", "identomat", opts(`{"callback_api_key":"apikey123"}`)},
	{"D6", "identomat", opts(`{"callback_api_key":"apikey123"}`)},
	{"D7", "identomat", opts(`{"callback_api_key":"apikey123"}`)},
	{"D8", "identomat", opts(`{"callback_api_key":"apikey123"}`)},
	{"W1", "idwise", nil},
}

func opts(s string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGet(t testing.TB, name string) *profile.Profile {
	t.Helper()
	p, ok := profile.Get(name)
	if !ok {
		t.Fatalf("no profile %q", name)
	}
	return p
}

func TestEachFixtureRendersTheGoldenBytesAndAgreesWithItsProgram(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.id, func(t *testing.T) {
			p := mustGet(t, g.profile)
			in := envelope(t, read(t, "testdata/golden/"+g.id+".event.json"))
			got := render(t, p, in, g.opts)
			if want := read(t, "testdata/golden/"+g.id+".body.json"); !bytes.Equal(got, want) {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
			if !agree(t, p, in, g.opts) {
				t.Error("the program fails on the fixture")
			}
		})
	}
}

// compact is a document's example with its whitespace removed: the bytes a
// receiver written from the document would see.
func compact(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// insertFirst is what the body-api-key scheme does with position "first".
func insertFirst(body []byte, field, key string) []byte {
	m, _ := json.Marshal(field)
	v, _ := json.Marshal(key)
	out := append([]byte{'{'}, m...)
	out = append(append(append(out, ':'), v...), ',')
	return append(out, body[1:]...)
}

func TestIdentomatBodiesAreTheDocumentsExamplesOnceTheAPIKeyIsPutFirst(t *testing.T) {
	p := mustGet(t, "identomat")
	for _, g := range goldens {
		if g.profile != "identomat" {
			continue
		}
		t.Run(g.id, func(t *testing.T) {
			body := render(t, p, envelope(t, read(t, "testdata/golden/"+g.id+".event.json")), g.opts)
			if bytes.Contains(body, []byte("callbackApiKey")) {
				t.Fatalf("the renderer wrote the key itself: %s", body)
			}
			var key string
			_ = json.Unmarshal(g.opts["callback_api_key"], &key)
			got := insertFirst(body, "callbackApiKey", key)
			if want := compact(t, read(t, "testdata/doc/"+g.id+".json")); !bytes.Equal(got, want) {
				t.Errorf("with the key\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestSmartKYCFirstExampleIsTheDocumentsBytesAndItsHeaderVerifiesWithTheDocumentsCode(t *testing.T) {
	body := render(t, mustGet(t, "smart-kyc"), envelope(t, read(t, "testdata/golden/K1.event.json")), goldens[3].opts)
	if want := compact(t, read(t, "testdata/doc/K1.json")); !bytes.Equal(body, want) || len(body) != 281 {
		t.Fatalf("K1 is %d bytes\n got %s\nwant %s", len(body), body, want)
	}
	// The hmac-sha256-hex scheme with key "text": 002:118's createHmac("sha256", secret).
	mac := hmac.New(sha256.New, []byte("skyc_5f2b8e1d9c7a4b3e"))
	mac.Write(body)
	if got := hex.EncodeToString(mac.Sum(nil)); got != "17da9a7bb21c3463ea3868ca20db0d23fd22c30d0b67326ddc45f5dde61e313b" {
		t.Fatalf("X-SmartKYC-Signature = %s", got)
	}
}

func TestSmileBodyWithItsSignatureIsTheSpecsAndCarriesEveryFieldOfSmilesSample(t *testing.T) {
	body := render(t, mustGet(t, "smile-id"), envelope(t, read(t, "testdata/golden/S1.event.json")), goldens[0].opts)
	// The body-signature scheme appends timestamp and signature:
	// base64(HMAC-SHA256(api_key, timestamp + partner_id + "sid_request")).
	const ts = "2021-05-06T08:48:50.763Z"
	mac := hmac.New(sha256.New, []byte("1b8a4e2c-6d3f-4a7b-9c0e-5f2d8a1b3c4e"))
	mac.Write([]byte(ts + "085" + "sid_request"))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if sig != "gige88hdJYb7etFKoKyEY1f+tUJaBuWYDJX4pCj0Lmk=" {
		t.Fatalf("signature = %s", sig)
	}
	signed := append(body[:len(body)-1:len(body)-1], `,"timestamp":"`+ts+`","signature":"`+sig+`"}`...)
	if want := read(t, "testdata/golden/S1.signed.json"); !bytes.Equal(signed, want) {
		t.Fatalf("signed\n got %s\nwant %s", signed, want)
	}
	containsEveryField(t, read(t, "testdata/doc/S1.json"), body)
}

func TestSmartKYCBodiesCarryEveryFieldOfTheDocumentsExamples(t *testing.T) {
	for _, id := range []string{"K1", "K2", "K3"} {
		body := render(t, mustGet(t, "smart-kyc"), envelope(t, read(t, "testdata/golden/"+id+".event.json")), goldens[3].opts)
		containsEveryField(t, read(t, "testdata/doc/"+id+".json"), body)
	}
}

// containsEveryField checks that every member of the document's example is
// in the body with the example's value, recursively into objects.
func containsEveryField(t testing.TB, example, body []byte) {
	t.Helper()
	var want, got any
	if err := json.Unmarshal(example, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		wm, ok := w.(map[string]any)
		if !ok {
			if wb, gb := mustJSON(w), mustJSON(g); wb != gb {
				t.Errorf("%s = %s, the document has %s", path, gb, wb)
			}
			return
		}
		gm, ok := g.(map[string]any)
		if !ok {
			t.Errorf("%s is not an object", path)
			return
		}
		for k, v := range wm {
			if gv, ok := gm[k]; ok {
				walk(path+"."+k, v, gv)
			} else {
				t.Errorf("%s.%s is missing", path, k)
			}
		}
	}
	walk("", want, got)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
