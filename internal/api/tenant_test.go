package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/server/servertest"

	"github.com/heraldhq/herald/webhook"
)

func TestAnAPIKeyScopesEveryCallToItsTenantAndEnvironment(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		h.Tenant("globex")
		key := h.APIKey("acme", "sandbox")
		// With the key alone: no scope headers.
		var ep servertest.CreatedEndpoint
		h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/endpoints", Token: &key, Body: map[string]any{"url": rc.URL}}).JSON(t, &ep)
		p := h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events", Token: &key, Body: map[string]any{"type": "a.b", "data": map[string]any{}}})
		var pub servertest.Published
		p.JSON(t, &pub)
		rc.Next(5 * time.Second)
		// Scope headers cannot widen a key's reach.
		var l struct{ Data []struct{ ID string } }
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &key, Tenant: "globex", Env: "production"}).JSON(t, &l)
		if len(l.Data) != 1 || l.Data[0].ID != ep.ID {
			t.Fatalf("with foreign scope headers the key listed %+v", l.Data)
		}
		// The operator sees the same object through the headers.
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints/" + ep.ID, Tenant: "acme", Env: "sandbox"})
		// Operator-only calls are refused to keys.
		h.Must(http.StatusForbidden, servertest.Call{Method: "POST", Path: "/v1/tenants", Token: &key, Body: map[string]string{"id": "evil", "name": "x"}})
		h.Must(http.StatusForbidden, servertest.Call{Method: "PUT", Path: "/v1/event-types/a.b", Token: &key, Body: map[string]any{}})
		// Keys never travel in the URL.
		r := h.Must(http.StatusBadRequest, servertest.Call{Method: "GET", Path: "/v1/endpoints?api_key=" + key, Token: &key})
		if !strings.Contains(string(r.Body), "Authorization header") {
			t.Fatalf("query-string key answer: %s", r.Body)
		}
		var keys struct {
			Data []struct {
				Prefix     string     `json:"prefix"`
				LastUsedAt *time.Time `json:"last_used_at"`
			} `json:"data"`
		}
		servertest.Eventually(t, 5*time.Second, "last use to be recorded", func() bool {
			h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/api-keys", Token: &key}).JSON(t, &keys)
			return len(keys.Data) == 1 && keys.Data[0].LastUsedAt != nil
		})
		if !strings.HasPrefix(key, keys.Data[0].Prefix) || len(keys.Data[0].Prefix) >= len(key)/2 {
			t.Fatalf("listed prefix %q for key %q", keys.Data[0].Prefix, key)
		}
		if strings.Contains(string(h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/api-keys", Token: &key}).Body), key) {
			t.Fatal("the key list shows the key itself")
		}
	})
}

// The matrix: a key of acme/sandbox calls every route of the API on objects
// of globex/sandbox and of acme/production. It must never see or change
// them: a 404 (never a 403 that confirms they exist), or a 403 for the
// operator's own calls, and lists that never show them.
func TestAKeyCannotReachAnotherScopeOnAnyRoute(t *testing.T) {
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	h.Tenant("globex")
	key := h.APIKey("acme", "sandbox")
	type objects struct{ endpoint, event, delivery, job, key string }
	foreign := map[string]objects{}
	for _, sc := range [][2]string{{"globex", "sandbox"}, {"acme", "production"}} {
		ep := h.Endpoint(sc[0], sc[1], map[string]any{"url": rc.URL})
		pub := h.Publish(sc[0], sc[1], map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]any{"id": "job-" + sc[0] + sc[1]}})
		var d []servertest.DeliveryView
		servertest.Eventually(t, 5*time.Second, "the delivery", func() bool { d = h.Deliveries(sc[0], sc[1], ""); return len(d) == 1 })
		var k struct{ ID string }
		h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: "/v1/tenants/" + sc[0] + "/api-keys", Body: map[string]string{"environment": sc[1]}}).JSON(t, &k)
		foreign[sc[0]+"/"+sc[1]] = objects{ep.ID, pub.ID, d[0].ID, "job-" + sc[0] + sc[1], k.ID}
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/openapi.json"}).JSON(t, &doc)
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
				r := h.Do(servertest.Call{Method: method, Path: concrete, Token: &key, Body: body})
				calls++
				for _, id := range []string{o.endpoint, o.event, o.delivery, o.job, o.key} {
					// A refusal may name the id it was asked for; an answer
					// that succeeds must not hold another scope's objects.
					if r.Status < 300 && strings.Contains(string(r.Body), id) {
						t.Errorf("%s %s as acme/sandbox answered %d with %s's object %s: %s", method, concrete, r.Status, scope, id, r.Body)
					}
				}
				if strings.Contains(path, "{") && !strings.HasPrefix(path, "/v1/event-types") {
					want := http.StatusNotFound
					if strings.HasPrefix(path, "/v1/tenants") {
						want = http.StatusForbidden
					}
					if r.Status != want && r.Status != http.StatusUnprocessableEntity {
						t.Errorf("%s %s as acme/sandbox on %s: status %d, want %d: %s", method, concrete, scope, r.Status, want, r.Body)
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
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints/" + o.endpoint, Tenant: parts[0], Env: parts[1]}).JSON(t, &e)
		if e.Status != "active" || e.DefaultCallback {
			t.Fatalf("%s's endpoint was changed: %+v", scope, e)
		}
	}
}

func TestAPerJobCallbackReplacesTheDefaultCallbackOnly(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		def, jobURL, other := servertest.NewReceiver(t), servertest.NewReceiver(t), servertest.NewReceiver(t)
		h.Tenant("acme")
		// Without a default callback a job URL could never be signed: refused.
		r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox",
			Body: map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]any{"id": "j0", "callback_url": jobURL.URL}}})
		if !strings.Contains(string(r.Body), "default callback") {
			t.Fatalf("job URL without a default callback: %s", r.Body)
		}
		defEP := h.Endpoint("acme", "sandbox", map[string]any{"url": def.URL, "default_callback": true, "headers": map[string]string{"X-Team": "kyc"}})
		otherEP := h.Endpoint("acme", "sandbox", map[string]any{"url": other.URL})
		def.Trust(defEP.Secret)
		jobURL.Trust(defEP.Secret) // signed with the default callback's secret
		other.Trust(otherEP.Secret)
		params := `{"user_id":"u-123","nested":{"a":[1,2,3]},"unicode":"çé"}`
		body := `{"type":"check.approved","data":{"status":"approved"},"job":{"id":"job_7f3a","callback_url":"` + jobURL.URL + `/job","partner_params":` + params + `}}`
		h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox", Body: body})
		got := jobURL.Next(5 * time.Second)
		if got.Valid != nil || got.Header.Get("X-Team") != "kyc" {
			t.Fatalf("job URL delivery: %v, headers %v", got.Valid, got.Header)
		}
		if string(got.Event.Job.PartnerParams) != params {
			t.Fatalf("partner params %s, want byte for byte %s", got.Event.Job.PartnerParams, params)
		}
		if o := other.Next(5 * time.Second); o.Valid != nil || o.ID != got.ID {
			t.Fatalf("the other endpoint: %+v", o)
		}
		def.Quiet(500 * time.Millisecond)
		// A later event of the job, naming only its id, follows the job.
		h.Publish("acme", "sandbox", map[string]any{"type": "check.completed", "final": true, "data": map[string]any{}, "job": map[string]any{"id": "job_7f3a"}})
		later := jobURL.Next(5 * time.Second)
		if later.Valid != nil || string(later.Event.Job.PartnerParams) != params {
			t.Fatalf("later event: %v %s", later.Valid, later.Event.Job.PartnerParams)
		}
		other.Next(5 * time.Second)
		def.Quiet(300 * time.Millisecond)
		// Another job, without a URL, goes to the default callback.
		h.Publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]any{"id": "job_other"}})
		if d := def.Next(5 * time.Second); d.Valid != nil {
			t.Fatal(d.Valid)
		}
		// The job URL is checked like any endpoint URL.
		r = h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "sandbox",
			Body: map[string]any{"type": "a.b", "data": map[string]any{}, "job": map[string]any{"id": "j", "callback_url": "ftp://x"}}})
		if !strings.Contains(string(r.Body), "body.job.callback_url") {
			t.Fatalf("bad job URL: %s", r.Body)
		}
		// PUT /v1/default-callback moves the role.
		h.Must(http.StatusOK, servertest.Call{Method: "PUT", Path: "/v1/default-callback", Tenant: "acme", Env: "sandbox", Body: map[string]string{"endpoint_id": otherEP.ID}})
		var dc struct{ ID string }
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/default-callback", Tenant: "acme", Env: "sandbox"}).JSON(t, &dc)
		if dc.ID != otherEP.ID {
			t.Fatalf("default callback = %s", dc.ID)
		}
	})
}

func TestJobStatusRebuildsAReceiversState(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
		h.Must(http.StatusOK, servertest.Call{Method: "POST", Path: "/v1/jobs", Tenant: "acme", Env: "sandbox",
			Body: map[string]any{"id": "job_1", "kind": "kyb", "partner_params": map[string]string{"ref": "r1"}}})
		h.Publish("acme", "sandbox", map[string]any{"type": "check.started", "data": map[string]any{"status": "started"}, "job": map[string]any{"id": "job_1"}})
		h.Publish("acme", "sandbox", map[string]any{"type": "check.approved", "final": true, "data": map[string]any{"status": "approved"}, "job": map[string]any{"id": "job_1"}})
		h.Publish("acme", "sandbox", map[string]any{"type": "check.started", "data": map[string]any{}, "job": map[string]any{"id": "job_2"}})
		rc.Next(5 * time.Second)
		rc.Next(5 * time.Second)
		rc.Next(5 * time.Second)
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
		servertest.Eventually(t, 5*time.Second, "the job's deliveries to succeed", func() bool {
			h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/jobs/job_1", Tenant: "acme", Env: "sandbox"}).JSON(t, &job)
			return len(job.Events) == 2 && len(job.Events[1].Deliveries) == 1 && job.Events[1].Deliveries[0].Status == "succeeded"
		})
		if job.Status != "check.approved" || !job.Final || job.Kind != "kyb" || string(job.PartnerParams) != `{"ref":"r1"}` ||
			job.Events[0].Type != "check.started" || string(job.Events[1].Data) != `{"status":"approved"}` {
			t.Fatalf("job = %+v", job)
		}
		var l struct {
			Data []struct{ ID string } `json:"data"`
		}
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/jobs?final=true", Tenant: "acme", Env: "sandbox"}).JSON(t, &l)
		if len(l.Data) != 1 || l.Data[0].ID != "job_1" {
			t.Fatalf("final jobs = %+v", l.Data)
		}
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/jobs?final=false&updated_since=" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), Tenant: "acme", Env: "sandbox"}).JSON(t, &l)
		if len(l.Data) != 1 || l.Data[0].ID != "job_2" {
			t.Fatalf("open jobs = %+v", l.Data)
		}
		h.Must(http.StatusNotFound, servertest.Call{Method: "GET", Path: "/v1/jobs/job_1", Tenant: "acme", Env: "production"})
	})
}

func TestSendTestAnswersWithWhatHappenedAndIsLoggedAsATest(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(int, *http.Request) int { return http.StatusAccepted })
		h.Tenant("acme")
		h.Must(http.StatusCreated, servertest.Call{Method: "PUT", Path: "/v1/event-types/check.approved", Body: map[string]any{
			"schema": map[string]any{"type": "object"}, "example": map[string]any{"status": "approved"},
		}})
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "event_types": []string{"aml.*"}})
		rc.Trust(ep.Secret)
		var res struct {
			DeliveryID     string `json:"delivery_id"`
			Status         string `json:"status"`
			ResponseStatus int    `json:"response_status"`
			ResponseBody   string `json:"response_body"`
			LatencyMS      *int64 `json:"latency_ms"`
		}
		h.Must(http.StatusOK, servertest.Call{Method: "POST", Path: "/v1/endpoints/" + ep.ID + "/test", Tenant: "acme", Env: "sandbox",
			Body: map[string]string{"event_type": "check.approved"}}).JSON(t, &res)
		if res.Status != "succeeded" || res.ResponseStatus != 202 || res.ResponseBody != `{"received":true}` || res.LatencyMS == nil {
			t.Fatalf("test send = %+v", res)
		}
		got := rc.Next(time.Second)
		if got.Valid != nil || !got.Event.Test || string(got.Event.Data) != `{"status":"approved"}` {
			t.Fatalf("received %+v (%v)", got.Event, got.Valid)
		}
		d := h.Delivery("acme", "sandbox", res.DeliveryID)
		var raw map[string]any
		h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/deliveries/" + res.DeliveryID, Tenant: "acme", Env: "sandbox"}).JSON(t, &raw)
		if d.Status != "succeeded" || raw["test"] != true {
			t.Fatalf("logged test delivery = %v", raw)
		}
		// A type without an example needs data.
		h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/endpoints/" + ep.ID + "/test", Tenant: "acme", Env: "sandbox",
			Body: map[string]string{"event_type": "no.example"}})
		// A failing receiver: the answer says so.
		rc.Respond(func(int, *http.Request) int { return http.StatusInternalServerError })
		h.Must(http.StatusOK, servertest.Call{Method: "POST", Path: "/v1/endpoints/" + ep.ID + "/test", Tenant: "acme", Env: "sandbox",
			Body: map[string]any{"event_type": "custom.ping", "data": map[string]any{"x": 1}}}).JSON(t, &res)
		if res.ResponseStatus != 500 || res.Status == "succeeded" {
			t.Fatalf("failed test send = %+v", res)
		}
	})
}

func TestRecoverResendsAnEndpointsFailedDeliveries(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(int, *http.Request) int { return http.StatusServiceUnavailable })
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL, "retry_policy": map[string]any{"preset": "none"}})
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		for i := 0; i < 3; i++ {
			h.Publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{"i": i}})
		}
		servertest.Eventually(t, 5*time.Second, "three failures", func() bool { return len(h.Deliveries("acme", "sandbox", "?status=failed")) == 3 })
		for i := 0; i < 3; i++ {
			rc.Next(time.Second)
		}
		rc.Respond(func(int, *http.Request) int { return http.StatusOK })
		var res struct {
			Recovered int `json:"recovered"`
		}
		h.Must(http.StatusAccepted, servertest.Call{Method: "POST", Path: "/v1/endpoints/" + ep.ID + "/recover", Tenant: "acme", Env: "sandbox",
			Body: map[string]string{"since": since}}).JSON(t, &res)
		if res.Recovered != 3 {
			t.Fatalf("recovered %d, want 3", res.Recovered)
		}
		servertest.Eventually(t, 5*time.Second, "the recovered deliveries to succeed", func() bool {
			return len(h.Deliveries("acme", "sandbox", "?status=succeeded")) == 3
		})
	})
}

func TestSecretRotationSignsWithBothSecretsForTheGracePeriod(t *testing.T) {
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	ep := h.Endpoint("acme", "sandbox", map[string]any{"url": rc.URL})
	var rot struct {
		Secret                  string    `json:"secret"`
		PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at"`
	}
	h.Must(http.StatusOK, servertest.Call{Method: "POST", Path: "/v1/endpoints/" + ep.ID + "/secret/rotate", Tenant: "acme", Env: "sandbox",
		Body: map[string]string{"grace_period": "2s"}}).JSON(t, &rot)
	if rot.Secret == ep.Secret || !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotated secret %q", rot.Secret)
	}
	oldV, _ := webhook.NewVerifier(ep.Secret)
	newV, _ := webhook.NewVerifier(rot.Secret)
	h.Publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
	got := rc.Next(5 * time.Second)
	if n := len(strings.Fields(got.Header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures during the grace period, want 2", n)
	}
	if oldV.Verify(got.Header, got.Body) != nil || newV.Verify(got.Header, got.Body) != nil {
		t.Fatal("during the grace period both secrets must verify")
	}
	time.Sleep(time.Until(rot.PreviousSecretExpiresAt) + 100*time.Millisecond)
	h.Publish("acme", "sandbox", map[string]any{"type": "a.b", "data": map[string]any{}})
	got = rc.Next(5 * time.Second)
	if n := len(strings.Fields(got.Header.Get("webhook-signature"))); n != 1 {
		t.Fatalf("%d signatures after the grace period, want 1", n)
	}
	if oldV.Verify(got.Header, got.Body) == nil || newV.Verify(got.Header, got.Body) != nil {
		t.Fatal("after the grace period only the new secret verifies")
	}
}

func TestTheTwoHundredAndFirstRequestInAMinuteIsA429(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	key := h.APIKey("acme", "sandbox")
	// A burst of 200, then 100 a minute: the first refusal comes at the
	// 201st request, plus what refilled while the requests were made.
	var last servertest.Response
	first := 0
	began := time.Now()
	for i := 1; i <= 260 && first == 0; i++ {
		last = h.Do(servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &key})
		switch last.Status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			first = i
		default:
			t.Fatalf("request %d: status %d: %s", i, last.Status, last.Body)
		}
	}
	refilled := int(time.Since(began).Seconds()*100/60) + 1
	if first < 201 || first > 201+refilled {
		t.Fatalf("first 429 at request %d, want 201 (+%d refilled)", first, refilled)
	}
	for _, hdr := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		if last.Header.Get(hdr) == "" {
			t.Fatalf("429 lacks %s: %v", hdr, last.Header)
		}
	}
	if last.Header.Get("RateLimit-Limit") != "100" || last.Header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("rate limit headers = %v", last.Header)
	}
	// The operator is not limited, and another tenant's key has its own budget.
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/tenants"})
	h.Tenant("globex")
	other := h.APIKey("globex", "sandbox")
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &other})
	// A tenant's own limit applies to its keys.
	h.Must(http.StatusOK, servertest.Call{Method: "PATCH", Path: "/v1/tenants/globex", Body: map[string]int{"rate_limit_per_minute": 60, "rate_limit_burst": 2}})
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &other})
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &other})
	h.Must(http.StatusTooManyRequests, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &other})
}

func TestRotatedKeysWorkForTheGracePeriodAndRevokedKeysNotAtAll(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	key := h.APIKey("acme", "sandbox")
	var keys struct {
		Data []struct{ ID string } `json:"data"`
	}
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/api-keys", Token: &key}).JSON(t, &keys)
	var next struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	h.Must(http.StatusCreated, servertest.Call{Method: "POST", Path: fmt.Sprintf("/v1/api-keys/%s/rotate", keys.Data[0].ID), Token: &key,
		Body: map[string]string{"grace_period": "1s"}}).JSON(t, &next)
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &key})
	h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &next.Key})
	time.Sleep(1100 * time.Millisecond)
	h.Must(http.StatusUnauthorized, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &key})
	h.Must(http.StatusNoContent, servertest.Call{Method: "DELETE", Path: "/v1/api-keys/" + next.ID, Token: &next.Key})
	h.Must(http.StatusUnauthorized, servertest.Call{Method: "GET", Path: "/v1/endpoints", Token: &next.Key})
}
