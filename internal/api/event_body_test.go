package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// huma's own handling of a single publish's body, as the route had it
// before it decoded the body itself: a Body of EventInput, checked by huma.
func humaReference() http.Handler {
	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("reference", "1")
	cfg.CreateHooks = nil
	h := humago.New(mux, cfg)
	type input struct {
		api.ScopeHeaders
		IdempotencyKey string `header:"Idempotency-Key" maxLength:"255"`
		Body           api.EventInput
	}
	huma.Register(h, huma.Operation{OperationID: "publish-event", Method: http.MethodPost, Path: "/v1/events", DefaultStatus: http.StatusAccepted},
		func(context.Context, *input) (*struct{}, error) { return nil, nil })
	return mux
}

// TestSinglePublishRefusesBadBodiesAsHumaDid sends bad bodies, with bad
// content types and a bad header beside them, to the single publish route
// and to huma's handling of the Body the route had: every answer is the
// same, status and problem details, and a body huma takes gets past it.
func TestSinglePublishRefusesBadBodiesAsHumaDid(t *testing.T) {
	herald, reference := servertest.Handler(t), humaReference()
	call := func(h http.Handler, contentType, key string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+servertest.Token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		req.Header.Set("Herald-Tenant", "acme")
		req.Header.Set("Herald-Environment", "sandbox")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	tenant := httptest.NewRequest(http.MethodPost, "/v1/tenants", strings.NewReader(`{"id":"acme","name":"Acme"}`))
	tenant.Header.Set("Authorization", "Bearer "+servertest.Token)
	tenant.Header.Set("Content-Type", "application/json")
	created := httptest.NewRecorder()
	if herald.ServeHTTP(created, tenant); created.Code != http.StatusCreated {
		t.Fatalf("create the tenant: %d %s", created.Code, created.Body)
	}
	bodies := []string{
		``, `{`, `null`, `[]`, `"x"`, `{}`, `{"type":"a.b"}`, `{"data":{"n":1e3,"m":1.50,"k":12345678901234567890}}`,
		`{"type":5,"data":{}}`, `{"type":"","data":{}}`, `{"type":"` + strings.Repeat("a", 129) + `","data":{}}`,
		`{"type":"a.b","data":{},"extra":1.0}`, `{"type":"a.b","data":{"n":1e400}}`, `{"type":"a.b","data":{"n":-1e-400}}`,
		`{"type":"a.b","data":{}} x`, `{"type":"a.b","data":{}}{}`, `{"type":"a.b","data":{},"job":{"kind":"k"}}`,
		`{"type":"a.b","data":{},"job":{"id":""}}`, `{"type":"a.b","data":{},"job":{"id":"j","partner_params":{"n":2E2}}}`,
		`{"type":"a.b","data":{},"final":"yes"}`, `{"type":"a.b","data":{},"final":1e0}`, `{"type":"a.b","DATA":{"n":1}}`,
		`{"type":"a.b","data":{"x":1},"Data":{"y":2}}`, `{"type":"a.b","data":[1,2.5e1]}`, `{"type":"a.b","data":{"\u0000":"\ud800"}}`,
		`{"type":"a.b","data":{"n":` + strings.Repeat("9", 400) + `}}`, `{"Type":"a.b","data":{}}`,
		`{"type":"a.b","data":{}}`, `{"type":"a.b","data":{"n":1e3},"job":{"id":"j"},"final":true}`,
	}
	for _, contentType := range []string{"application/json", "", "application/json; charset=utf-8", "application/problem+json", "text/plain"} {
		for _, key := range []string{"", strings.Repeat("k", 256)} {
			for _, body := range bodies {
				got, want := call(herald, contentType, key, []byte(body)), call(reference, contentType, key, []byte(body))
				if want.Code == http.StatusAccepted {
					// Herald's own rules may refuse what huma took (data
					// that is not an object), not huma's check.
					if got.Code != http.StatusAccepted && (got.Code != http.StatusUnprocessableEntity || strings.Contains(got.Body.String(), "validation failed")) {
						t.Errorf("%q (%s, key of %d): huma took it, the route answered %d %s", body, contentType, len(key), got.Code, got.Body)
					}
					continue
				}
				var g, w any
				if got.Code != want.Code || json.Unmarshal(got.Body.Bytes(), &g) != nil || json.Unmarshal(want.Body.Bytes(), &w) != nil || !reflect.DeepEqual(g, w) {
					t.Errorf("%q (%s, key of %d):\n route %d %s\n huma  %d %s", body, contentType, len(key), got.Code, got.Body, want.Code, want.Body)
				}
			}
		}
	}
}

// TestSinglePublishChecksDataNumbersAsWritten proves the schema check of a
// single publish sees the data's numbers as written, not rounded to a
// float64: 2^53 + 1 is over a maximum of 2^53 (as a float64 it is 2^53),
// and 0.07 is a multiple of 0.01.
func TestSinglePublishChecksDataNumbersAsWritten(t *testing.T) {
	h := servertest.Start(t)
	ctx := t.Context()
	h.Tenant("acme")
	servertest.Must(h.Client.PutEventType(ctx, "check.scored", &client.EventTypePut{
		Schema: json.RawMessage(`{"type": "object", "properties": {
			"count": {"type": "integer", "maximum": 9007199254740992}, "score": {"multipleOf": 0.01}}}`),
	}))(t)
	sc := h.As("acme", "sandbox")
	_, err := sc.Publish(ctx, &client.PublishEvent{Type: "check.scored", Data: json.RawMessage(`{"count": 9007199254740993}`)})
	if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); len(e.Errors) == 0 || e.Errors[0].Location != "body.data.count" {
		t.Fatalf("problem = %+v", e)
	}
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.scored", Data: json.RawMessage(`{"count": 9007199254740992, "score": 0.07}`)})
}
