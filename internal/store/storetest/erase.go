package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// eraseTests prove erasure on request: every row Herald keeps of a
// person's events loses its personal data, the rest stays, and retention
// removes jobs.
var eraseTests = []conformanceTest{
	{"EraseByPartnerParamErasesOnePersonAndKeepsTheOther", testEraseOnePerson},
	{"EraseMatchingNothingOrAnotherScopeIsAZeroReceipt", testEraseNothing},
	{"EraseOfOneEventTakesThePartnerParamsFromEveryCopy", testEraseOneEvent},
	{"EraseEmptiesAnAttemptRecordedAfterIt", testEraseLateAttempt},
	{"EraseOfManyEventsGoesInBatches", testEraseMany},
	{"PurgeRemovesJobsOnceTheirEventsAreGone", testPurgeJobs},
}

// person publishes two events of a job whose partner params name user,
// with the marker in the data, the partner params and the idempotency
// keys; the first is delivered (its attempt keeps an answer holding the
// marker), the second stays pending.
func person(t *testing.T, s store.Store, sc domain.Scope, user, marker string) (delivered, pending string) {
	t.Helper()
	var ids []string
	for i, typ := range []string{"verification.started", "verification.approved"} {
		ev := event(typ)
		ev.Data = json.RawMessage(fmt.Sprintf(`{"name":%q,"otp":"%s-%d"}`, marker, marker, i))
		ev.Job = &domain.Job{ID: "job-" + user, Kind: "kyc", PartnerParams: json.RawMessage(fmt.Sprintf(`{"user_id":%q,"note":%q}`, user, marker))}
		key := fmt.Sprintf("%s-key-%d", marker, i)
		r, err := s.Publish(ctx, sc, []store.Publication{{Event: ev, IdempotencyKey: key, RequestHash: []byte(key)}})
		must(t, err)
		ids = append(ids, r[0].EventID)
		if i == 0 {
			ds, err := s.ListDeliveries(ctx, sc, store.DeliveryFilter{EventID: r[0].EventID})
			must(t, err)
			c, err := s.Claim(ctx, store.ClaimParams{Owner: "p", Limit: 10, Lease: time.Minute, Now: time.Now(), DeliveryIDs: []string{ds[0].ID}})
			must(t, err)
			if len(c) != 1 {
				t.Fatalf("claimed %d deliveries, want 1", len(c))
			}
			o := outcome(c[0], domain.DeliverySucceeded, time.Time{}, 200)
			o.Scope = sc
			o.Attempt.ResponseBody = `{"echo":"` + marker + `"}`
			o.Attempt.ResponseHeaders = map[string]string{"X-Echo": marker}
			must(t, s.Record(ctx, []store.Outcome{o}))
		}
	}
	return ids[0], ids[1]
}

// holds reports where a scope's rows, as the store reads them, still
// hold marker.
func holds(t *testing.T, s store.Store, sc domain.Scope, marker string) []string {
	t.Helper()
	var found []string
	look := func(what string, v any) {
		raw, err := json.Marshal(v)
		must(t, err)
		if strings.Contains(string(raw), marker) {
			found = append(found, what)
		}
	}
	for _, ev := range allEvents(t, s, sc) {
		look("event "+ev.ID, ev)
	}
	jobs, err := s.ListJobs(ctx, sc, store.JobFilter{Page: store.Page{Limit: store.MaxPageSize}})
	must(t, err)
	for _, j := range jobs {
		look("job "+j.ID, j)
	}
	for _, d := range allDeliveries(t, s, sc) {
		full, err := s.GetDelivery(ctx, sc, d.ID)
		must(t, err)
		look("delivery "+d.ID, full)
	}
	return found
}

func testEraseOnePerson(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	aliceDone, alicePending := person(t, s, scope, "alice", "MARK-ALICE")
	bobDone, _ := person(t, s, scope, "bob", "MARK-BOB")

	r := &domain.Erasure{ID: domain.NewID(domain.PrefixErasure), TenantID: scope.TenantID, Environment: scope.Environment,
		PartnerParamKey: "user_id", PartnerParamValueHash: domain.HashPartnerParam(scope, "user_id", "alice")}
	entry := auditEntry(scope, "erasure.created", "erasure", r.ID, time.Now())
	must(t, s.Erase(store.WithAudit(ctx, entry), scope, domain.ErasureSelector{PartnerParamKey: "user_id", PartnerParamValue: "alice"}, r))

	want := domain.ErasureCounts{Events: 2, Jobs: 1, Deliveries: 2, CancelledDeliveries: 1, Attempts: 1, IdempotencyKeys: 2}
	if r.Matched != (domain.ErasureMatched{Jobs: 1, Events: 2}) || r.Erased != want || r.At.IsZero() {
		t.Fatalf("receipt matched %+v erased %+v at %v, want %+v", r.Matched, r.Erased, r.At, want)
	}
	if found := holds(t, s, scope, "MARK-ALICE"); len(found) > 0 {
		t.Fatalf("Alice's marker is still in %v", found)
	}
	if found := holds(t, s, scope, "MARK-BOB"); len(found) < 3 {
		t.Fatalf("Bob's data should be intact, the marker is only in %v", found)
	}
	// What stays: ids, types, times, outcomes, marked erased.
	ev, err := s.GetEvent(ctx, scope, aliceDone)
	must(t, err)
	if ev.ErasedAt == nil || string(ev.Data) != string(domain.Erased) || ev.Type != "verification.started" || ev.Job == nil || ev.Job.ID != "job-alice" {
		t.Fatalf("erased event = %+v, data %s", ev, ev.Data)
	}
	job, err := s.GetJob(ctx, scope, "job-alice")
	must(t, err)
	if job.ErasedAt == nil || job.PartnerParams != nil || job.Status != "verification.approved" {
		t.Fatalf("erased job = %+v", job)
	}
	for _, id := range []string{aliceDone, alicePending} {
		ds, err := s.ListDeliveries(ctx, scope, store.DeliveryFilter{EventID: id})
		must(t, err)
		if len(ds) != 1 || ds[0].ErasedAt == nil {
			t.Fatalf("deliveries of %s: %+v", id, ds)
		}
		d, err := s.GetDelivery(ctx, scope, ds[0].ID)
		must(t, err)
		switch id {
		case aliceDone:
			if d.Status != domain.DeliverySucceeded || len(d.AttemptLog) != 1 || d.AttemptLog[0].ResponseStatus != 200 ||
				d.AttemptLog[0].ResponseBody != "" || d.AttemptLog[0].ResponseHeaders != nil || d.AttemptLog[0].RequestHeaders != nil {
				t.Fatalf("delivered and erased: %+v", d)
			}
		case alicePending:
			if d.Status != domain.DeliveryCancelled || d.LastError != domain.ErasedReason {
				t.Fatalf("pending and erased: status %s, last error %q", d.Status, d.LastError)
			}
		}
	}
	// The cancelled delivery is not claimed; Bob's pending one is.
	c := claimAll(t, s, "q", time.Now())
	if len(c) != 1 || !strings.Contains(string(c[0].Event.Data), "MARK-BOB") {
		t.Fatalf("claimed after the erasure: %+v", c)
	}
	// Alice's idempotency keys are gone: the key no longer replays.
	again := event("verification.started")
	res, err := s.Publish(ctx, scope, []store.Publication{{Event: again, IdempotencyKey: "MARK-ALICE-key-0", RequestHash: []byte("x")}})
	must(t, err)
	if res[0].Replayed {
		t.Fatal("an erased event's idempotency key still replays")
	}
	// The receipt is kept with the audit entry, and holds no value.
	list, err := s.ListErasures(ctx, store.ErasureFilter{TenantID: scope.TenantID, Environment: scope.Environment})
	must(t, err)
	if len(list) != 1 || list[0].ID != r.ID || list[0].Erased != want || list[0].PartnerParamValueHash != r.PartnerParamValueHash {
		t.Fatalf("receipts = %+v", list)
	}
	if got := actions(listAudit(t, s, store.AuditFilter{ResourceType: "erasure"})); len(got) != 1 || got[0] != "erasure.created" {
		t.Fatalf("audit = %v", got)
	}
	// Again: harmless. The value is gone, so it matches nothing; by the
	// job it matches the same and finds nothing left to erase.
	r2 := &domain.Erasure{ID: domain.NewID(domain.PrefixErasure)}
	must(t, s.Erase(ctx, scope, domain.ErasureSelector{PartnerParamKey: "user_id", PartnerParamValue: "alice"}, r2))
	if r2.Matched != (domain.ErasureMatched{}) || r2.Erased != (domain.ErasureCounts{}) {
		t.Fatalf("repeat by value: matched %+v erased %+v", r2.Matched, r2.Erased)
	}
	r3 := &domain.Erasure{ID: domain.NewID(domain.PrefixErasure)}
	must(t, s.Erase(ctx, scope, domain.ErasureSelector{JobID: "job-alice"}, r3))
	if r3.Matched != r.Matched || r3.Erased != (domain.ErasureCounts{}) {
		t.Fatalf("repeat by job: matched %+v erased %+v", r3.Matched, r3.Erased)
	}
	if _, err := s.GetEvent(ctx, scope, bobDone); err != nil {
		t.Fatal(err)
	}
}

func testEraseNothing(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	done, _ := person(t, s, scope, "alice", "MARK-ALICE")
	for name, sel := range map[string]domain.ErasureSelector{
		"unknown job":           {JobID: "job-nobody"},
		"unknown value":         {PartnerParamKey: "user_id", PartnerParamValue: "nobody"},
		"value under other key": {PartnerParamKey: "note", PartnerParamValue: "alice"},
		"unknown event":         {EventIDs: []string{"evt_nothing"}},
	} {
		r := &domain.Erasure{ID: domain.NewID(domain.PrefixErasure)}
		must(t, s.Erase(ctx, scope, sel, r))
		if r.Matched != (domain.ErasureMatched{}) || r.Erased != (domain.ErasureCounts{}) {
			t.Fatalf("%s: matched %+v erased %+v", name, r.Matched, r.Erased)
		}
	}
	// Another tenant naming this scope's job and event erases nothing here.
	var last string
	for _, sel := range []domain.ErasureSelector{{EventIDs: []string{done}}, {JobID: "job-alice"}} {
		r := &domain.Erasure{ID: domain.NewID(domain.PrefixErasure)}
		must(t, s.Erase(ctx, other, sel, r))
		if r.Matched != (domain.ErasureMatched{}) || r.Erased != (domain.ErasureCounts{}) {
			t.Fatalf("another scope: matched %+v erased %+v", r.Matched, r.Erased)
		}
		last = r.ID
	}
	if found := holds(t, s, scope, "MARK-ALICE"); len(found) < 3 {
		t.Fatalf("nothing should have been erased; the marker is only in %v", found)
	}
	// The operator's list holds every receipt, a scope's only its own.
	all, err := s.ListErasures(ctx, store.ErasureFilter{})
	must(t, err)
	mine, err := s.ListErasures(ctx, store.ErasureFilter{TenantID: other.TenantID, Environment: other.Environment})
	must(t, err)
	if len(all) != 6 || len(mine) != 2 || mine[0].ID != last {
		t.Fatalf("receipts: all %d, other's %+v", len(all), mine)
	}
}

func testEraseOneEvent(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	first, second := person(t, s, scope, "alice", "MARK-ALICE")
	r := &domain.Erasure{ID: domain.NewID(domain.PrefixErasure)}
	must(t, s.Erase(ctx, scope, domain.ErasureSelector{EventIDs: []string{second, second}}, r))
	if r.Matched != (domain.ErasureMatched{Events: 1}) || r.Erased.Events != 1 || r.Erased.Jobs != 1 || r.Erased.CancelledDeliveries != 1 {
		t.Fatalf("matched %+v erased %+v", r.Matched, r.Erased)
	}
	// The other event keeps its data, not the job's partner params.
	ev, err := s.GetEvent(ctx, scope, first)
	must(t, err)
	if ev.ErasedAt != nil || !strings.Contains(string(ev.Data), "MARK-ALICE") || ev.Job == nil || ev.Job.ID != "job-alice" || ev.Job.PartnerParams != nil {
		t.Fatalf("the job's other event: %+v, data %s", ev, ev.Data)
	}
}

func testEraseLateAttempt(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	r := publish(t, s, scope, "a.b")
	c := claimAll(t, s, "p", time.Now())
	// The erasure lands while the attempt is in flight.
	must(t, s.Erase(ctx, scope, domain.ErasureSelector{EventIDs: []string{r.EventID}}, &domain.Erasure{ID: domain.NewID(domain.PrefixErasure)}))
	o := outcome(c[0], domain.DeliverySucceeded, time.Time{}, 200)
	o.Attempt.ResponseBody = "LATE-MARK"
	must(t, s.Record(ctx, []store.Outcome{o}))
	d, err := s.GetDelivery(ctx, scope, c[0].DeliveryID)
	must(t, err)
	if d.Status != domain.DeliveryCancelled || len(d.AttemptLog) != 1 || d.AttemptLog[0].ResponseBody != "" || d.AttemptLog[0].ResponseStatus != 200 {
		t.Fatalf("late attempt: %+v", d)
	}
}

func testEraseMany(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	const n = 1203
	pubs := make([]store.Publication, n)
	for i := range pubs {
		pubs[i].Event = event("a.b")
		pubs[i].Event.Job = &domain.Job{ID: "job-big", PartnerParams: json.RawMessage(`{"user_id":42}`)}
	}
	_, err := s.Publish(ctx, scope, pubs)
	must(t, err)
	r := &domain.Erasure{ID: domain.NewID(domain.PrefixErasure)}
	// A number matches as its JSON text.
	must(t, s.Erase(ctx, scope, domain.ErasureSelector{PartnerParamKey: "user_id", PartnerParamValue: "42"}, r))
	if r.Matched.Events != n || r.Erased.Events != n || r.Erased.CancelledDeliveries != n || r.Erased.Jobs != 1 {
		t.Fatalf("matched %+v erased %+v", r.Matched, r.Erased)
	}
}

func testPurgeJobs(t *testing.T, s store.Store) {
	setup(t, s)
	endpoint(t, s, scope)
	old := time.Now().Add(-40 * 24 * time.Hour)
	for _, j := range []struct {
		id string
		at time.Time
	}{{"job-old", old}, {"job-new", time.Now()}} {
		ev := event("a.b")
		ev.ID, ev.CreatedAt = domain.NewIDAt(domain.PrefixEvent, j.at), j.at
		ev.Job = &domain.Job{ID: j.id, PartnerParams: json.RawMessage(`{"user_id":"u"}`)}
		_, err := s.Publish(ctx, scope, []store.Publication{{Event: ev}})
		must(t, err)
	}
	var outcomes []store.Outcome
	for _, cl := range claimAll(t, s, "p", time.Now()) {
		outcomes = append(outcomes, outcome(cl, domain.DeliverySucceeded, time.Time{}, 200))
	}
	must(t, s.Record(ctx, outcomes))
	// Registered long ago and never used since: no events, goes too.
	_, err := s.PutJob(ctx, scope, &domain.Job{ID: "job-idle"}, old)
	must(t, err)
	for {
		n, err := s.Purge(ctx, time.Now().Add(-30*24*time.Hour), 100)
		must(t, err)
		if n == 0 {
			break
		}
	}
	for _, id := range []string{"job-old", "job-idle"} {
		if _, err := s.GetJob(ctx, scope, id); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%s survived retention: %v", id, err)
		}
	}
	if _, err := s.GetJob(ctx, scope, "job-new"); err != nil {
		t.Fatalf("a job of the period was removed: %v", err)
	}
}
