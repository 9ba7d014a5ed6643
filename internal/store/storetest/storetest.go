// Package storetest is the conformance suite every store.Store passes.
// Each database package runs it against a fresh, empty store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/store"
)

// Factory makes a new, empty database for a test and returns a function
// that opens it, migrated, with a sealer (nil: secrets are stored as
// given). The stores it opens are closed when the test ends; a test closes
// one itself before it opens the database again.
type Factory func(t *testing.T) func(sealer store.Sealer) store.Store

// conformanceTest is one test of the suite; each file of the suite may add
// its own list to Run.
type conformanceTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs every conformance test.
func Run(t *testing.T, newStore Factory) {
	tests := []conformanceTest{
		{"OperatorTokenHashRoundTrips", testOperatorToken},
		{"TenantsCreateGetListAndConflict", testTenants},
		{"EventTypesPutReplacesAndLists", testEventTypes},
		{"EndpointsCRUDStaysInScope", testEndpoints},
		{"PublishFansOutToSubscribedEndpoints", testPublishFanOut},
		{"PublishIdempotencyReplaysAndConflicts", testIdempotency},
		{"PublishBatchIsAllOrNothing", testPublishAtomic},
		{"PublishEchoesStoredPartnerParams", testPartnerParams},
		{"EventsListOldestFirstWithCursor", testListEvents},
		{"DeliveriesListNewestFirstWithFilters", testListDeliveries},
		{"ClaimLeasesDueDeliveriesOfActiveEndpoints", testClaim},
		{"ClaimExpiredLeaseIsClaimedAgain", testLeaseExpiry},
		{"ClaimConcurrentClaimersNeverShareADelivery", testClaimRace},
		{"RecordWritesAttemptsAndNextState", testRecord},
		{"RecordDisablesEndpointAndKeepsCancelled", testRecordDisable},
		{"ReleaseMakesDeliveriesDueAgain", testRelease},
		{"ReleaseOfMoreThanOneStatementsListMakesEveryOneDueAgain", testReleaseMany},
		{"RetryDeliveryMakesItDueNow", testRetry},
		{"DeleteEndpointCancelsPendingDeliveries", testDeleteEndpoint},
		{"PurgeRemovesOldFinishedWorkAndKeepsPending", testPurge},
		{"TenantUpdateKeepsRateLimits", testTenantUpdate},
		{"APIKeysFindRotateRevokeAndStayInScope", testAPIKeys},
		{"DefaultCallbackIsUniqueAndJobURLReplacesIt", testJobCallback},
		{"JobsRecordStatusAndListByUpdate", testJobs},
		{"TestSendsGoToOneEndpointAndAreMarkedAndLeaveJobsAlone", testTestSends},
		{"RecoverRequeuesFailedDeliveriesInTheWindow", testRecover},
		{"RetryDeliveriesRequeuesTheFilteredOldestFirstUpToTheLimit", testRetryDeliveries},
		{"RotatedSecretsAreStored", testSecretRotation},
		{"SensitiveEventDataIsScrubbedOnceDelivered", testScrub},
	}
	tests = append(tests, claimTests...)
	tests = append(tests, publishTests...)
	tests = append(tests, sharedTests...)
	tests = append(tests, recordTests...)
	tests = append(tests, wireTests...)
	tests = append(tests, observeTests...)
	tests = append(tests, auditTests...)
	tests = append(tests, orderTests...)
	tests = append(tests, limitTests...)
	tests = append(tests, eraseTests...)
	tests = append(tests, jobSearchTests...)
	tests = append(tests, brandingTests...)
	tests = append(tests, operationalTests...)
	tests = append(tests, healthTests...)
	tests = append(tests, handoffTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)(nil)) })
	}
	t.Run("EndpointSecretsAreSealedAndResealed", func(t *testing.T) { testSealing(t, newStore(t)) })
}

var (
	ctx   = context.Background()
	scope = domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	other = domain.Scope{TenantID: "globex", Environment: domain.Sandbox}
	prod  = domain.Scope{TenantID: "acme", Environment: domain.Production}
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tenant(t *testing.T, s store.Store, id string) {
	t.Helper()
	must(t, s.CreateTenant(ctx, &domain.Tenant{ID: id, Name: id, CreatedAt: time.Now()}))
}

func endpoint(t *testing.T, s store.Store, sc domain.Scope, filter ...string) *domain.Endpoint {
	t.Helper()
	now := time.Now()
	e := &domain.Endpoint{
		ID: domain.NewID(domain.PrefixEndpoint), TenantID: sc.TenantID, Environment: sc.Environment,
		URL: "https://example.com/hook", Status: domain.EndpointActive, EventTypes: filter,
		TimeoutMS: 1000, MaxConcurrency: 4, Success: domain.Success2xx, Secret: "whsec_dGVzdA==",
		CreatedAt: now, UpdatedAt: now,
	}
	must(t, e.RetryPolicy.Normalize())
	must(t, s.CreateEndpoint(ctx, e))
	return e
}

func event(typ string) domain.Event {
	now := time.Now()
	return domain.Event{ID: domain.NewIDAt(domain.PrefixEvent, now), Type: typ, Data: json.RawMessage(`{"status":"ok"}`), CreatedAt: now}
}

func publish(t *testing.T, s store.Store, sc domain.Scope, typ string) store.PublishResult {
	t.Helper()
	r, err := s.Publish(ctx, sc, []store.Publication{{Event: event(typ)}})
	must(t, err)
	return r[0]
}

// claimAll claims until nothing due is left: one claim takes at most a
// round of each endpoint's concurrency.
func claimAll(t *testing.T, s store.Store, owner string, now time.Time) []store.Claimed {
	t.Helper()
	var all []store.Claimed
	for {
		c, err := s.Claim(ctx, store.ClaimParams{Owner: owner, Limit: 1000, Lease: time.Minute, Now: now})
		must(t, err)
		if len(c) == 0 {
			return all
		}
		all = append(all, c...)
	}
}

func setup(t *testing.T, s store.Store) {
	t.Helper()
	tenant(t, s, "acme")
	tenant(t, s, "globex")
}

func testOperatorToken(t *testing.T, s store.Store) {
	h, err := s.OperatorTokenHash(ctx)
	must(t, err)
	if h != nil {
		t.Fatalf("fresh store has a token hash %x", h)
	}
	must(t, s.SetOperatorTokenHash(ctx, []byte{1, 2, 3}))
	must(t, s.SetOperatorTokenHash(ctx, []byte{4, 5}))
	h, err = s.OperatorTokenHash(ctx)
	must(t, err)
	if !slices.Equal(h, []byte{4, 5}) {
		t.Fatalf("hash = %x, want 0405", h)
	}
}

func testTenants(t *testing.T, s store.Store) {
	for _, id := range []string{"c", "a", "b"} {
		tenant(t, s, id)
	}
	err := s.CreateTenant(ctx, &domain.Tenant{ID: "a", Name: "again", CreatedAt: time.Now()})
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("duplicate tenant: err = %v, want conflict", err)
	}
	got, err := s.GetTenant(ctx, "b")
	must(t, err)
	if got.Name != "b" {
		t.Fatalf("tenant = %+v", got)
	}
	if _, err := s.GetTenant(ctx, "zz"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("missing tenant: err = %v", err)
	}
	page, err := s.ListTenants(ctx, store.Page{Limit: 2})
	must(t, err)
	if len(page) != 2 || page[0].ID != "a" || page[1].ID != "b" {
		t.Fatalf("first page = %+v", page)
	}
	page, err = s.ListTenants(ctx, store.Page{Cursor: "b", Limit: 2})
	must(t, err)
	if len(page) != 1 || page[0].ID != "c" {
		t.Fatalf("second page = %+v", page)
	}
}

func testEventTypes(t *testing.T, s store.Store) {
	et := &domain.EventType{Name: "verification.approved", Description: "v1", Schema: json.RawMessage(`{"type":"object"}`), UpdatedAt: time.Now()}
	created, err := s.PutEventType(ctx, et)
	must(t, err)
	if !created {
		t.Fatal("first put did not report created")
	}
	et.Description = "v2"
	et.UpdatedAt = time.Now().Add(time.Second)
	created, err = s.PutEventType(ctx, et)
	must(t, err)
	if created {
		t.Fatal("second put reported created")
	}
	_, err = s.PutEventType(ctx, &domain.EventType{Name: "aml.hit", UpdatedAt: time.Now()})
	must(t, err)
	got, err := s.GetEventType(ctx, "verification.approved")
	must(t, err)
	if got.Description != "v2" || string(got.Schema) != `{"type":"object"}` || got.Example != nil {
		t.Fatalf("event type = %+v", got)
	}
	all, err := s.ListEventTypes(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Name != "aml.hit" {
		t.Fatalf("list = %+v", all)
	}
	if _, err := s.GetEventType(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("missing type: err = %v", err)
	}
}

func testEndpoints(t *testing.T, s store.Store) {
	setup(t, s)
	e := endpoint(t, s, scope, "verification.*")
	e.Headers = map[string]string{"X-Api-Key": "k"}
	e.Status = domain.EndpointPaused
	e.UpdatedAt = time.Now()
	must(t, s.UpdateEndpoint(ctx, e))
	got, err := s.GetEndpoint(ctx, scope, e.ID)
	must(t, err)
	if got.Status != domain.EndpointPaused || got.Headers["X-Api-Key"] != "k" || got.Secret != e.Secret ||
		!slices.Equal(got.EventTypes, []string{"verification.*"}) || got.RetryPolicy.MaxAttempts() != 8 {
		t.Fatalf("endpoint = %+v", got)
	}
	for _, sc := range []domain.Scope{other, prod} {
		if _, err := s.GetEndpoint(ctx, sc, e.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("endpoint visible from %v: err = %v", sc, err)
		}
		if err := s.DeleteEndpoint(ctx, sc, e.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("endpoint deletable from %v: err = %v", sc, err)
		}
		list, err := s.ListEndpoints(ctx, sc, store.Page{})
		must(t, err)
		if len(list) != 0 {
			t.Fatalf("list from %v = %+v", sc, list)
		}
	}
	cross := *e
	cross.TenantID = other.TenantID
	if err := s.UpdateEndpoint(ctx, &cross); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("cross-tenant update: err = %v", err)
	}
	second := endpoint(t, s, scope)
	list, err := s.ListEndpoints(ctx, scope, store.Page{Limit: 1})
	must(t, err)
	if len(list) != 1 || list[0].ID != e.ID {
		t.Fatalf("first page = %+v", list)
	}
	list, err = s.ListEndpoints(ctx, scope, store.Page{Cursor: e.ID})
	must(t, err)
	if len(list) != 1 || list[0].ID != second.ID {
		t.Fatalf("second page = %+v", list)
	}
	byID, err := s.EndpointsByID(ctx, []string{e.ID, second.ID, "ep_missing"})
	must(t, err)
	if len(byID) != 2 {
		t.Fatalf("by id = %d endpoints", len(byID))
	}
	must(t, s.DeleteEndpoint(ctx, scope, e.ID))
	if _, err := s.GetEndpoint(ctx, scope, e.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("deleted endpoint: err = %v", err)
	}
}

func testPublishFanOut(t *testing.T, s store.Store) {
	setup(t, s)
	all := endpoint(t, s, scope)
	prefix := endpoint(t, s, scope, "verification.*")
	exact := endpoint(t, s, scope, "aml.hit")
	paused := endpoint(t, s, scope)
	paused.Status = domain.EndpointPaused
	must(t, s.UpdateEndpoint(ctx, paused))
	disabled := endpoint(t, s, scope)
	disabled.Status = domain.EndpointDisabled
	must(t, s.UpdateEndpoint(ctx, disabled))
	endpoint(t, s, other)
	endpoint(t, s, prod)

	r := publish(t, s, scope, "verification.approved")
	if r.Deliveries != 3 {
		t.Fatalf("deliveries = %d, want 3 (all, prefix, paused)", r.Deliveries)
	}
	ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: r.EventID})
	must(t, err)
	var got []string
	for _, d := range ds {
		got = append(got, d.EndpointID)
		if d.Status != domain.DeliveryPending || d.EventType != "verification.approved" || d.NextAttemptAt == nil {
			t.Fatalf("delivery = %+v", d)
		}
	}
	slices.Sort(got)
	want := []string{all.ID, prefix.ID, paused.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("endpoints = %v, want %v", got, want)
	}
	if r := publish(t, s, scope, "aml.hit"); r.Deliveries != 3 {
		t.Fatalf("aml.hit deliveries = %d, want 3 (all, exact, paused)", r.Deliveries)
	}
	_ = exact
	if r := publish(t, s, scope, "verificationx"); r.Deliveries != 2 {
		t.Fatalf("prefix matched a longer word: deliveries = %d, want 2", r.Deliveries)
	}
	ev, err := s.GetEvent(ctx, scope, r.EventID)
	must(t, err)
	if ev.Type != "verification.approved" || string(ev.Data) != `{"status":"ok"}` {
		t.Fatalf("event = %+v", ev)
	}
	if _, err := s.GetEvent(ctx, other, r.EventID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("event visible to another tenant: %v", err)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	pub := store.Publication{Event: event("a.b"), IdempotencyKey: "k1", RequestHash: []byte("h1")}
	first, err := s.Publish(ctx, scope, []store.Publication{pub})
	must(t, err)
	again := store.Publication{Event: event("a.b"), IdempotencyKey: "k1", RequestHash: []byte("h1")}
	second, err := s.Publish(ctx, scope, []store.Publication{again})
	must(t, err)
	if !second[0].Replayed || second[0].EventID != first[0].EventID || second[0].Deliveries != 1 {
		t.Fatalf("replay = %+v, first = %+v", second[0], first[0])
	}
	diff := store.Publication{Event: event("a.b"), IdempotencyKey: "k1", RequestHash: []byte("h2")}
	if _, err := s.Publish(ctx, scope, []store.Publication{diff}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("different body: err = %v, want conflict", err)
	}
	// The same key in another scope is another key.
	endpoint(t, s, other)
	r, err := s.Publish(ctx, other, []store.Publication{{Event: event("a.b"), IdempotencyKey: "k1", RequestHash: []byte("h2")}})
	must(t, err)
	if r[0].Replayed {
		t.Fatal("key leaked across tenants")
	}
	evs, err := s.ListEvents(ctx, scope, store.Page{})
	must(t, err)
	if len(evs) != 1 {
		t.Fatalf("events = %d, want 1", len(evs))
	}
}

func testPublishAtomic(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	_, err := s.Publish(ctx, scope, []store.Publication{{Event: event("a.b"), IdempotencyKey: "used", RequestHash: []byte("x")}})
	must(t, err)
	batch := []store.Publication{
		{Event: event("a.b")},
		{Event: event("a.b"), IdempotencyKey: "used", RequestHash: []byte("other")},
	}
	if _, err := s.Publish(ctx, scope, batch); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("err = %v, want conflict", err)
	}
	evs, err := s.ListEvents(ctx, scope, store.Page{})
	must(t, err)
	if len(evs) != 1 {
		t.Fatalf("events = %d after a refused batch, want 1", len(evs))
	}
	ok := []store.Publication{{Event: event("a.b")}, {Event: event("a.c")}}
	res, err := s.Publish(ctx, scope, ok)
	must(t, err)
	if len(res) != 2 || res[0].EventID == res[1].EventID {
		t.Fatalf("batch results = %+v", res)
	}
}

func testPartnerParams(t *testing.T, s store.Store) {
	setup(t, s)
	ev := event("verification.started")
	ev.Job = &domain.Job{ID: "job_1", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}
	_, err := s.Publish(ctx, scope, []store.Publication{{Event: ev}})
	must(t, err)
	later := event("verification.approved")
	later.Final = true
	later.Job = &domain.Job{ID: "job_1"}
	res, err := s.Publish(ctx, scope, []store.Publication{{Event: later}})
	must(t, err)
	got, err := s.GetEvent(ctx, scope, res[0].EventID)
	must(t, err)
	if got.Job == nil || got.Job.ID != "job_1" || got.Job.Kind != "kyc" || string(got.Job.PartnerParams) != `{"user_id":"u-1"}` || !got.Final {
		t.Fatalf("event job = %+v final=%v", got.Job, got.Final)
	}
	// The same job id in another tenant is another job.
	foreign := event("verification.approved")
	foreign.Job = &domain.Job{ID: "job_1"}
	res, err = s.Publish(ctx, other, []store.Publication{{Event: foreign}})
	must(t, err)
	got, err = s.GetEvent(ctx, other, res[0].EventID)
	must(t, err)
	if got.Job.PartnerParams != nil {
		t.Fatalf("partner params leaked across tenants: %s", got.Job.PartnerParams)
	}
}

func testListEvents(t *testing.T, s store.Store) {
	setup(t, s)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, publish(t, s, scope, fmt.Sprintf("t.e%d", i)).EventID)
	}
	publish(t, s, other, "t.x")
	first, err := s.ListEvents(ctx, scope, store.Page{Limit: 3})
	must(t, err)
	if len(first) != 3 || first[0].ID != ids[0] || first[2].ID != ids[2] {
		t.Fatalf("first page = %v", first)
	}
	rest, err := s.ListEvents(ctx, scope, store.Page{Cursor: first[2].ID, Limit: 3})
	must(t, err)
	if len(rest) != 2 || rest[0].ID != ids[3] || rest[1].ID != ids[4] {
		t.Fatalf("second page = %v", rest)
	}
}

func testListDeliveries(t *testing.T, s store.Store) {
	setup(t, s)
	a := endpoint(t, s, scope)
	b := endpoint(t, s, scope, "kyc.*")
	endpoint(t, s, other)
	e1 := publish(t, s, scope, "kyc.one")
	e2 := publish(t, s, scope, "aml.two")
	publish(t, s, other, "kyc.one")

	all, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{})
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("deliveries = %d, want 3", len(all))
	}
	if all[0].EventID != e2.EventID {
		t.Fatalf("not newest first: %+v", all)
	}
	check := func(name string, f store.DeliveryFilter, want int) {
		t.Helper()
		got, err := s.ListDeliveries(ctx, scope, f)
		must(t, err)
		if len(got) != want {
			t.Fatalf("%s: %d deliveries, want %d", name, len(got), want)
		}
	}
	check("endpoint", store.DeliveryFilter{EndpointID: b.ID}, 1)
	check("event", store.DeliveryFilter{EventID: e1.EventID}, 2)
	check("type", store.DeliveryFilter{EventType: "aml.two"}, 1)
	check("status", store.DeliveryFilter{Status: domain.DeliveryPending}, 3)
	check("succeeded", store.DeliveryFilter{Status: domain.DeliverySucceeded}, 0)
	check("since future", store.DeliveryFilter{Since: time.Now().Add(time.Hour)}, 0)
	check("until past", store.DeliveryFilter{Until: time.Now().Add(-time.Hour)}, 0)
	check("window", store.DeliveryFilter{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)}, 3)
	page, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{Page: store.Page{Limit: 2}})
	must(t, err)
	rest, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{Page: store.Page{Cursor: page[1].ID}})
	must(t, err)
	if len(page) != 2 || len(rest) != 1 || rest[0].ID == page[0].ID || rest[0].ID == page[1].ID {
		t.Fatalf("pages = %v / %v", page, rest)
	}
	_ = a
	if _, err := s.GetDelivery(ctx, other, all[0].ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("delivery visible to another tenant: %v", err)
	}
}

func testClaim(t *testing.T, s store.Store) {
	setup(t, s)
	active := endpoint(t, s, scope)
	paused := endpoint(t, s, scope)
	paused.Status = domain.EndpointPaused
	must(t, s.UpdateEndpoint(ctx, paused))
	skipped := endpoint(t, s, other)
	r := publish(t, s, scope, "a.b")
	publish(t, s, other, "a.b")
	if r.Deliveries != 2 {
		t.Fatalf("deliveries = %d", r.Deliveries)
	}
	now := time.Now()
	c, err := s.Claim(ctx, store.ClaimParams{Owner: "p1", Limit: 10, Lease: time.Minute, Now: now, Skip: only(skipped.ID)})
	must(t, err)
	if len(c) != 1 || c[0].EndpointID != active.ID || c[0].Event.ID != r.EventID || c[0].Event.Type != "a.b" ||
		string(c[0].Event.Data) != `{"status":"ok"}` || c[0].Attempts != 0 {
		t.Fatalf("claimed = %+v", c)
	}
	if again := claimAll(t, s, "p2", now); len(again) != 1 || again[0].EndpointID != skipped.ID {
		t.Fatalf("second claim = %+v, want only the skipped endpoint's delivery", again)
	}
	if again := claimAll(t, s, "p2", now); len(again) != 0 {
		t.Fatalf("leased deliveries claimed again: %+v", again)
	}
	// Resuming the paused endpoint makes its held delivery claimable.
	paused.Status = domain.EndpointActive
	must(t, s.UpdateEndpoint(ctx, paused))
	if got := claimAll(t, s, "p2", now); len(got) != 1 || got[0].EndpointID != paused.ID {
		t.Fatalf("after resume = %+v", got)
	}
	// Limits are honoured. (p1 claims: a third dispatcher, with p1 and p2
	// running, would take only its share of each endpoint's room.)
	for i := 0; i < 5; i++ {
		publish(t, s, scope, "a.b")
	}
	c, err = s.Claim(ctx, store.ClaimParams{Owner: "p1", Limit: 3, Lease: time.Minute, Now: time.Now()})
	must(t, err)
	if len(c) != 3 {
		t.Fatalf("limit 3 claimed %d", len(c))
	}
	// Not yet due is not claimed.
	if got := claimAll(t, s, "p4", time.Now().Add(-time.Hour)); len(got) != 0 {
		t.Fatalf("claimed %d deliveries before they were due", len(got))
	}
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	publish(t, s, scope, "a.b")
	now := time.Now()
	if c := claimAll(t, s, "dead", now); len(c) != 1 {
		t.Fatalf("claimed %d", len(c))
	}
	if c := claimAll(t, s, "alive", now.Add(30*time.Second)); len(c) != 0 {
		t.Fatal("claimed while the lease still runs")
	}
	if c := claimAll(t, s, "alive", now.Add(61*time.Second)); len(c) != 1 {
		t.Fatalf("after the lease ran out claimed %d, want 1", len(c))
	}
}

func testClaimRace(t *testing.T, s store.Store) {
	setup(t, s)
	for i := 0; i < 4; i++ {
		endpoint(t, s, scope)
	}
	const events = 100
	pubs := make([]store.Publication, events)
	for i := range pubs {
		pubs[i] = store.Publication{Event: event("a.b")}
	}
	_, err := s.Publish(ctx, scope, pubs)
	must(t, err)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			for {
				c, err := s.Claim(ctx, store.ClaimParams{Owner: owner, Limit: 17, Lease: time.Minute, Now: time.Now()})
				if err != nil {
					errs <- err
					return
				}
				if len(c) == 0 {
					return
				}
				mu.Lock()
				var done []store.Outcome
				for _, d := range c {
					if prev, dup := seen[d.DeliveryID]; dup {
						errs <- fmt.Errorf("delivery %s claimed by %s and %s", d.DeliveryID, prev, owner)
					}
					seen[d.DeliveryID] = owner
					done = append(done, outcome(d, domain.DeliverySucceeded, time.Time{}, 200))
				}
				mu.Unlock()
				// Each claimer finishes what it claimed before it claims
				// again, as a dispatcher does: a claim counts the others'
				// leases against each endpoint's max_concurrency, and one
				// that finds every endpoint full comes back empty.
				if err := s.Record(ctx, done); err != nil {
					errs <- err
					return
				}
			}
		}(fmt.Sprintf("w%d", w))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != events*4 {
		t.Fatalf("claimed %d deliveries, want %d", len(seen), events*4)
	}
}

func outcome(c store.Claimed, status string, next time.Time, code int) store.Outcome {
	return store.Outcome{
		DeliveryID: c.DeliveryID, EndpointID: c.EndpointID, Scope: scope, Status: status, NextAttemptAt: next, OrderedJob: c.OrderedJob,
		Attempt: domain.Attempt{
			ID: domain.NewID(domain.PrefixAttempt), Number: c.Attempts + 1, At: time.Now(), DurationMS: 12,
			RequestHeaders:  map[string]string{"webhook-id": c.Event.ID},
			ResponseStatus:  code,
			ResponseHeaders: map[string]string{"Content-Type": "text/plain"},
			ResponseBody:    fmt.Sprintf("answer %d", code),
		},
	}
}

func testRecord(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	for i := 0; i < 3; i++ {
		publish(t, s, scope, "a.b")
	}
	now := time.Now()
	c := claimAll(t, s, "p", now)
	if len(c) != 3 {
		t.Fatalf("claimed %d", len(c))
	}
	retryAt := now.Add(5 * time.Second)
	must(t, s.Record(ctx, []store.Outcome{
		outcome(c[0], domain.DeliverySucceeded, time.Time{}, 200),
		outcome(c[1], domain.DeliveryPending, retryAt, 500),
		outcome(c[2], domain.DeliveryFailed, time.Time{}, 400),
	}))
	d0, err := s.GetDelivery(ctx, scope, c[0].DeliveryID)
	must(t, err)
	if d0.Status != domain.DeliverySucceeded || d0.Attempts != 1 || d0.LastStatus != 200 || d0.NextAttemptAt != nil || len(d0.AttemptLog) != 1 {
		t.Fatalf("succeeded delivery = %+v", d0)
	}
	a := d0.AttemptLog[0]
	if a.ResponseBody != "answer 200" || a.ResponseHeaders["Content-Type"] != "text/plain" || a.RequestHeaders["webhook-id"] != c[0].Event.ID || a.DurationMS != 12 || a.Number != 1 {
		t.Fatalf("attempt = %+v", a)
	}
	d1, err := s.GetDelivery(ctx, scope, c[1].DeliveryID)
	must(t, err)
	if d1.Status != domain.DeliveryPending || d1.NextAttemptAt == nil || d1.NextAttemptAt.Sub(retryAt).Abs() > time.Millisecond {
		t.Fatalf("retrying delivery = %+v", d1)
	}
	d2, err := s.GetDelivery(ctx, scope, c[2].DeliveryID)
	must(t, err)
	if d2.Status != domain.DeliveryFailed || d2.LastStatus != 400 {
		t.Fatalf("failed delivery = %+v", d2)
	}
	// The retry is due at its time, with its attempt count, and not before.
	if got := claimAll(t, s, "p", now.Add(time.Second)); len(got) != 0 {
		t.Fatalf("claimed before the retry was due: %+v", got)
	}
	got := claimAll(t, s, "p", now.Add(6*time.Second))
	if len(got) != 1 || got[0].DeliveryID != c[1].DeliveryID || got[0].Attempts != 1 {
		t.Fatalf("retry claim = %+v", got)
	}
	must(t, s.Record(ctx, []store.Outcome{outcome(got[0], domain.DeliverySucceeded, time.Time{}, 204)}))
	d1, err = s.GetDelivery(ctx, scope, c[1].DeliveryID)
	must(t, err)
	if d1.Status != domain.DeliverySucceeded || d1.Attempts != 2 || len(d1.AttemptLog) != 2 || d1.AttemptLog[1].ResponseStatus != 204 {
		t.Fatalf("after second attempt = %+v", d1)
	}
}

func testRecordDisable(t *testing.T, s store.Store) {
	setup(t, s)
	gone := endpoint(t, s, scope)
	publish(t, s, scope, "a.b")
	c := claimAll(t, s, "p", time.Now())
	o := outcome(c[0], domain.DeliveryFailed, time.Time{}, 410)
	o.DisableEndpoint = "receiver answered 410 Gone"
	must(t, s.Record(ctx, []store.Outcome{o}))
	e, err := s.GetEndpoint(ctx, scope, gone.ID)
	must(t, err)
	if e.Status != domain.EndpointDisabled || e.DisabledReason == "" {
		t.Fatalf("endpoint = %+v", e)
	}
	if h := health(t, s, gone.ID); len(h.History) != 1 || h.History[0].Kind != domain.HealthDisabled || h.History[0].Reason != o.DisableEndpoint {
		t.Fatalf("health history after a 410: %+v", h.History)
	}
	// A disabled endpoint gets no new deliveries.
	if r := publish(t, s, scope, "a.b"); r.Deliveries != 0 {
		t.Fatalf("disabled endpoint got %d deliveries", r.Deliveries)
	}
	// A delivery cancelled while in flight stays cancelled.
	live := endpoint(t, s, scope)
	publish(t, s, scope, "a.b")
	c = claimAll(t, s, "p", time.Now())
	if len(c) != 1 {
		t.Fatalf("claimed %d", len(c))
	}
	must(t, s.DeleteEndpoint(ctx, scope, live.ID))
	must(t, s.Record(ctx, []store.Outcome{outcome(c[0], domain.DeliveryPending, time.Now(), 500)}))
	d, err := s.GetDelivery(ctx, scope, c[0].DeliveryID)
	must(t, err)
	if d.Status != domain.DeliveryCancelled {
		t.Fatalf("cancelled delivery became %s", d.Status)
	}
}

func testRelease(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	publish(t, s, scope, "a.b")
	publish(t, s, scope, "a.b")
	c := claimAll(t, s, "p", time.Now())
	if len(c) != 2 {
		t.Fatalf("claimed %d", len(c))
	}
	must(t, s.Release(ctx, "someone-else", []string{c[0].DeliveryID}))
	if got := claimAll(t, s, "q", time.Now()); len(got) != 0 {
		t.Fatal("another owner released a lease it did not hold")
	}
	must(t, s.Release(ctx, "p", []string{c[0].DeliveryID, c[1].DeliveryID}))
	if got := claimAll(t, s, "q", time.Now().Add(time.Millisecond)); len(got) != 2 || got[0].Attempts != 0 {
		t.Fatalf("after release claimed %+v", got)
	}
}

// A release of more deliveries than one statement lists (they go in
// chunks) gives every lease back.
func testReleaseMany(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	pubs := make([]store.Publication, 300)
	for i := range pubs {
		pubs[i] = store.Publication{Event: event("a.b")}
	}
	_, err := s.Publish(ctx, scope, pubs)
	must(t, err)
	now := time.Now()
	c := claimAll(t, s, "p", now)
	if len(c) != len(pubs) {
		t.Fatalf("claimed %d, want %d", len(c), len(pubs))
	}
	ids := make([]string, len(c))
	for i := range c {
		ids[i] = c[i].DeliveryID
	}
	must(t, s.Release(ctx, "p", ids))
	// By the same owner: another would share the endpoint with it.
	if got := claimAll(t, s, "p", now.Add(time.Second)); len(got) != len(pubs) {
		t.Fatalf("after releasing %d claimed %d again", len(ids), len(got))
	}
}

func testRetryDeliveries(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	for i := 0; i < 4; i++ {
		publish(t, s, scope, "a.b")
	}
	publish(t, s, scope, "c.d")
	c := claimAll(t, s, "p", time.Now())
	// One a.b succeeds (whichever the claim gave first: claims promise no
	// order), the other three a.b and the c.d fail.
	var outs []store.Outcome
	succeeded := false
	for _, cl := range c {
		status := domain.DeliveryFailed
		if !succeeded && cl.Event.Type == "a.b" {
			status, succeeded = domain.DeliverySucceeded, true
		}
		outs = append(outs, outcome(cl, status, time.Time{}, 500))
	}
	must(t, s.Record(ctx, outs))
	failedAB := store.DeliveryFilter{Status: domain.DeliveryFailed, EventType: "a.b", Page: store.Page{Limit: 2}}
	if n, err := s.RetryDeliveries(ctx, other, failedAB, time.Now()); err != nil || n != 0 {
		t.Fatalf("another tenant's retry touched %d (%v)", n, err)
	}
	n, err := s.RetryDeliveries(ctx, scope, failedAB, time.Now())
	must(t, err)
	if n != 2 {
		t.Fatalf("retried %d, want the limit of 2", n)
	}
	n, err = s.RetryDeliveries(ctx, scope, failedAB, time.Now())
	must(t, err)
	if n != 1 {
		t.Fatalf("the second call retried %d, want the 1 failed a.b left", n)
	}
	got := claimAll(t, s, "p", time.Now().Add(time.Millisecond))
	if len(got) != 3 {
		t.Fatalf("after the retries claimed %d, want 3", len(got))
	}
	for _, g := range got {
		if g.Event.Type != "a.b" || g.Attempts != 1 {
			t.Fatalf("claimed %+v, want a.b deliveries with their 1 attempt", g)
		}
	}
}

func testRetry(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	publish(t, s, scope, "a.b")
	c := claimAll(t, s, "p", time.Now())
	must(t, s.Record(ctx, []store.Outcome{outcome(c[0], domain.DeliveryFailed, time.Time{}, 500)}))
	if _, err := s.RetryDelivery(ctx, other, c[0].DeliveryID, time.Now()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("retry from another tenant: %v", err)
	}
	d, err := s.RetryDelivery(ctx, scope, c[0].DeliveryID, time.Now())
	must(t, err)
	if d.Status != domain.DeliveryPending || d.Attempts != 1 {
		t.Fatalf("retried = %+v", d)
	}
	got := claimAll(t, s, "p", time.Now().Add(time.Millisecond))
	if len(got) != 1 || got[0].DeliveryID != c[0].DeliveryID || got[0].Attempts != 1 {
		t.Fatalf("claim after retry = %+v", got)
	}
	if _, err := s.RetryDelivery(ctx, scope, "dlv_missing", time.Now()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("retry missing: %v", err)
	}
}

func testDeleteEndpoint(t *testing.T, s store.Store) {
	setup(t, s)
	e := endpoint(t, s, scope)
	r := publish(t, s, scope, "a.b")
	must(t, s.DeleteEndpoint(ctx, scope, e.ID))
	ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: r.EventID})
	must(t, err)
	if len(ds) != 1 || ds[0].Status != domain.DeliveryCancelled {
		t.Fatalf("deliveries = %+v", ds)
	}
	if got := claimAll(t, s, "p", time.Now()); len(got) != 0 {
		t.Fatalf("claimed a cancelled delivery: %+v", got)
	}
}

func testPurge(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	old := time.Now().Add(-40 * 24 * time.Hour)
	publishAt := func(at time.Time, key string) store.PublishResult {
		t.Helper()
		ev := event("a.b")
		ev.ID, ev.CreatedAt = domain.NewIDAt(domain.PrefixEvent, at), at
		r, err := s.Publish(ctx, scope, []store.Publication{{Event: ev, IdempotencyKey: key, RequestHash: []byte(key)}})
		must(t, err)
		return r[0]
	}
	var oldDone []store.PublishResult
	for i := 0; i < 5; i++ {
		oldDone = append(oldDone, publishAt(old, fmt.Sprint("old-", i)))
	}
	c := claimAll(t, s, "p", time.Now())
	var outcomes []store.Outcome
	for _, cl := range c {
		outcomes = append(outcomes, outcome(cl, domain.DeliverySucceeded, time.Time{}, 200))
	}
	must(t, s.Record(ctx, outcomes))
	oldPending := publishAt(old, "old-pending")
	fresh := publishAt(time.Now(), "fresh")

	total := 0
	for {
		n, err := s.Purge(ctx, time.Now().Add(-30*24*time.Hour), 2)
		must(t, err)
		if n == 0 {
			break
		}
		total += n
	}
	// 5 deliveries, 5 events, 6 idempotency keys.
	if total != 16 {
		t.Fatalf("purged %d rows, want 16", total)
	}
	for _, r := range oldDone {
		if _, err := s.GetEvent(ctx, scope, r.EventID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("old event %s survived: %v", r.EventID, err)
		}
	}
	for _, cl := range c {
		if _, err := s.GetDelivery(ctx, scope, cl.DeliveryID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("old delivery %s survived: %v", cl.DeliveryID, err)
		}
	}
	for _, r := range []store.PublishResult{oldPending, fresh} {
		if _, err := s.GetEvent(ctx, scope, r.EventID); err != nil {
			t.Fatalf("event %s was removed: %v", r.EventID, err)
		}
		ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: r.EventID})
		must(t, err)
		if len(ds) != 1 {
			t.Fatalf("deliveries of %s: %d", r.EventID, len(ds))
		}
	}
	// The old key is gone, the fresh one still replays.
	again := publishAt(time.Now(), "old-0")
	if again.Replayed {
		t.Fatal("an expired idempotency key still replays")
	}
	if r := publishAt(time.Now(), "fresh"); !r.Replayed {
		t.Fatal("a fresh idempotency key was purged")
	}
}

func testTenantUpdate(t *testing.T, s store.Store) {
	tenant(t, s, "acme")
	must(t, s.UpdateTenant(ctx, &domain.Tenant{ID: "acme", Name: "Acme Bank", RateLimitPerMinute: 600, RateLimitBurst: 50}))
	got, err := s.GetTenant(ctx, "acme")
	must(t, err)
	if got.Name != "Acme Bank" || got.RateLimitPerMinute != 600 || got.RateLimitBurst != 50 {
		t.Fatalf("tenant = %+v", got)
	}
	if err := s.UpdateTenant(ctx, &domain.Tenant{ID: "nobody", Name: "x"}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("update missing tenant: %v", err)
	}
}

func apiKey(t *testing.T, s store.Store, sc domain.Scope, secret string) *domain.APIKey {
	t.Helper()
	k := &domain.APIKey{ID: domain.NewID("key"), TenantID: sc.TenantID, Environment: sc.Environment, Prefix: secret[:6], CreatedAt: time.Now()}
	must(t, s.CreateAPIKey(ctx, k, []byte(secret)))
	return k
}

func testAPIKeys(t *testing.T, s store.Store) {
	setup(t, s)
	k := apiKey(t, s, scope, "hash-one")
	apiKey(t, s, other, "hash-two")
	got, err := s.APIKeyByHash(ctx, []byte("hash-one"))
	must(t, err)
	if got.ID != k.ID || got.TenantID != "acme" || got.Environment != domain.Sandbox || !got.Usable(time.Now()) {
		t.Fatalf("key = %+v", got)
	}
	if _, err := s.APIKeyByHash(ctx, []byte("nope")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	must(t, s.TouchAPIKey(ctx, k.ID, time.Now()))
	list, err := s.ListAPIKeys(ctx, scope)
	must(t, err)
	if len(list) != 1 || list[0].LastUsedAt == nil {
		t.Fatalf("list = %+v", list)
	}
	// Rotation: the old key works until its grace period ends.
	next := &domain.APIKey{ID: domain.NewID("key"), TenantID: "acme", Environment: domain.Sandbox, Prefix: "next", CreatedAt: time.Now()}
	grace := time.Now().Add(time.Hour)
	if err := s.RotateAPIKey(ctx, other, k.ID, grace, next, []byte("hash-next")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("rotate from another tenant: %v", err)
	}
	must(t, s.RotateAPIKey(ctx, scope, k.ID, grace, next, []byte("hash-next")))
	old, err := s.APIKeyByHash(ctx, []byte("hash-one"))
	must(t, err)
	if !old.Usable(time.Now()) || old.Usable(grace.Add(time.Second)) {
		t.Fatalf("rotated key = %+v", old)
	}
	if err := s.RevokeAPIKey(ctx, other, next.ID, time.Now()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoke from another tenant: %v", err)
	}
	must(t, s.RevokeAPIKey(ctx, scope, next.ID, time.Now()))
	revoked, err := s.APIKeyByHash(ctx, []byte("hash-next"))
	must(t, err)
	if revoked.Usable(time.Now()) {
		t.Fatal("a revoked key is usable")
	}
	if err := s.RevokeAPIKey(ctx, scope, next.ID, time.Now()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
}

func testJobCallback(t *testing.T, s store.Store) {
	setup(t, s)
	first := endpoint(t, s, scope)
	first.DefaultCallback = true
	must(t, s.UpdateEndpoint(ctx, first))
	second := endpoint(t, s, scope)
	second.DefaultCallback = true
	must(t, s.UpdateEndpoint(ctx, second))
	def, err := s.DefaultCallback(ctx, scope)
	must(t, err)
	if def.ID != second.ID {
		t.Fatalf("default callback = %s, want the last one marked", def.ID)
	}
	if e, _ := s.GetEndpoint(ctx, scope, first.ID); e.DefaultCallback {
		t.Fatal("two default callbacks in one scope")
	}
	if _, err := s.DefaultCallback(ctx, other); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("other scope's default: %v", err)
	}
	ev := event("verification.approved")
	ev.Job = &domain.Job{ID: "job_1", CallbackURL: "https://job.example.com/cb", PartnerParams: json.RawMessage(`{"u":1}`)}
	r, err := s.Publish(ctx, scope, []store.Publication{{Event: ev}})
	must(t, err)
	ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: r[0].EventID})
	must(t, err)
	targets := map[string]string{}
	for _, d := range ds {
		targets[d.EndpointID] = d.TargetURL
	}
	if len(ds) != 2 || targets[second.ID] != "https://job.example.com/cb" || targets[first.ID] != "" {
		t.Fatalf("targets = %v", targets)
	}
	// Later events of the job go to its URL without repeating it.
	later := event("verification.rejected")
	later.Job = &domain.Job{ID: "job_1"}
	r, err = s.Publish(ctx, scope, []store.Publication{{Event: later}})
	must(t, err)
	c := claimAll(t, s, "p", time.Now())
	found := false
	for _, cl := range c {
		if cl.Event.ID == r[0].EventID && cl.EndpointID == second.ID {
			found = cl.TargetURL == "https://job.example.com/cb"
		}
	}
	if !found {
		t.Fatalf("the job's later event did not go to its URL: %+v", c)
	}
}

func testJobs(t *testing.T, s store.Store) {
	setup(t, s)
	now := time.Now()
	j, err := s.PutJob(ctx, scope, &domain.Job{ID: "job_a", Kind: "kyb", PartnerParams: json.RawMessage(`{"ref":"a"}`), CallbackURL: "https://x.example/cb"}, now)
	must(t, err)
	if j.Kind != "kyb" || j.CallbackURL != "https://x.example/cb" || j.Status != "" || j.Final {
		t.Fatalf("job = %+v", j)
	}
	ev := event("verification.approved")
	ev.Final = true
	ev.Job = &domain.Job{ID: "job_a"}
	_, err = s.Publish(ctx, scope, []store.Publication{{Event: ev}})
	must(t, err)
	ev2 := event("verification.started")
	ev2.Job = &domain.Job{ID: "job_b"}
	_, err = s.Publish(ctx, scope, []store.Publication{{Event: ev2}})
	must(t, err)
	j, err = s.GetJob(ctx, scope, "job_a")
	must(t, err)
	if j.Status != "verification.approved" || !j.Final || string(j.PartnerParams) != `{"ref":"a"}` || j.Kind != "kyb" {
		t.Fatalf("job after its event = %+v", j)
	}
	if _, err := s.GetJob(ctx, other, "job_a"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("job visible to another tenant: %v", err)
	}
	evs, err := s.JobEvents(ctx, scope, "job_a", store.Page{})
	must(t, err)
	if len(evs) != 1 || evs[0].ID != ev.ID || evs[0].Job.Kind != "kyb" {
		t.Fatalf("job events = %+v", evs)
	}
	final := true
	list, err := s.ListJobs(ctx, scope, store.JobFilter{Final: &final})
	must(t, err)
	if len(list) != 1 || list[0].ID != "job_a" {
		t.Fatalf("final jobs = %+v", list)
	}
	all, err := s.ListJobs(ctx, scope, store.JobFilter{Page: store.Page{Limit: 1}})
	must(t, err)
	rest, err := s.ListJobs(ctx, scope, store.JobFilter{Page: store.Page{Cursor: all[0].ID}})
	must(t, err)
	if len(all) != 1 || len(rest) != 1 || rest[0].ID == all[0].ID {
		t.Fatalf("pages = %+v / %+v", all, rest)
	}
	none, err := s.ListJobs(ctx, scope, store.JobFilter{UpdatedSince: time.Now().Add(time.Hour)})
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("updated_since in the future listed %d", len(none))
	}
}

func testTestSends(t *testing.T, s store.Store) {
	setup(t, s)
	target := endpoint(t, s, scope, "aml.*")
	endpoint(t, s, scope)
	ev := event("verification.approved")
	ev.Test = true
	r, err := s.Publish(ctx, scope, []store.Publication{{Event: ev, OnlyEndpoint: target.ID}})
	must(t, err)
	if r[0].Deliveries != 1 {
		t.Fatalf("test send made %d deliveries, want 1 (to the named endpoint, whatever its filter)", r[0].Deliveries)
	}
	ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: r[0].EventID})
	must(t, err)
	if ds[0].EndpointID != target.ID || !ds[0].Test {
		t.Fatalf("test delivery = %+v", ds[0])
	}
	publish(t, s, scope, "verification.approved")
	c, err := s.Claim(ctx, store.ClaimParams{Owner: "t", Limit: 10, Lease: time.Minute, Now: time.Now(), DeliveryIDs: []string{ds[0].ID}})
	must(t, err)
	if len(c) != 1 || c[0].DeliveryID != ds[0].ID || !c[0].Event.Test {
		t.Fatalf("claim by id = %+v", c)
	}

	// A test event's job reaches its delivery, partner params byte for
	// byte, and touches neither the job of that id nor its event list.
	kept := event("verification.started")
	kept.Job = &domain.Job{ID: "job_t", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}
	_, err = s.Publish(ctx, scope, []store.Publication{{Event: kept}})
	must(t, err)
	const params = "{ \"ref\" : \"a<b>&c\",\n \"name\": \"Zoë\" }"
	ev = event("verification.approved")
	ev.Test, ev.Final = true, true
	ev.Job = &domain.Job{ID: "job_t", Kind: "sample", PartnerParams: json.RawMessage(params)}
	r, err = s.Publish(ctx, scope, []store.Publication{{Event: ev, OnlyEndpoint: target.ID}})
	must(t, err)
	ds, err = s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: r[0].EventID})
	must(t, err)
	c, err = s.Claim(ctx, store.ClaimParams{Owner: "t", Limit: 10, Lease: time.Minute, Now: time.Now(), DeliveryIDs: []string{ds[0].ID}})
	must(t, err)
	if len(c) != 1 || c[0].Event.Job == nil || c[0].Event.Job.ID != "job_t" || c[0].Event.Job.Kind != "sample" || string(c[0].Event.Job.PartnerParams) != params {
		t.Fatalf("the test event's job = %+v", c[0].Event.Job)
	}
	job, err := s.GetJob(ctx, scope, "job_t")
	must(t, err)
	if job.Kind != "kyc" || string(job.PartnerParams) != `{"user_id":"u-1"}` || job.Final {
		t.Fatalf("a test send changed the job: %+v", job)
	}
	evs, err := s.JobEvents(ctx, scope, "job_t", store.Page{Limit: 10})
	must(t, err)
	if len(evs) != 1 || evs[0].ID != kept.ID {
		t.Fatalf("the job's events = %+v", evs)
	}
}

func testRecover(t *testing.T, s store.Store) {
	setup(t, s)
	e := endpoint(t, s, scope)
	for i := 0; i < 3; i++ {
		publish(t, s, scope, "a.b")
	}
	c := claimAll(t, s, "p", time.Now())
	must(t, s.Record(ctx, []store.Outcome{
		outcome(c[0], domain.DeliveryFailed, time.Time{}, 500),
		outcome(c[1], domain.DeliveryFailed, time.Time{}, 500),
		outcome(c[2], domain.DeliverySucceeded, time.Time{}, 200),
	}))
	if _, err := s.RecoverDeliveries(ctx, other, e.ID, time.Now().Add(-time.Hour), time.Now(), time.Now()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("recover from another tenant: %v", err)
	}
	n, err := s.RecoverDeliveries(ctx, scope, e.ID, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), time.Now())
	must(t, err)
	if n != 0 {
		t.Fatalf("an empty window recovered %d", n)
	}
	n, err = s.RecoverDeliveries(ctx, scope, e.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), time.Now())
	must(t, err)
	if n != 2 {
		t.Fatalf("recovered %d, want the 2 failed", n)
	}
	if got := claimAll(t, s, "p", time.Now().Add(time.Millisecond)); len(got) != 2 {
		t.Fatalf("after recover claimed %d", len(got))
	}
}

func testSecretRotation(t *testing.T, s store.Store) {
	setup(t, s)
	e := endpoint(t, s, scope)
	until := time.Now().Add(24 * time.Hour).Truncate(time.Microsecond)
	e.PreviousSecret, e.Secret, e.PreviousSecretExpiresAt = e.Secret, "whsec_bmV3", &until
	must(t, s.UpdateEndpoint(ctx, e))
	got, err := s.EndpointsByID(ctx, []string{e.ID})
	must(t, err)
	secrets := got[0].SigningSecrets(time.Now())
	if len(secrets) != 2 || secrets[0] != "whsec_bmV3" || secrets[1] != "whsec_dGVzdA==" || !got[0].PreviousSecretExpiresAt.Equal(until) {
		t.Fatalf("secrets = %v, expiry %v", secrets, got[0].PreviousSecretExpiresAt)
	}
	if after := got[0].SigningSecrets(until.Add(time.Second)); len(after) != 1 {
		t.Fatalf("after the grace period: %v", after)
	}
}

func testScrub(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	endpoint(t, s, scope)
	ev := event("message.otp.requested")
	ev.Sensitive = true
	ev.Data = json.RawMessage(`{"code":"918273"}`)
	_, err := s.Publish(ctx, scope, []store.Publication{{Event: ev}})
	must(t, err)
	c := claimAll(t, s, "p", time.Now())
	scrubbed := func(o store.Outcome) store.Outcome { o.EventID, o.Scrub = ev.ID, true; return o }
	// One delivery done, one still to retry: the data must stay for it.
	must(t, s.Record(ctx, []store.Outcome{
		scrubbed(outcome(c[0], domain.DeliverySucceeded, time.Time{}, 200)),
		scrubbed(outcome(c[1], domain.DeliveryPending, time.Now(), 500)),
	}))
	got, err := s.GetEvent(ctx, scope, ev.ID)
	must(t, err)
	if string(got.Data) != `{"code":"918273"}` || !got.Sensitive {
		t.Fatalf("data scrubbed while a delivery was pending: %s", got.Data)
	}
	again := claimAll(t, s, "p", time.Now().Add(time.Second))
	must(t, s.Record(ctx, []store.Outcome{scrubbed(outcome(again[0], domain.DeliverySucceeded, time.Time{}, 200))}))
	got, err = s.GetEvent(ctx, scope, ev.ID)
	must(t, err)
	if string(got.Data) != string(domain.Redacted) {
		t.Fatalf("data after delivery = %s", got.Data)
	}
}

// sealing is what a store offers for secrets at rest.
type sealing interface {
	CheckSealer(ctx context.Context) error
	Reseal(ctx context.Context, next store.Sealer) (int, error)
}

// testSealing opens one database under one master key, then another.
func testSealing(t *testing.T, open func(store.Sealer) store.Store) {
	k1, _ := secrets.NewKey()
	k2, _ := secrets.NewKey()
	box1, _ := secrets.NewBox(k1)
	box2, _ := secrets.NewBox(k2)
	reopen := func(prev store.Store, sealer store.Sealer) (store.Store, sealing) {
		t.Helper()
		if prev != nil {
			must(t, prev.Close())
		}
		s := open(sealer)
		st, ok := s.(sealing)
		if !ok {
			t.Fatalf("%T cannot seal secrets", s)
		}
		return s, st
	}
	s, st := reopen(nil, box1)
	must(t, st.CheckSealer(ctx))
	setup(t, s)
	e := endpoint(t, s, scope)
	e.Auth = &domain.EndpointAuth{Type: domain.AuthBasic, Username: "u", Password: "pa55word"}
	e.TLS = &domain.EndpointTLS{ClientCertificate: "CERT", ClientKey: "KEY"}
	e.SigningPrivateKey = "whsk_private"
	e.Headers = map[string]string{"X-Api-Key": "custom-secret"}
	e.Signatures = []domain.Signature{
		{Scheme: domain.SchemeStandardWebhooks},
		{Scheme: domain.SchemeHMACHex, Header: "X-Sig", Key: domain.KeyText, Secret: "text-secret"},
		{Scheme: domain.SchemeBodySignature, PartnerID: "085", APIKey: "smile-key"},
	}
	e.Profile, e.ProfileFields = "smart-kyc", []string{"success"}
	e.Transform = "{event: .type,\n data} # <&> ☕"
	e.ProfileOptions = map[string]json.RawMessage{"api_secret": json.RawMessage(`"option-secret"`)}
	must(t, s.UpdateEndpoint(ctx, e))
	got, err := s.GetEndpoint(ctx, scope, e.ID)
	must(t, err)
	if got.Secret != e.Secret || got.Auth.Password != "pa55word" || got.TLS.ClientKey != "KEY" || got.SigningPrivateKey != "whsk_private" ||
		got.Headers["X-Api-Key"] != "custom-secret" || got.Signatures[1].Secret != "text-secret" || got.Signatures[2].APIKey != "smile-key" ||
		string(got.ProfileOptions["api_secret"]) != `"option-secret"` || got.Profile != "smart-kyc" || !slices.Equal(got.ProfileFields, []string{"success"}) ||
		got.Transform != e.Transform {
		t.Fatalf("endpoint read back = %+v", got)
	}
	// Under another key nothing opens: what is stored is not the secret.
	s, st = reopen(s, box2)
	if err := st.CheckSealer(ctx); err == nil {
		t.Fatal("the wrong master key passed the check")
	}
	if _, err := s.GetEndpoint(ctx, scope, e.ID); err == nil {
		t.Fatal("secrets opened under the wrong master key")
	}
	// Resealing moves everything to the new key.
	s, st = reopen(s, box1)
	n, err := st.Reseal(ctx, box2)
	must(t, err)
	if n != 1 {
		t.Fatalf("resealed %d endpoints", n)
	}
	must(t, st.CheckSealer(ctx))
	got, err = s.GetEndpoint(ctx, scope, e.ID)
	must(t, err)
	if got.Secret != e.Secret || got.Auth.Password != "pa55word" || got.Headers["X-Api-Key"] != "custom-secret" ||
		got.Signatures[1].Secret != "text-secret" || got.Signatures[2].APIKey != "smile-key" ||
		string(got.ProfileOptions["api_secret"]) != `"option-secret"` {
		t.Fatalf("after reseal = %+v", got)
	}
	s, _ = reopen(s, box1)
	if _, err := s.GetEndpoint(ctx, scope, e.ID); err == nil {
		t.Fatal("the old key still opens after the reseal")
	}
}
