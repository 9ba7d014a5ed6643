package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// publishTests prove the batched publish path.
var publishTests = []conformanceTest{
	{"PublishBatchMixesNewAndReplayedKeysAndAConflictRefusesIt", testBatchKeysMixed},
	{"PublishSameKeyTwiceInOneBatchReplaysOrConflicts", testBatchKeyTwice},
	{"PublishLargeBatchStoresEveryEventAndDeliveryWithItsFields", testLargeBatch},
	{"PublishLargeBatchAgainReplaysEveryKey", testLargeBatchReplay},
	{"PublishBatchFailingLateStoresNothing", testBatchFailsLate},
	{"PublishBatchUpsertsJobsInOrder", testBatchJobs},
	{"PublishBatchOfManyJobsEchoesEachEventsJobAsItsTurnLeftIt", testBatchJobsInterleaved},
}

// largeBatch is larger than any statement of a batched insert or lookup, and
// not a multiple of any, so every size of statement runs.
const largeBatch = 587

func keyed(typ, key, hash string) store.Publication {
	return store.Publication{Event: event(typ), IdempotencyKey: key, RequestHash: []byte(hash)}
}

// allEvents reads every event of a scope, oldest first.
func allEvents(t *testing.T, s store.Store, sc domain.Scope) []domain.Event {
	t.Helper()
	var all []domain.Event
	p := store.Page{Limit: store.MaxPageSize}
	for {
		page, err := s.ListEvents(ctx, sc, p)
		must(t, err)
		all = append(all, page...)
		if len(page) < p.Limit {
			return all
		}
		p.Cursor = page[len(page)-1].ID
	}
}

// allDeliveries reads every delivery of a scope.
func allDeliveries(t *testing.T, s store.Store, sc domain.Scope) []domain.Delivery {
	t.Helper()
	var all []domain.Delivery
	f := store.DeliveryFilter{Page: store.Page{Limit: store.MaxPageSize}}
	for {
		page, err := s.ListDeliveries(ctx, sc, f)
		must(t, err)
		all = append(all, page...)
		if len(page) < f.Limit {
			return all
		}
		f.Cursor = page[len(page)-1].ID
	}
}

func testBatchKeysMixed(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	endpoint(t, s, scope, "aml.*")
	earlier, err := s.Publish(ctx, scope, []store.Publication{keyed("aml.hit", "old-1", "h1"), keyed("a.b", "old-2", "h2")})
	must(t, err)

	batch := []store.Publication{
		keyed("a.b", "new-1", "n1"),
		keyed("a.b", "old-2", "h2"),
		{Event: event("aml.hit")},
		keyed("aml.hit", "old-1", "h1"),
		keyed("aml.hit", "new-2", "n2"),
	}
	res, err := s.Publish(ctx, scope, batch)
	must(t, err)
	want := []store.PublishResult{
		{EventID: batch[0].Event.ID, Deliveries: 1},
		{EventID: earlier[1].EventID, Deliveries: 1, Replayed: true},
		{EventID: batch[2].Event.ID, Deliveries: 2},
		{EventID: earlier[0].EventID, Deliveries: 2, Replayed: true},
		{EventID: batch[4].Event.ID, Deliveries: 2},
	}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, res[i], want[i])
		}
	}
	if n := len(allEvents(t, s, scope)); n != 5 {
		t.Fatalf("%d events stored, want 5 (2 earlier, 3 new)", n)
	}
	if n := len(allDeliveries(t, s, scope)); n != 3+5 {
		t.Fatalf("%d deliveries stored, want 8 (3 earlier, 5 new)", n)
	}

	// One conflicting key refuses the whole batch: its new key is not
	// kept, so it is new again afterwards.
	refuseBatch(t, s, []store.Publication{
		keyed("a.b", "new-3", "n3"),
		keyed("a.b", "old-2", "h2"),
		keyed("a.b", "old-1", "another body"),
	}, 5, "new-3")
}

// refuseBatch publishes a batch that must conflict, then proves it stored
// nothing: the scope still holds wantEvents events, and key, used only by
// the refused batch, is new again.
func refuseBatch(t *testing.T, s store.Store, batch []store.Publication, wantEvents int, key string) {
	t.Helper()
	_, err := s.Publish(ctx, scope, batch)
	var ce *domain.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("batch with a conflicting key: err = %v, want a conflict", err)
	}
	if n := len(allEvents(t, s, scope)); n != wantEvents {
		t.Fatalf("%d events stored after a refused batch, want %d", n, wantEvents)
	}
	res, err := s.Publish(ctx, scope, []store.Publication{keyed("a.b", key, "different now")})
	must(t, err)
	if res[0].Replayed {
		t.Fatal("the key of a refused batch was kept")
	}
}

func testBatchKeyTwice(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	endpoint(t, s, scope, "a.*")

	// The second publication replays the first, as if it came after it.
	batch := []store.Publication{keyed("a.b", "twice", "h"), {Event: event("x.y")}, keyed("a.b", "twice", "h")}
	res, err := s.Publish(ctx, scope, batch)
	must(t, err)
	first := store.PublishResult{EventID: batch[0].Event.ID, Deliveries: 2}
	if res[0] != first {
		t.Fatalf("first = %+v, want %+v", res[0], first)
	}
	if again := (store.PublishResult{EventID: first.EventID, Deliveries: 2, Replayed: true}); res[2] != again {
		t.Fatalf("second with the same key = %+v, want %+v", res[2], again)
	}
	if _, err := s.GetEvent(ctx, scope, batch[2].Event.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the replayed publication's own event was stored: err = %v", err)
	}
	if n := len(allEvents(t, s, scope)); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
	if n := len(allDeliveries(t, s, scope)); n != 3 {
		t.Fatalf("%d deliveries stored, want 3", n)
	}
	// A later publish with that key replays it too.
	res, err = s.Publish(ctx, scope, []store.Publication{keyed("a.b", "twice", "h")})
	must(t, err)
	if !res[0].Replayed || res[0].EventID != first.EventID {
		t.Fatalf("later publish = %+v, want a replay of %s", res[0], first.EventID)
	}

	// With different bodies the second conflicts with the first, and the
	// batch stores nothing.
	refuseBatch(t, s, []store.Publication{keyed("a.b", "clash", "h1"), keyed("a.b", "clash", "h2")}, 2, "clash")
}

// largePublications makes a batch with every optional field in use: keys,
// jobs (with a callback URL), expiry, sensitive data and finals.
func largePublications() []store.Publication {
	pubs := make([]store.Publication, largeBatch)
	exp := time.Now().Add(time.Hour)
	for i := range pubs {
		typ := "verification.approved"
		if i%3 == 0 {
			typ = "aml.hit"
		}
		ev := event(typ)
		ev.Data = json.RawMessage(fmt.Sprintf(`{"seq":%d}`, i))
		ev.Final = i%2 == 0
		ev.Sensitive = i%5 == 0
		if i%7 == 0 {
			ev.ExpiresAt = &exp
		}
		if i%4 == 0 {
			ev.Job = &domain.Job{ID: fmt.Sprintf("job_%d", i), Kind: "kyc", CallbackURL: "https://job.example.com/" + fmt.Sprint(i)}
		}
		pubs[i] = store.Publication{Event: ev}
		if i%2 == 1 {
			pubs[i].IdempotencyKey = fmt.Sprintf("key-%d", i)
			pubs[i].RequestHash = []byte(fmt.Sprintf("hash-%d", i))
		}
	}
	return pubs
}

func testLargeBatch(t *testing.T, s store.Store) {
	setup(t, s)
	all := endpoint(t, s, scope)
	verifications := endpoint(t, s, scope, "verification.*")
	callback := endpoint(t, s, scope)
	callback.DefaultCallback = true
	must(t, s.UpdateEndpoint(ctx, callback))

	pubs := largePublications()
	res, err := s.Publish(ctx, scope, pubs)
	must(t, err)
	if len(res) != largeBatch {
		t.Fatalf("%d results, want %d", len(res), largeBatch)
	}
	type key struct{ event, endpoint string }
	want := map[key]string{} // the delivery's target URL
	for i, p := range pubs {
		ev := p.Event
		eps := []string{all.ID, callback.ID}
		if ev.Type == "verification.approved" {
			eps = append(eps, verifications.ID)
		}
		if res[i] != (store.PublishResult{EventID: ev.ID, Deliveries: len(eps)}) {
			t.Fatalf("result %d = %+v, want event %s with %d deliveries", i, res[i], ev.ID, len(eps))
		}
		for _, ep := range eps {
			url := ""
			if ep == callback.ID && ev.Job != nil {
				url = ev.Job.CallbackURL
			}
			want[key{ev.ID, ep}] = url
		}
	}

	stored := allEvents(t, s, scope)
	if len(stored) != largeBatch {
		t.Fatalf("%d events stored, want %d", len(stored), largeBatch)
	}
	byID := map[string]domain.Event{}
	for _, e := range stored {
		byID[e.ID] = e
	}
	for _, p := range pubs {
		w := p.Event
		got, ok := byID[w.ID]
		if !ok {
			t.Fatalf("event %s missing", w.ID)
		}
		if got.Type != w.Type || string(got.Data) != string(w.Data) || got.Final != w.Final || got.Sensitive != w.Sensitive ||
			got.Test || !got.CreatedAt.Equal(w.CreatedAt.Truncate(time.Microsecond)) {
			t.Fatalf("event %s = %+v, want %+v", w.ID, got, w)
		}
		if (got.ExpiresAt == nil) != (w.ExpiresAt == nil) || w.ExpiresAt != nil && !got.ExpiresAt.Equal(w.ExpiresAt.Truncate(time.Microsecond)) {
			t.Fatalf("event %s expires %v, want %v", w.ID, got.ExpiresAt, w.ExpiresAt)
		}
		// The job's callback URL is not part of the event: it is the
		// delivery's target, checked below.
		if (got.Job == nil) != (w.Job == nil) || w.Job != nil && (got.Job.ID != w.Job.ID || got.Job.Kind != "kyc") {
			t.Fatalf("event %s job = %+v, want %+v", w.ID, got.Job, w.Job)
		}
	}

	ds := allDeliveries(t, s, scope)
	if len(ds) != len(want) {
		t.Fatalf("%d deliveries stored, want %d", len(ds), len(want))
	}
	for _, d := range ds {
		url, ok := want[key{d.EventID, d.EndpointID}]
		if !ok {
			t.Fatalf("unexpected delivery %+v", d)
		}
		delete(want, key{d.EventID, d.EndpointID})
		ev := byID[d.EventID]
		if d.TargetURL != url || d.EventType != ev.Type || d.Status != domain.DeliveryPending || d.Attempts != 0 || d.Test ||
			d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(ev.CreatedAt) || !d.CreatedAt.Equal(ev.CreatedAt) ||
			d.TenantID != scope.TenantID || d.Environment != scope.Environment {
			t.Fatalf("delivery = %+v of event %+v, want target %q", d, ev, url)
		}
	}
	if len(want) != 0 {
		t.Fatalf("%d deliveries missing", len(want))
	}

	for _, p := range pubs {
		if p.Event.Job == nil {
			continue
		}
		j, err := s.GetJob(ctx, scope, p.Event.Job.ID)
		must(t, err)
		if j.Status != p.Event.Type || j.Final != p.Event.Final || j.CallbackURL != p.Event.Job.CallbackURL {
			t.Fatalf("job = %+v after event %+v", j, p.Event)
		}
	}
}

func testLargeBatchReplay(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	first, err := s.Publish(ctx, scope, largePublications())
	must(t, err)
	// New events under the same keys with the same bodies.
	again := largePublications()
	res, err := s.Publish(ctx, scope, again)
	must(t, err)
	for i := range res {
		keyedEvent := i%2 == 1
		if res[i].Replayed != keyedEvent || keyedEvent && res[i] != (store.PublishResult{EventID: first[i].EventID, Deliveries: 1, Replayed: true}) ||
			!keyedEvent && res[i].EventID != again[i].Event.ID {
			t.Fatalf("result %d = %+v, first = %+v", i, res[i], first[i])
		}
	}
	unkeyed := (largeBatch + 1) / 2
	if n := len(allEvents(t, s, scope)); n != largeBatch+unkeyed {
		t.Fatalf("%d events stored, want %d", n, largeBatch+unkeyed)
	}
}

func testBatchFailsLate(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	pubs := largePublications()
	// The last event repeats the first's id: the database refuses it in
	// the last insert of events, after the keys, the job upserts and the
	// other events went in.
	pubs[len(pubs)-1].Event.ID = pubs[0].Event.ID
	if _, err := s.Publish(ctx, scope, pubs); err == nil {
		t.Fatal("a batch with a repeated event id was accepted")
	}
	if n := len(allEvents(t, s, scope)); n != 0 {
		t.Fatalf("%d events stored by a failed batch", n)
	}
	if n := len(allDeliveries(t, s, scope)); n != 0 {
		t.Fatalf("%d deliveries stored by a failed batch", n)
	}
	if _, err := s.GetJob(ctx, scope, "job_0"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("job of a failed batch: err = %v, want not found", err)
	}
	// Its keys were not kept: another body under one of them is new.
	res, err := s.Publish(ctx, scope, []store.Publication{keyed("a.b", "key-1", "another body")})
	must(t, err)
	if res[0].Replayed {
		t.Fatal("a key of the failed batch was kept")
	}
}

// A batch's jobs are upserted a round at a time (every job's first event,
// then the second of those that have one, …): each event must still echo
// its job as the events before it in the batch, and the job stored before
// the batch, left it, and its default callback's delivery go to the URL
// the job held then.
func testBatchJobsInterleaved(t *testing.T, s store.Store) {
	setup(t, s)
	callback := endpoint(t, s, scope)
	callback.DefaultCallback = true
	must(t, s.UpdateEndpoint(ctx, callback))
	_, err := s.PutJob(ctx, scope, &domain.Job{ID: "job_b", PartnerParams: json.RawMessage(`{"p":"stored"}`),
		CallbackURL: "https://b.example/stored"}, time.Now())
	must(t, err)
	withJob := func(typ string, final bool, j domain.Job) store.Publication {
		ev := event(typ)
		ev.Final, ev.Job = final, &j
		return store.Publication{Event: ev}
	}
	pubs := []store.Publication{
		withJob("verification.started", false, domain.Job{ID: "job_c", Kind: "kyb"}),
		withJob("verification.started", false, domain.Job{ID: "job_a", Kind: "kyc", PartnerParams: json.RawMessage(`{"p":"a1"}`)}),
		withJob("verification.started", false, domain.Job{ID: "job_b"}),
		{Event: event("a.b")},
		withJob("verification.pending", false, domain.Job{ID: "job_a", CallbackURL: "https://a.example/2"}),
		withJob("verification.approved", true, domain.Job{ID: "job_a", PartnerParams: json.RawMessage(`{"p":"a3"}`)}),
		withJob("verification.approved", false, domain.Job{ID: "job_b", PartnerParams: json.RawMessage(`{"p":"b2"}`)}),
		withJob("verification.decision_updated", false, domain.Job{ID: "job_a"}),
	}
	// What each event's job holds after it: kind, partner params, the URL
	// of its default callback's delivery ("" for the endpoint's own).
	want := []struct{ kind, params, url string }{
		{"kyb", "", ""},
		{"kyc", `{"p":"a1"}`, ""},
		{"", `{"p":"stored"}`, "https://b.example/stored"},
		{},
		{"kyc", `{"p":"a1"}`, "https://a.example/2"},
		{"kyc", `{"p":"a3"}`, "https://a.example/2"},
		{"", `{"p":"b2"}`, "https://b.example/stored"},
		{"kyc", `{"p":"a3"}`, "https://a.example/2"},
	}
	res, err := s.Publish(ctx, scope, pubs)
	must(t, err)
	url := map[string]string{}
	for _, d := range allDeliveries(t, s, scope) {
		url[d.EventID] = d.TargetURL
	}
	for i, w := range want {
		got, err := s.GetEvent(ctx, scope, res[i].EventID)
		must(t, err)
		if got.Job == nil {
			if pubs[i].Event.Job != nil {
				t.Fatalf("event %d lost its job", i)
			}
			continue
		}
		if got.Job.Kind != w.kind || string(got.Job.PartnerParams) != w.params || url[got.ID] != w.url {
			t.Errorf("event %d: job %s kind %q, params %s, delivered to %q; want %q, %s, %q",
				i, got.Job.ID, got.Job.Kind, got.Job.PartnerParams, url[got.ID], w.kind, w.params, w.url)
		}
	}
	for _, w := range []struct {
		id, status string
		final      bool
	}{{"job_a", "verification.decision_updated", true}, {"job_b", "verification.approved", false}, {"job_c", "verification.started", false}} {
		j, err := s.GetJob(ctx, scope, w.id)
		must(t, err)
		if j.Status != w.status || j.Final != w.final {
			t.Errorf("%s: status %q, final %v; want %q, %v", w.id, j.Status, j.Final, w.status, w.final)
		}
	}
}

func testBatchJobs(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	started := event("verification.started")
	started.Job = &domain.Job{ID: "job_1", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}
	approved := event("verification.approved")
	approved.Final = true
	approved.Job = &domain.Job{ID: "job_1"}
	corrected := event("verification.decision_updated")
	corrected.Job = &domain.Job{ID: "job_1"}
	res, err := s.Publish(ctx, scope, []store.Publication{{Event: started}, {Event: event("a.b")}, {Event: approved}, {Event: corrected}})
	must(t, err)
	// Each event echoes what the job held after the events before it.
	for _, i := range []int{2, 3} {
		got, err := s.GetEvent(ctx, scope, res[i].EventID)
		must(t, err)
		if got.Job == nil || got.Job.Kind != "kyc" || string(got.Job.PartnerParams) != `{"user_id":"u-1"}` {
			t.Fatalf("event %d job = %+v, want the partner params of the first", i, got.Job)
		}
	}
	j, err := s.GetJob(ctx, scope, "job_1")
	must(t, err)
	if j.Status != "verification.decision_updated" || !j.Final {
		t.Fatalf("job = %+v, want the last event's status, still final", j)
	}
	jobs, err := s.ListJobs(ctx, scope, store.JobFilter{})
	must(t, err)
	if len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1: an event without a job makes none", len(jobs))
	}
}
