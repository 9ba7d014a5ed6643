package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/webhook"
)

// apiKey issues a key for a tenant's environment, as the operator.
func (h *herald) apiKey(tenant, env string) string {
	h.t.Helper()
	var k struct {
		Key    string `json:"key"`
		Prefix string `json:"prefix"`
	}
	h.must(http.StatusCreated, call{method: "POST", path: "/v1/tenants/" + tenant + "/api-keys", body: map[string]string{"environment": env}}).json(h.t, &k)
	if !strings.HasPrefix(k.Key, "hk_"+env+"_") || !strings.HasPrefix(k.Key, k.Prefix) {
		h.t.Fatalf("key %q prefix %q", k.Key, k.Prefix)
	}
	return k.Key
}

func TestAnAPIKeyScopesEveryCallToItsTenantAndEnvironment(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		h.tenant("acme")
		h.tenant("globex")
		key := h.apiKey("acme", "sandbox")
		// With the key alone: no scope headers.
		var ep createdEndpoint
		h.must(http.StatusCreated, call{method: "POST", path: "/v1/endpoints", token: &key, body: map[string]any{"url": rc.URL}}).json(t, &ep)
		p := h.must(http.StatusAccepted, call{method: "POST", path: "/v1/events", token: &key, body: map[string]any{"type": "a.b", "data": map[string]any{}}})
		var pub published
		p.json(t, &pub)
		rc.next(5 * time.Second)
		// Scope headers cannot widen a key's reach.
		var l struct{ Data []struct{ ID string } }
		h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints", token: &key, tenant: "globex", env: "production"}).json(t, &l)
		if len(l.Data) != 1 || l.Data[0].ID != ep.ID {
			t.Fatalf("with foreign scope headers the key listed %+v", l.Data)
		}
		// The operator sees the same object through the headers.
		h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints/" + ep.ID, tenant: "acme", env: "sandbox"})
		// Operator-only calls are refused to keys.
		h.must(http.StatusForbidden, call{method: "POST", path: "/v1/tenants", token: &key, body: map[string]string{"id": "evil", "name": "x"}})
		h.must(http.StatusForbidden, call{method: "PUT", path: "/v1/event-types/a.b", token: &key, body: map[string]any{}})
		// Keys never travel in the URL.
		r := h.must(http.StatusBadRequest, call{method: "GET", path: "/v1/endpoints?api_key=" + key, token: &key})
		if !strings.Contains(string(r.body), "Authorization header") {
			t.Fatalf("query-string key answer: %s", r.body)
		}
		var keys struct {
			Data []struct {
				Prefix     string     `json:"prefix"`
				LastUsedAt *time.Time `json:"last_used_at"`
			} `json:"data"`
		}
		eventually(t, 5*time.Second, "last use to be recorded", func() bool {
			h.must(http.StatusOK, call{method: "GET", path: "/v1/api-keys", token: &key}).json(t, &keys)
			return len(keys.Data) == 1 && keys.Data[0].LastUsedAt != nil
		})
		if !strings.HasPrefix(key, keys.Data[0].Prefix) || len(keys.Data[0].Prefix) >= len(key)/2 {
			t.Fatalf("listed prefix %q for key %q", keys.Data[0].Prefix, key)
		}
		if strings.Contains(string(h.must(http.StatusOK, call{method: "GET", path: "/v1/api-keys", token: &key}).body), key) {
			t.Fatal("the key list shows the key itself")
		}
	})
}

// The matrix: a key of acme/sandbox calls every route of the API on objects
// of globex/sandbox and of acme/production. It must never see or change
// them: a 404 (never a 403 that confirms they exist), or a 403 for the
// operator's own calls, and lists that never show them.
func TestAKeyCannotReachAnotherScopeOnAnyRoute(t *testing.T) {
	h := startHerald(t)
	rc := newReceiver(t)
	h.tenant("acme")
	h.tenant("globex")
	key := h.apiKey("acme", "sandbox")
	type objects struct{ endpoint, event, delivery, job, key string }
	foreign := map[string]objects{}
	for _, sc := range [][2]string{{"globex", "sandbox"}, {"acme", "production"}} {
		ep := h.endpoint(sc[0], sc[1], map[string]any{"url": rc.URL})
		pub := h.publish(sc[0], sc[1], map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]any{"id": "job-" + sc[0] + sc[1]}})
		var d []deliveryView
		eventually(t, 5*time.Second, "the delivery", func() bool { d = h.deliveries(sc[0], sc[1], ""); return len(d) == 1 })
		var k struct{ ID string }
		h.must(http.StatusCreated, call{method: "POST", path: "/v1/tenants/" + sc[0] + "/api-keys", body: map[string]string{"environment": sc[1]}}).json(t, &k)
		foreign[sc[0]+"/"+sc[1]] = objects{ep.ID, pub.ID, d[0].ID, "job-" + sc[0] + sc[1], k.ID}
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	h.must(http.StatusOK, call{method: "GET", path: "/openapi.json"}).json(t, &doc)
	calls := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			method = strings.ToUpper(method)
			for scope, o := range foreign {
				concrete := path
				switch {
				case strings.HasPrefix(path, "/v1/endpoints/{id}"):
					concrete = strings.Replace(path, "{id}", o.endpoint, 1)
				case strings.HasPrefix(path, "/v1/events/{id}"):
					concrete = strings.Replace(path, "{id}", o.event, 1)
				case strings.HasPrefix(path, "/v1/deliveries/{id}"):
					concrete = strings.Replace(path, "{id}", o.delivery, 1)
				case strings.HasPrefix(path, "/v1/jobs/{id}"):
					concrete = strings.Replace(path, "{id}", o.job, 1)
				case strings.HasPrefix(path, "/v1/api-keys/{id}"):
					concrete = strings.Replace(path, "{id}", o.key, 1)
				case strings.HasPrefix(path, "/v1/tenants/{id}"):
					concrete = strings.Replace(path, "{id}", strings.Split(scope, "/")[0], 1)
				case strings.HasPrefix(path, "/v1/event-types/{name}"):
					concrete = strings.Replace(path, "{name}", "a.b", 1)
				}
				body := map[string]any{}
				if path == "/v1/default-callback" && method == "PUT" {
					body["endpoint_id"] = o.endpoint
				}
				r := h.do(call{method: method, path: concrete, token: &key, body: body})
				calls++
				for _, id := range []string{o.endpoint, o.event, o.delivery, o.job, o.key} {
					// A refusal may name the id it was asked for; an answer
					// that succeeds must not hold another scope's objects.
					if r.status < 300 && strings.Contains(string(r.body), id) {
						t.Errorf("%s %s as acme/sandbox answered %d with %s's object %s: %s", method, concrete, r.status, scope, id, r.body)
					}
				}
				if strings.Contains(path, "{") && !strings.HasPrefix(path, "/v1/event-types") {
					want := http.StatusNotFound
					if strings.HasPrefix(path, "/v1/tenants") {
						want = http.StatusForbidden
					}
					if r.status != want && r.status != http.StatusUnprocessableEntity {
						t.Errorf("%s %s as acme/sandbox on %s: status %d, want %d: %s", method, concrete, scope, r.status, want, r.body)
					}
				}
			}
		}
	}
	if calls < 40 {
		t.Fatalf("only %d calls made; the matrix is not covering the API", calls)
	}
	// And nothing of theirs changed: their endpoints are still active and
	// their keys still work.
	for scope, o := range foreign {
		parts := strings.Split(scope, "/")
		var e struct {
			Status          string `json:"status"`
			DefaultCallback bool   `json:"default_callback"`
		}
		h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints/" + o.endpoint, tenant: parts[0], env: parts[1]}).json(t, &e)
		if e.Status != "active" || e.DefaultCallback {
			t.Fatalf("%s's endpoint was changed: %+v", scope, e)
		}
	}
}

func TestAPerJobCallbackReplacesTheDefaultCallbackOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		def, jobURL, other := newReceiver(t), newReceiver(t), newReceiver(t)
		h.tenant("acme")
		// Without a default callback a job URL could never be signed: refused.
		r := h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox",
			body: map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]any{"id": "j0", "callback_url": jobURL.URL}}})
		if !strings.Contains(string(r.body), "default callback") {
			t.Fatalf("job URL without a default callback: %s", r.body)
		}
		defEP := h.endpoint("acme", "sandbox", map[string]any{"url": def.URL, "default_callback": true, "headers": map[string]string{"X-Team": "kyc"}})
		otherEP := h.endpoint("acme", "sandbox", map[string]any{"url": other.URL})
		def.trust(defEP.Secret)
		jobURL.trust(defEP.Secret) // signed with the default callback's secret
		other.trust(otherEP.Secret)
		params := `{"user_id":"u-123","nested":{"a":[1,2,3]},"unicode":"çé"}`
		body := `{"type":"check.approved","data":{"status":"approved"},"job":{"id":"job_7f3a","callback_url":"` + jobURL.URL + `/job","partner_params":` + params + `}}`
		h.must(http.StatusAccepted, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox", body: body})
		got := jobURL.next(5 * time.Second)
		if got.Valid != nil || got.Header.Get("X-Team") != "kyc" {
			t.Fatalf("job URL delivery: %v, headers %v", got.Valid, got.Header)
		}
		if string(got.Event.Job.PartnerParams) != params {
			t.Fatalf("partner params %s, want byte for byte %s", got.Event.Job.PartnerParams, params)
		}
		if o := other.next(5 * time.Second); o.Valid != nil || o.ID != got.ID {
			t.Fatalf("the other endpoint: %+v", o)
		}
		def.quiet(500 * time.Millisecond)
		// A later event of the job, naming only its id, follows the job.
		h.publish("acme", "sandbox", map[string]any{"type": "check.completed", "final": true, "data": map[string]any{}, "job": map[string]any{"id": "job_7f3a"}})
		later := jobURL.next(5 * time.Second)
		if later.Valid != nil || string(later.Event.Job.PartnerParams) != params {
			t.Fatalf("later event: %v %s", later.Valid, later.Event.Job.PartnerParams)
		}
		other.next(5 * time.Second)
		def.quiet(300 * time.Millisecond)
		// Another job, without a URL, goes to the default callback.
		h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]any{"id": "job_other"}})
		if d := def.next(5 * time.Second); d.Valid != nil {
			t.Fatal(d.Valid)
		}
		// The job URL is checked like any endpoint URL.
		r = h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/events", tenant: "acme", env: "sandbox",
			body: map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]any{"id": "j", "callback_url": "ftp://x"}}})
		if !strings.Contains(string(r.body), "body.job.callback_url") {
			t.Fatalf("bad job URL: %s", r.body)
		}
		// PUT /v1/default-callback moves the role.
		h.must(http.StatusOK, call{method: "PUT", path: "/v1/default-callback", tenant: "acme", env: "sandbox", body: map[string]string{"endpoint_id": otherEP.ID}})
		var dc struct{ ID string }
		h.must(http.StatusOK, call{method: "GET", path: "/v1/default-callback", tenant: "acme", env: "sandbox"}).json(t, &dc)
		if dc.ID != otherEP.ID {
			t.Fatalf("default callback = %s", dc.ID)
		}
	})
}

func TestJobStatusRebuildsAReceiversState(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		h.tenant("acme")
		h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		h.must(http.StatusOK, call{method: "POST", path: "/v1/jobs", tenant: "acme", env: "sandbox",
			body: map[string]any{"id": "job_1", "kind": "kyb", "partner_params": map[string]string{"ref": "r1"}}})
		h.publish("acme", "sandbox", map[string]any{"type": "check.started", "data": map[string]any{"status": "started"}, "job": map[string]any{"id": "job_1"}})
		h.publish("acme", "sandbox", map[string]any{"type": "check.approved", "final": true, "data": map[string]any{"status": "approved"}, "job": map[string]any{"id": "job_1"}})
		h.publish("acme", "sandbox", map[string]any{"type": "check.started", "data": map[string]any{}, "job": map[string]any{"id": "job_2"}})
		rc.next(5 * time.Second)
		rc.next(5 * time.Second)
		rc.next(5 * time.Second)
		var job struct {
			ID            string          `json:"id"`
			Kind          string          `json:"kind"`
			Status        string          `json:"status"`
			Final         bool            `json:"final"`
			PartnerParams json.RawMessage `json:"partner_params"`
			Events        []struct {
				Type       string          `json:"type"`
				Data       json.RawMessage `json:"data"`
				Deliveries []struct {
					Status string `json:"status"`
				} `json:"deliveries"`
			} `json:"events"`
		}
		eventually(t, 5*time.Second, "the job's deliveries to succeed", func() bool {
			h.must(http.StatusOK, call{method: "GET", path: "/v1/jobs/job_1", tenant: "acme", env: "sandbox"}).json(t, &job)
			return len(job.Events) == 2 && len(job.Events[1].Deliveries) == 1 && job.Events[1].Deliveries[0].Status == "succeeded"
		})
		if job.Status != "check.approved" || !job.Final || job.Kind != "kyb" || string(job.PartnerParams) != `{"ref":"r1"}` ||
			job.Events[0].Type != "check.started" || string(job.Events[1].Data) != `{"status":"approved"}` {
			t.Fatalf("job = %+v", job)
		}
		var l struct {
			Data []struct{ ID string } `json:"data"`
		}
		h.must(http.StatusOK, call{method: "GET", path: "/v1/jobs?final=true", tenant: "acme", env: "sandbox"}).json(t, &l)
		if len(l.Data) != 1 || l.Data[0].ID != "job_1" {
			t.Fatalf("final jobs = %+v", l.Data)
		}
		h.must(http.StatusOK, call{method: "GET", path: "/v1/jobs?final=false&updated_since=" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), tenant: "acme", env: "sandbox"}).json(t, &l)
		if len(l.Data) != 1 || l.Data[0].ID != "job_2" {
			t.Fatalf("open jobs = %+v", l.Data)
		}
		h.must(http.StatusNotFound, call{method: "GET", path: "/v1/jobs/job_1", tenant: "acme", env: "production"})
	})
}

func TestSendTestAnswersWithWhatHappenedAndIsLoggedAsATest(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		rc.respond(func(int, *http.Request) int { return http.StatusAccepted })
		h.tenant("acme")
		h.must(http.StatusCreated, call{method: "PUT", path: "/v1/event-types/check.approved", body: map[string]any{
			"schema": map[string]any{"type": "object"}, "example": map[string]any{"status": "approved"},
		}})
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "event_types": []string{"aml.*"}})
		rc.trust(ep.Secret)
		var res struct {
			DeliveryID     string `json:"delivery_id"`
			Status         string `json:"status"`
			ResponseStatus int    `json:"response_status"`
			ResponseBody   string `json:"response_body"`
			LatencyMS      *int64 `json:"latency_ms"`
		}
		h.must(http.StatusOK, call{method: "POST", path: "/v1/endpoints/" + ep.ID + "/test", tenant: "acme", env: "sandbox",
			body: map[string]string{"event_type": "check.approved"}}).json(t, &res)
		if res.Status != "succeeded" || res.ResponseStatus != 202 || res.ResponseBody != `{"received":true}` || res.LatencyMS == nil {
			t.Fatalf("test send = %+v", res)
		}
		got := rc.next(time.Second)
		if got.Valid != nil || !got.Event.Test || string(got.Event.Data) != `{"status":"approved"}` {
			t.Fatalf("received %+v (%v)", got.Event, got.Valid)
		}
		d := h.delivery("acme", "sandbox", res.DeliveryID)
		var raw map[string]any
		h.must(http.StatusOK, call{method: "GET", path: "/v1/deliveries/" + res.DeliveryID, tenant: "acme", env: "sandbox"}).json(t, &raw)
		if d.Status != "succeeded" || raw["test"] != true {
			t.Fatalf("logged test delivery = %v", raw)
		}
		// A type without an example needs data.
		h.must(http.StatusUnprocessableEntity, call{method: "POST", path: "/v1/endpoints/" + ep.ID + "/test", tenant: "acme", env: "sandbox",
			body: map[string]string{"event_type": "no.example"}})
		// A failing receiver: the answer says so.
		rc.respond(func(int, *http.Request) int { return http.StatusInternalServerError })
		h.must(http.StatusOK, call{method: "POST", path: "/v1/endpoints/" + ep.ID + "/test", tenant: "acme", env: "sandbox",
			body: map[string]any{"event_type": "custom.ping", "data": map[string]any{"x": 1}}}).json(t, &res)
		if res.ResponseStatus != 500 || res.Status == "succeeded" {
			t.Fatalf("failed test send = %+v", res)
		}
	})
}

func TestRecoverResendsAnEndpointsFailedDeliveries(t *testing.T) {
	eachStore(t, func(t *testing.T, start starter) {
		h := start()
		rc := newReceiver(t)
		rc.respond(func(int, *http.Request) int { return http.StatusServiceUnavailable })
		h.tenant("acme")
		ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"preset": "none"}})
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		for i := 0; i < 3; i++ {
			h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{"i": i}})
		}
		eventually(t, 5*time.Second, "three failures", func() bool { return len(h.deliveries("acme", "sandbox", "?status=failed")) == 3 })
		for i := 0; i < 3; i++ {
			rc.next(time.Second)
		}
		rc.respond(func(int, *http.Request) int { return http.StatusOK })
		var res struct {
			Recovered int `json:"recovered"`
		}
		h.must(http.StatusAccepted, call{method: "POST", path: "/v1/endpoints/" + ep.ID + "/recover", tenant: "acme", env: "sandbox",
			body: map[string]string{"since": since}}).json(t, &res)
		if res.Recovered != 3 {
			t.Fatalf("recovered %d, want 3", res.Recovered)
		}
		eventually(t, 5*time.Second, "the recovered deliveries to succeed", func() bool {
			return len(h.deliveries("acme", "sandbox", "?status=succeeded")) == 3
		})
	})
}

func TestSecretRotationSignsWithBothSecretsForTheGracePeriod(t *testing.T) {
	h := startHerald(t)
	rc := newReceiver(t)
	h.tenant("acme")
	ep := h.endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
	var rot struct {
		Secret                  string    `json:"secret"`
		PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at"`
	}
	h.must(http.StatusOK, call{method: "POST", path: "/v1/endpoints/" + ep.ID + "/secret/rotate", tenant: "acme", env: "sandbox",
		body: map[string]string{"grace_period": "2s"}}).json(t, &rot)
	if rot.Secret == ep.Secret || !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotated secret %q", rot.Secret)
	}
	oldV, _ := webhook.NewVerifier(ep.Secret)
	newV, _ := webhook.NewVerifier(rot.Secret)
	h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
	got := rc.next(5 * time.Second)
	if n := len(strings.Fields(got.Header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures during the grace period, want 2", n)
	}
	if oldV.Verify(got.Header, got.Body) != nil || newV.Verify(got.Header, got.Body) != nil {
		t.Fatal("during the grace period both secrets must verify")
	}
	time.Sleep(time.Until(rot.PreviousSecretExpiresAt) + 100*time.Millisecond)
	h.publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
	got = rc.next(5 * time.Second)
	if n := len(strings.Fields(got.Header.Get("webhook-signature"))); n != 1 {
		t.Fatalf("%d signatures after the grace period, want 1", n)
	}
	if oldV.Verify(got.Header, got.Body) == nil || newV.Verify(got.Header, got.Body) != nil {
		t.Fatal("after the grace period only the new secret verifies")
	}
}

func TestTheTwoHundredAndFirstRequestInAMinuteIsA429(t *testing.T) {
	h := startHerald(t)
	h.tenant("acme")
	key := h.apiKey("acme", "sandbox")
	// A burst of 200, then 100 a minute: the first refusal comes at the
	// 201st request, plus what refilled while the requests were made.
	var last response
	first := 0
	began := time.Now()
	for i := 1; i <= 260 && first == 0; i++ {
		last = h.do(call{method: "GET", path: "/v1/endpoints", token: &key})
		switch last.status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			first = i
		default:
			t.Fatalf("request %d: status %d: %s", i, last.status, last.body)
		}
	}
	refilled := int(time.Since(began).Seconds()*100/60) + 1
	if first < 201 || first > 201+refilled {
		t.Fatalf("first 429 at request %d, want 201 (+%d refilled)", first, refilled)
	}
	for _, hdr := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		if last.header.Get(hdr) == "" {
			t.Fatalf("429 lacks %s: %v", hdr, last.header)
		}
	}
	if last.header.Get("RateLimit-Limit") != "100" || last.header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("rate limit headers = %v", last.header)
	}
	// The operator is not limited, and another tenant's key has its own budget.
	h.must(http.StatusOK, call{method: "GET", path: "/v1/tenants"})
	h.tenant("globex")
	other := h.apiKey("globex", "sandbox")
	h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints", token: &other})
	// A tenant's own limit applies to its keys.
	h.must(http.StatusOK, call{method: "PATCH", path: "/v1/tenants/globex", body: map[string]int{"rate_limit_per_minute": 60, "rate_limit_burst": 2}})
	h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints", token: &other})
	h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints", token: &other})
	h.must(http.StatusTooManyRequests, call{method: "GET", path: "/v1/endpoints", token: &other})
}

func TestRotatedKeysWorkForTheGracePeriodAndRevokedKeysNotAtAll(t *testing.T) {
	h := startHerald(t)
	h.tenant("acme")
	key := h.apiKey("acme", "sandbox")
	var keys struct {
		Data []struct{ ID string } `json:"data"`
	}
	h.must(http.StatusOK, call{method: "GET", path: "/v1/api-keys", token: &key}).json(t, &keys)
	var next struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	h.must(http.StatusCreated, call{method: "POST", path: fmt.Sprintf("/v1/api-keys/%s/rotate", keys.Data[0].ID), token: &key,
		body: map[string]string{"grace_period": "1s"}}).json(t, &next)
	h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints", token: &key})
	h.must(http.StatusOK, call{method: "GET", path: "/v1/endpoints", token: &next.Key})
	time.Sleep(1100 * time.Millisecond)
	h.must(http.StatusUnauthorized, call{method: "GET", path: "/v1/endpoints", token: &key})
	h.must(http.StatusNoContent, call{method: "DELETE", path: "/v1/api-keys/" + next.ID, token: &next.Key})
	h.must(http.StatusUnauthorized, call{method: "GET", path: "/v1/endpoints", token: &next.Key})
}
