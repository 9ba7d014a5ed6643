package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald/internal/server/servertest"
)

// FuzzPublishBody sends fuzzed bodies to POST /v1/events and
// /v1/events/batch through the real handler (on a real SQLite store):
// every answer is a problem+json refusal of the caller's input or a 202,
// never a 5xx, and a 202 comes only for an event whose data is an object.
func FuzzPublishBody(f *testing.F) {
	for _, seed := range []string{
		`{"type":"a.b","data":{}}`,
		`{"type":"verification.approved","data":{"status":"approved","decision":{"result":"approved"},"reviewed_by":"auto"}}`,
		`{"type":"a.b","data":{"x":[1,2,{"y":null}]},"job":{"id":"j1","kind":"kyc","partner_params":{"u":"1"}},"final":true}`,
		`{"type":"a.b","data":[]}`, `{"type":"a.b","data":"x"}`, `{"type":"","data":{}}`, `{"type":"a.b"}`,
		`{"type":"a.b","data":{},"job":{"id":"j","callback_url":"http://[::1]:9/x"}}`,
		`{"events":[{"type":"a.b","data":{}},{"type":"a.b","data":{},"idempotency_key":"k"}]}`,
		`{"events":[]}`, `{"type":"a.b","data":{"\u0000":"\ud800"}}`, `{"type":"a.b","data":{}}{}`, `null`, ``, `{`,
		`{"type":"a.b","data":{"n":1e400}}`, `{"type":"a.b","data":{"n":-0.0000000000000000000001}}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	h := servertest.Handler(f)
	call := func(t testing.TB, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+servertest.Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Herald-Tenant", "acme")
		req.Header.Set("Herald-Environment", "sandbox")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := call(f, "/v1/tenants", []byte(`{"id":"acme","name":"Acme"}`)); w.Code != http.StatusCreated {
		f.Fatalf("create the tenant: %d %s", w.Code, w.Body)
	}
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		path := "/v1/events"
		if batch {
			path += "/batch"
		}
		w := call(t, path, body)
		switch w.Code {
		case http.StatusAccepted:
			if !batch {
				var in struct{ Data json.RawMessage }
				if err := json.Unmarshal(body, &in); err != nil || len(in.Data) == 0 || in.Data[0] != '{' {
					t.Fatalf("accepted data that is not an object: %q", body)
				}
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%d with Content-Type %q", w.Code, ct)
			}
		default:
			t.Fatalf("%s answered %d to %q: %s", path, w.Code, body, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("the answer is not JSON: %s", w.Body)
		}
	})
}
