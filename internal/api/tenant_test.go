package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"

	"github.com/heraldhq/herald/webhook"
)

func TestAnAPIKeyScopesEveryCallToItsTenantAndEnvironment(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		h.Tenant("globex")
		key := h.APIKey("acme", "sandbox").Key
		// With the key alone: no scope headers.
		kc := h.Client.WithToken(key)
		ep := servertest.Must(kc.CreateEndpoint(ctx, &client.EndpointCreate{URL: rc.URL}))(t)
		servertest.Must(kc.Publish(ctx, &client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)}))(t)
		rc.Next(5 * time.Second)
		// Scope headers cannot widen a key's reach.
		if l := servertest.Must(kc.WithScope("globex", "production").ListEndpoints(ctx, nil))(t); len(l.Data) != 1 || l.Data[0].ID != ep.ID {
			t.Fatalf("with foreign scope headers the key listed %+v", l.Data)
		}
		// The operator sees the same object through the headers.
		servertest.Must(h.As("acme", "sandbox").GetEndpoint(ctx, ep.ID))(t)
		// Operator-only calls are refused to keys.
		_, err := kc.CreateTenant(ctx, &client.TenantCreate{ID: "evil", Name: "x"})
		servertest.Refused(t, err, http.StatusForbidden)
		_, err = kc.PutEventType(ctx, "a.b", &client.EventTypePut{})
		servertest.Refused(t, err, http.StatusForbidden)
		// Keys never travel in the URL.
		r := h.Must(http.StatusBadRequest, servertest.Call{Method: "GET", Path: "/v1/endpoints?api_key=" + key, Token: &key})
		if !strings.Contains(string(r.Body), "Authorization header") {
			t.Fatalf("query-string key answer: %s", r.Body)
		}
		var keys *client.List[client.APIKey]
		servertest.Eventually(t, 5*time.Second, "last use to be recorded", func() bool {
			keys = servertest.Must(kc.ListAPIKeys(ctx))(t)
			return len(keys.Data) == 1 && keys.Data[0].LastUsedAt != nil
		})
		if !strings.HasPrefix(key, keys.Data[0].Prefix) || len(keys.Data[0].Prefix) >= len(key)/2 {
			t.Fatalf("listed prefix %q for key %q", keys.Data[0].Prefix, key)
		}
		// Raw: no field of the answer, known to the client or not, may hold the key.
		if strings.Contains(string(h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/api-keys", Token: &key}).Body), key) {
			t.Fatal("the key list shows the key itself")
		}
	})
}

// The matrix: a key of acme/sandbox calls every route of the API on objects
// of globex/sandbox and of acme/production. It must never see or change
// them: a 404 (never a 403 that confirms they exist), or a 403 for the
// operator's own calls, and lists that never show them. The calls are raw:
// the routes come from the OpenAPI document, and the answers are read as
// bytes.
func TestAKeyCannotReachAnotherScopeOnAnyRoute(t *testing.T) {
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	h.Tenant("globex")
	key := h.APIKey("acme", "sandbox").Key
	type objects struct{ endpoint, event, delivery, job, key string }
	foreign := map[string]objects{}
	for _, sc := range [][2]string{{"globex", "sandbox"}, {"acme", "production"}} {
		ep := h.Endpoint(sc[0], sc[1], client.EndpointCreate{URL: rc.URL})
		job := "job-" + sc[0] + sc[1]
		pub := h.Publish(sc[0], sc[1], client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`), Job: &client.JobRef{ID: job}})
		var d []client.Delivery
		servertest.Eventually(t, 5*time.Second, "the delivery", func() bool { d = h.Deliveries(sc[0], sc[1], nil); return len(d) == 1 })
		foreign[sc[0]+"/"+sc[1]] = objects{ep.ID, pub.ID, d[0].ID, job, h.APIKey(sc[0], sc[1]).ID}
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
		tenant, env, _ := strings.Cut(scope, "/")
		if e := servertest.Must(h.As(tenant, env).GetEndpoint(t.Context(), o.endpoint))(t); e.Status != client.EndpointActive || e.DefaultCallback {
			t.Fatalf("%s's endpoint was changed: %+v", scope, e)
		}
	}
}

func TestAPerJobCallbackReplacesTheDefaultCallbackOnly(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		def, jobURL, other := servertest.NewReceiver(t), servertest.NewReceiver(t), servertest.NewReceiver(t)
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		// Without a default callback a job URL could never be signed: refused.
		_, err := sc.Publish(ctx, &client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`), Job: &client.JobRef{ID: "j0", CallbackURL: jobURL.URL}})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "default callback") {
			t.Fatalf("job URL without a default callback: %v", e)
		}
		defEP := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: def.URL, DefaultCallback: client.Ptr(true), Headers: map[string]string{"X-Team": "kyc"}})
		otherEP := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: other.URL})
		def.Trust(defEP.Secret)
		jobURL.Trust(defEP.Secret) // signed with the default callback's secret
		other.Trust(otherEP.Secret)
		// The client sends partner params as given, byte for byte.
		params := `{"user_id":"u-123","nested":{"a":[1,2,3]},"unicode":"çé"}`
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{"status":"approved"}`),
			Job: &client.JobRef{ID: "job_7f3a", CallbackURL: jobURL.URL + "/job", PartnerParams: json.RawMessage(params)}})
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
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.completed", Final: true, Data: json.RawMessage(`{}`), Job: &client.JobRef{ID: "job_7f3a"}})
		later := jobURL.Next(5 * time.Second)
		if later.Valid != nil || string(later.Event.Job.PartnerParams) != params {
			t.Fatalf("later event: %v %s", later.Valid, later.Event.Job.PartnerParams)
		}
		other.Next(5 * time.Second)
		def.Quiet(300 * time.Millisecond)
		// Another job, without a URL, goes to the default callback.
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`), Job: &client.JobRef{ID: "job_other"}})
		if d := def.Next(5 * time.Second); d.Valid != nil {
			t.Fatal(d.Valid)
		}
		// The job URL is checked like any endpoint URL.
		_, err = sc.Publish(ctx, &client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`), Job: &client.JobRef{ID: "j", CallbackURL: "ftp://x"}})
		if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !names(e, "body.job.callback_url") {
			t.Fatalf("bad job URL: %v", e)
		}
		// PUT /v1/default-callback moves the role.
		servertest.Must(sc.SetDefaultCallback(ctx, otherEP.ID))(t)
		if dc := servertest.Must(sc.GetDefaultCallback(ctx))(t); dc.ID != otherEP.ID {
			t.Fatalf("default callback = %s", dc.ID)
		}
	})
}

func TestJobStatusRebuildsAReceiversState(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
		servertest.Must(sc.PutJob(ctx, &client.JobRef{ID: "job_1", Kind: "kyb", PartnerParams: json.RawMessage(`{"ref":"r1"}`)}))(t)
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.started", Data: json.RawMessage(`{"status":"started"}`), Job: &client.JobRef{ID: "job_1"}})
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Final: true, Data: json.RawMessage(`{"status":"approved"}`), Job: &client.JobRef{ID: "job_1"}})
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.started", Data: json.RawMessage(`{}`), Job: &client.JobRef{ID: "job_2"}})
		rc.Next(5 * time.Second)
		rc.Next(5 * time.Second)
		rc.Next(5 * time.Second)
		var job *client.JobDetail
		servertest.Eventually(t, 5*time.Second, "the job's deliveries to succeed", func() bool {
			job = servertest.Must(sc.GetJob(ctx, "job_1"))(t)
			return len(job.Events) == 2 && len(job.Events[1].Deliveries) == 1 && job.Events[1].Deliveries[0].Status == client.DeliverySucceeded
		})
		if job.Status != "check.approved" || !job.Final || job.Kind != "kyb" || string(job.PartnerParams) != `{"ref":"r1"}` ||
			job.Events[0].Type != "check.started" || string(job.Events[1].Data) != `{"status":"approved"}` {
			t.Fatalf("job = %+v", job)
		}
		if l := servertest.Must(sc.ListJobs(ctx, &client.JobListParams{Final: client.Ptr(true)}))(t); len(l.Data) != 1 || l.Data[0].ID != "job_1" {
			t.Fatalf("final jobs = %+v", l.Data)
		}
		open := &client.JobListParams{Final: client.Ptr(false), UpdatedSince: time.Now().Add(-time.Hour)}
		if l := servertest.Must(sc.ListJobs(ctx, open))(t); len(l.Data) != 1 || l.Data[0].ID != "job_2" {
			t.Fatalf("open jobs = %+v", l.Data)
		}
		_, err := h.As("acme", "production").GetJob(ctx, "job_1")
		servertest.Refused(t, err, http.StatusNotFound)
	})
}

func TestSendTestAnswersWithWhatHappenedAndIsLoggedAsATest(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(int, *http.Request) int { return http.StatusAccepted })
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		servertest.Must(h.Client.PutEventType(ctx, "check.approved", &client.EventTypePut{
			Schema: json.RawMessage(`{"type":"object"}`), Example: json.RawMessage(`{"status":"approved"}`),
		}))(t)
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, EventTypes: []string{"aml.*"}})
		rc.Trust(ep.Secret)
		// Raw: latency_ms must be in the answer even at 0, which a typed
		// int64 cannot tell from absent.
		var res struct {
			DeliveryID     string `json:"delivery_id"`
			Status         string `json:"status"`
			ResponseStatus int    `json:"response_status"`
			ResponseBody   string `json:"response_body"`
			LatencyMS      *int64 `json:"latency_ms"`
		}
		h.Must(http.StatusOK, servertest.Call{Method: "POST", Path: "/v1/endpoints/" + ep.ID + "/test", Tenant: "acme", Env: "sandbox",
			Body: client.TestSend{EventType: "check.approved"}}).JSON(t, &res)
		if res.Status != "succeeded" || res.ResponseStatus != 202 || res.ResponseBody != `{"received":true}` || res.LatencyMS == nil {
			t.Fatalf("test send = %+v", res)
		}
		got := rc.Next(time.Second)
		if got.Valid != nil || !got.Event.Test || string(got.Event.Data) != `{"status":"approved"}` {
			t.Fatalf("received %+v (%v)", got.Event, got.Valid)
		}
		if d := h.Delivery("acme", "sandbox", res.DeliveryID); d.Status != client.DeliverySucceeded || !d.Test {
			t.Fatalf("logged test delivery = %+v", d)
		}
		// A type without an example needs data.
		_, err := sc.TestEndpoint(ctx, ep.ID, &client.TestSend{EventType: "no.example"})
		servertest.Refused(t, err, http.StatusUnprocessableEntity)
		// A failing receiver: the answer says so.
		rc.Respond(func(int, *http.Request) int { return http.StatusInternalServerError })
		failed := servertest.Must(sc.TestEndpoint(ctx, ep.ID, &client.TestSend{EventType: "custom.ping", Data: json.RawMessage(`{"x":1}`)}))(t)
		if failed.ResponseStatus != 500 || failed.Status == client.DeliverySucceeded {
			t.Fatalf("failed test send = %+v", failed)
		}
	})
}

func TestRecoverResendsAnEndpointsFailedDeliveries(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(int, *http.Request) int { return http.StatusServiceUnavailable })
		h.Tenant("acme")
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Preset: "none"}})
		since := time.Now().Add(-time.Minute)
		for i := 0; i < 3; i++ {
			h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: servertest.JSON(map[string]int{"i": i})})
		}
		failed := &client.DeliveryListParams{Status: client.DeliveryFailed}
		servertest.Eventually(t, 5*time.Second, "three failures", func() bool { return len(h.Deliveries("acme", "sandbox", failed)) == 3 })
		for i := 0; i < 3; i++ {
			rc.Next(time.Second)
		}
		rc.Respond(func(int, *http.Request) int { return http.StatusOK })
		if n := servertest.Must(h.As("acme", "sandbox").RecoverEndpoint(t.Context(), ep.ID, &client.RecoverWindow{Since: since}))(t); n != 3 {
			t.Fatalf("recovered %d, want 3", n)
		}
		succeeded := &client.DeliveryListParams{Status: client.DeliverySucceeded}
		servertest.Eventually(t, 5*time.Second, "the recovered deliveries to succeed", func() bool {
			return len(h.Deliveries("acme", "sandbox", succeeded)) == 3
		})
	})
}

func TestSecretRotationSignsWithBothSecretsForTheGracePeriod(t *testing.T) {
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
	rot := servertest.Must(h.As("acme", "sandbox").RotateEndpointSecret(t.Context(), ep.ID, &client.SecretRotation{GracePeriod: "2s"}))(t)
	if rot.Secret == ep.Secret || !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotated secret %q", rot.Secret)
	}
	oldV, _ := webhook.NewVerifier(ep.Secret)
	newV, _ := webhook.NewVerifier(rot.Secret)
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
	got := rc.Next(5 * time.Second)
	if n := len(strings.Fields(got.Header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures during the grace period, want 2", n)
	}
	if oldV.Verify(got.Header, got.Body) != nil || newV.Verify(got.Header, got.Body) != nil {
		t.Fatal("during the grace period both secrets must verify")
	}
	time.Sleep(time.Until(rot.PreviousSecretExpiresAt) + 100*time.Millisecond)
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
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
	ctx := t.Context()
	h.Tenant("acme")
	key := h.APIKey("acme", "sandbox").Key
	// A burst of 200, then 100 a minute: the first refusal comes at the
	// 201st request, plus what refilled while the requests were made. Raw,
	// for the rate limit headers.
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
	servertest.Must(h.Client.ListTenants(ctx, nil))(t)
	h.Tenant("globex")
	other := h.Client.WithToken(h.APIKey("globex", "sandbox").Key)
	servertest.Must(other.ListEndpoints(ctx, nil))(t)
	// A tenant's own limit applies to its keys.
	servertest.Must(h.Client.UpdateTenant(ctx, "globex", &client.TenantUpdate{RateLimitPerMinute: client.Ptr(60), RateLimitBurst: client.Ptr(2)}))(t)
	servertest.Must(other.ListEndpoints(ctx, nil))(t)
	servertest.Must(other.ListEndpoints(ctx, nil))(t)
	_, err := other.ListEndpoints(ctx, nil)
	servertest.Refused(t, err, http.StatusTooManyRequests)
}

func TestRotatedKeysWorkForTheGracePeriodAndRevokedKeysNotAtAll(t *testing.T) {
	h := servertest.Start(t)
	ctx := t.Context()
	h.Tenant("acme")
	key := h.Client.WithToken(h.APIKey("acme", "sandbox").Key)
	keys := servertest.Must(key.ListAPIKeys(ctx))(t)
	next := servertest.Must(key.RotateAPIKey(ctx, keys.Data[0].ID, &client.Rotation{GracePeriod: "1s"}))(t)
	nextKey := h.Client.WithToken(next.Key)
	servertest.Must(key.ListEndpoints(ctx, nil))(t)
	servertest.Must(nextKey.ListEndpoints(ctx, nil))(t)
	time.Sleep(1100 * time.Millisecond)
	_, err := key.ListEndpoints(ctx, nil)
	servertest.Refused(t, err, http.StatusUnauthorized)
	if err := nextKey.RevokeAPIKey(ctx, next.ID); err != nil {
		t.Fatal(err)
	}
	_, err = nextKey.ListEndpoints(ctx, nil)
	servertest.Refused(t, err, http.StatusUnauthorized)
}
