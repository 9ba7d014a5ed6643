package manage_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/manage"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/webhook"
)

// rig is a Manager over a real SQLite store, sending through a real
// dispatcher and egress client to real receivers. The dispatcher does not
// run: only test sends reach a receiver.
type rig struct {
	t     *testing.T
	st    store.Store
	m     *manage.Manager
	scope domain.Scope
	woken int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	client := egress.New(egress.Options{AllowPrivate: true})
	t.Cleanup(func() {
		client.CloseIdleConnections()
		st.Close()
	})
	if err := st.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "Acme", CreatedAt: domain.Now()}); err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(st, client, dispatch.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r := &rig{t: t, st: st, scope: domain.Scope{TenantID: "acme", Environment: domain.Sandbox}}
	r.m = manage.New(manage.Config{Store: st, URLs: client, Sender: d, Wake: func() { r.woken++ }})
	return r
}

// endpoint creates an active endpoint to url, with one retry an hour later.
func (r *rig) endpoint(url string) *domain.Endpoint {
	r.t.Helper()
	secret, err := credential.SigningSecret("")
	if err != nil {
		r.t.Fatal(err)
	}
	now := domain.Now()
	e := &domain.Endpoint{
		ID: domain.NewIDAt(domain.PrefixEndpoint, now), TenantID: r.scope.TenantID, Environment: r.scope.Environment,
		URL: url, Status: domain.EndpointActive, TimeoutMS: 5000, MaxConcurrency: 4, Success: domain.Success2xx,
		PayloadMode: domain.PayloadEnvelope, Signing: domain.SigningHMAC, Secret: secret,
		RetryPolicy: domain.RetryPolicy{Delays: []string{"1h"}}, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.RetryPolicy.Normalize(); err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.CreateEndpoint(context.Background(), e); err != nil {
		r.t.Fatal(err)
	}
	return e
}

// receiver records what it is sent and answers with status.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	requests []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	rc := &receiver{status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, received{header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		w.WriteHeader(rc.status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}

func TestATestSendDeliversTheTypesExampleToThatEndpointAloneAndSaysWhatHappened(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.m.PutEventType(ctx, &domain.EventType{Name: "verification.approved", Example: json.RawMessage(`{"status": "approved"}`)}); err != nil {
		t.Fatal(err)
	}
	target, other := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
	ep := r.endpoint(target.URL)
	r.endpoint(other.URL)

	sent, err := r.m.TestSend(ctx, r.scope, ep.ID, &manage.TestSpec{EventType: "verification.approved"})
	if err != nil {
		t.Fatal(err)
	}
	if sent.Status != domain.DeliverySucceeded || sent.Attempt.ResponseStatus != http.StatusOK || sent.EventID == "" || sent.DeliveryID == "" {
		t.Fatalf("test send answered %+v", sent)
	}
	got := target.got()
	if len(got) != 1 || len(other.got()) != 0 {
		t.Fatalf("the endpoint got %d requests, another endpoint %d; want 1 and 0", len(got), len(other.got()))
	}
	var env struct {
		ID   string          `json:"id"`
		Test bool            `json:"test"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(got[0].body, &env); err != nil {
		t.Fatal(err)
	}
	if env.ID != sent.EventID || !env.Test || string(env.Data) != `{"status":"approved"}` {
		t.Fatalf("the receiver got %s", got[0].body)
	}
	d, err := r.st.GetDelivery(ctx, r.scope, sent.DeliveryID)
	if err != nil || d.Status != domain.DeliverySucceeded || d.Attempts != 1 || len(d.AttemptLog) != 1 {
		t.Fatalf("the delivery log holds %+v (%v)", d, err)
	}
}

func TestATestSendIsRefusedWhenTheEndpointIsPausedOrTheTypeHasNoExample(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ep := r.endpoint(newReceiver(t, http.StatusOK).URL)

	_, err := r.m.TestSend(ctx, r.scope, ep.ID, &manage.TestSpec{EventType: "unregistered.type"})
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || ve.Field != "event_type" {
		t.Fatalf("a type without an example: %v, want a validation error on event_type", err)
	}
	if _, err := r.m.TestSend(ctx, r.scope, ep.ID, &manage.TestSpec{EventType: "unregistered.type", Data: json.RawMessage(`{"given":true}`)}); err != nil {
		t.Fatalf("given data needs no example: %v", err)
	}

	ep.Status, ep.UpdatedAt = domain.EndpointPaused, domain.Now()
	if err := r.st.UpdateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.TestSend(ctx, r.scope, ep.ID, &manage.TestSpec{EventType: "unregistered.type", Data: json.RawMessage(`{}`)}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a paused endpoint: %v, want a conflict", err)
	}
	if _, err := r.m.TestSend(ctx, r.scope, "ep_missing", &manage.TestSpec{EventType: "a.b", Data: json.RawMessage(`{}`)}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a missing endpoint: %v, want not found", err)
	}
}

func TestARotatedSigningSecretSignsBesideTheNewOneUntilItsGraceEnds(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	rc := newReceiver(t, http.StatusOK)
	ep := r.endpoint(rc.URL)

	secret, until, err := r.m.RotateEndpointSecret(ctx, r.scope, ep.ID, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, credential.SigningSecretPrefix) || secret == ep.Secret {
		t.Fatalf("the new secret is %q", secret)
	}
	if d := time.Until(until); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("the old secret signs until %v, want an hour from now", until)
	}
	if _, err := r.m.TestSend(ctx, r.scope, ep.ID, &manage.TestSpec{EventType: "a.b", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	got := rc.got()[0]
	for _, s := range []string{ep.Secret, secret} {
		v, err := webhook.NewVerifier(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(got.header, got.body); err != nil {
			t.Errorf("a receiver with the secret %s… cannot verify a delivery in the grace period: %v", s[:10], err)
		}
	}

	stored, err := r.st.GetEndpoint(ctx, r.scope, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after := stored.SigningSecrets(until); len(after) != 1 || after[0] != secret {
		t.Fatalf("once the grace period ends, %d secrets sign", len(after))
	}
	if _, _, err := r.m.RotateEndpointSecret(ctx, r.scope, "ep_missing", "", time.Hour); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("rotating a missing endpoint's secret: %v", err)
	}
}

func TestARotatedAPIKeyKeepsWorkingForItsGraceAndItsSuccessorWorksAtOnce(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	old, k, err := r.m.IssueAPIKey(ctx, r.scope)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(old, "hk_sandbox_") || !strings.HasPrefix(old, k.Prefix) || len(k.Prefix) != len("hk_sandbox_")+6 {
		t.Fatalf("issued %q with the label %q", old, k.Prefix)
	}
	next, nk, err := r.m.RotateAPIKey(ctx, r.scope, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, c := range []struct {
		key        string
		at         time.Time
		wantUsable bool
	}{
		{old, now, true}, {old, now.Add(2 * time.Hour), false}, {next, now, true}, {next, now.Add(2 * time.Hour), true},
	} {
		got, err := r.st.APIKeyByHash(ctx, credential.Hash(c.key))
		if err != nil {
			t.Fatal(err)
		}
		if got.Usable(c.at) != c.wantUsable {
			t.Errorf("key %s at %v: usable %v, want %v", got.Prefix, c.at.Sub(now).Round(time.Hour), !c.wantUsable, c.wantUsable)
		}
	}
	if nk.ID == k.ID || next == old {
		t.Fatal("the rotation did not make a new key")
	}
}

func TestAGracePeriodIsADurationUpTo30Days(t *testing.T) {
	for in, want := range map[string]time.Duration{"": manage.DefaultGrace, "0s": 0, "90m": 90 * time.Minute, "720h": 720 * time.Hour} {
		if got, err := manage.ParseGrace(in); err != nil || got != want {
			t.Errorf("ParseGrace(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"721h", "-1s", "a day"} {
		var ve *domain.ValidationError
		if _, err := manage.ParseGrace(in); !errors.As(err, &ve) || ve.Field != "grace_period" {
			t.Errorf("ParseGrace(%q): %v, want a validation error on grace_period", in, err)
		}
	}
}

func TestRecoverMakesTheEndpointsFailedDeliveriesInTheWindowDueAgain(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	rc := newReceiver(t, http.StatusInternalServerError)
	ep := r.endpoint(rc.URL)
	ep.RetryPolicy = domain.RetryPolicy{Preset: domain.PresetNone}
	if err := ep.RetryPolicy.Normalize(); err != nil {
		t.Fatal(err)
	}
	if err := r.st.UpdateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	start := domain.Now()
	sent, err := r.m.TestSend(ctx, r.scope, ep.ID, &manage.TestSpec{EventType: "a.b", Data: json.RawMessage(`{}`)})
	if err != nil || sent.Status != domain.DeliveryFailed {
		t.Fatalf("a send to a failing receiver with no retries: %+v, %v", sent, err)
	}

	if n, err := r.m.Recover(ctx, r.scope, ep.ID, start.Add(-2*time.Hour), start.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("a window before the failure recovered %d (%v)", n, err)
	}
	if r.woken != 0 {
		t.Fatal("recovering nothing woke the dispatcher")
	}
	n, err := r.m.Recover(ctx, r.scope, ep.ID, start, time.Time{})
	if err != nil || n != 1 {
		t.Fatalf("recovered %d (%v), want 1", n, err)
	}
	if r.woken != 1 {
		t.Fatal("the dispatcher was not woken")
	}
	d, err := r.st.GetDelivery(ctx, r.scope, sent.DeliveryID)
	if err != nil || d.Status != domain.DeliveryPending {
		t.Fatalf("the recovered delivery is %+v (%v), want pending", d, err)
	}

	var ve *domain.ValidationError
	if _, err := r.m.Recover(ctx, r.scope, ep.ID, start, start); !errors.As(err, &ve) || ve.Field != "since" {
		t.Fatalf("an empty window: %v, want a validation error on since", err)
	}
}

func TestANewEventIsCheckedAgainstItsTypeAndItsJob(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.m.PutEventType(ctx, &domain.EventType{
		Name: "aml.hit", Sensitive: true, TTLSeconds: 60,
		Schema: json.RawMessage(`{"type":"object","properties":{"score":{"type":"number"}},"required":["score"]}`),
	}); err != nil {
		t.Fatal(err)
	}
	now := domain.Now()
	ev, err := r.m.NewEvent(ctx, r.scope, &manage.EventSpec{Type: "aml.hit", Data: json.RawMessage(`{ "score": 0.9 }`),
		Job: &manage.JobSpec{ID: "job_1", PartnerParams: json.RawMessage(`{"user": "u1"}`)}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Sensitive || ev.ExpiresAt == nil || !ev.ExpiresAt.Equal(now.Add(time.Minute)) || string(ev.Data) != `{"score":0.9}` ||
		// Data is compacted; partner params are kept as received (issue 14).
		ev.Job == nil || string(ev.Job.PartnerParams) != `{"user": "u1"}` {
		t.Fatalf("built %+v", ev)
	}

	for _, c := range []struct {
		in    manage.EventSpec
		field string
	}{
		{manage.EventSpec{Type: "aml.hit", Data: json.RawMessage(`{"score":"high"}`)}, "data.score"},
		{manage.EventSpec{Type: "aml.hit", Data: json.RawMessage(`[]`)}, "data"},
		{manage.EventSpec{Type: "no dots", Data: json.RawMessage(`{}`)}, "type"},
		{manage.EventSpec{Type: "a.b", Data: json.RawMessage(`{}`), Job: &manage.JobSpec{ID: "j", PartnerParams: json.RawMessage(`1`)}}, "job.partner_params"},
		// A job's own URL borrows the default callback's secret: there is none.
		{manage.EventSpec{Type: "a.b", Data: json.RawMessage(`{}`), Job: &manage.JobSpec{ID: "j", CallbackURL: "http://127.0.0.1:9/j"}}, "job.callback_url"},
	} {
		var ve *domain.ValidationError
		if _, err := r.m.NewEvent(ctx, r.scope, &c.in, now); !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%s %s: %v, want a validation error on %s", c.in.Type, c.in.Data, err, c.field)
		}
	}
	var ve *domain.ValidationError
	if _, err := r.m.PutJob(ctx, r.scope, &manage.JobSpec{ID: "j", CallbackURL: "http://127.0.0.1:9/j"}); !errors.As(err, &ve) || ve.Field != "callback_url" {
		t.Errorf("a job's URL without a default callback: %v, want a validation error on callback_url", err)
	}
}

func TestAnEventTypesExampleMustSatisfyItsSchema(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	typ := &domain.EventType{Name: "a.b", Schema: json.RawMessage(`{"type":"object","required":["id"]}`), Example: json.RawMessage(`{}`)}
	var ve *domain.ValidationError
	if _, err := r.m.PutEventType(ctx, typ); !errors.As(err, &ve) || ve.Field != "example" {
		t.Fatalf("an example against its schema: %v, want a validation error on example", err)
	}
	typ.Schema = json.RawMessage(`{"type": 12}`)
	if _, err := r.m.PutEventType(ctx, typ); !errors.As(err, &ve) || ve.Field != "schema" {
		t.Fatalf("an unusable schema: %v, want a validation error on schema", err)
	}
	typ.Schema, typ.Example = json.RawMessage(`null`), json.RawMessage(`{"id":1}`)
	created, err := r.m.PutEventType(ctx, typ)
	if err != nil || !created || typ.Schema != nil {
		t.Fatalf("a type without a schema: created %v, schema %s, %v", created, typ.Schema, err)
	}
	if created, err := r.m.PutEventType(ctx, typ); err != nil || created {
		t.Fatalf("replacing it: created %v, %v", created, err)
	}
}

// A schema changed by another process (straight in the store, so this
// Manager is not told) applies once the cached one is five seconds old:
// keeping a compiled schema while the stored one is unchanged must not
// keep it past a change.
func TestSchemaChangedElsewhereAppliesAfterTheCacheAges(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	put := func(required string) {
		t.Helper()
		typ := &domain.EventType{Name: "check.approved", UpdatedAt: domain.Now(),
			Schema: json.RawMessage(`{"type":"object","required":["` + required + `"]}`)}
		if _, err := r.st.PutEventType(ctx, typ); err != nil {
			t.Fatal(err)
		}
	}
	publish := func() error {
		_, err := r.m.NewEvent(ctx, r.scope, &manage.EventSpec{Type: "check.approved", Data: json.RawMessage(`{"a":1}`)}, domain.Now())
		return err
	}
	put("a")
	for range 2 {
		if err := publish(); err != nil {
			t.Fatalf("data with a, schema requiring a: %v", err)
		}
	}
	put("b")
	if err := publish(); err != nil {
		t.Fatalf("within the cache's five seconds the compiled schema stands: %v", err)
	}
	time.Sleep(5100 * time.Millisecond)
	var ve *domain.ValidationError
	if err := publish(); !errors.As(err, &ve) || ve.Field != "data" {
		t.Fatalf("after the schema changed elsewhere and the cache aged: %v, want a refusal of data", err)
	}
	put("a") // changed back, compiled again after the cache ages
	time.Sleep(5100 * time.Millisecond)
	if err := publish(); err != nil {
		t.Fatalf("after the schema changed back: %v", err)
	}
}
