package storetest

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// auditTests prove the audit log: written by the change's own store call,
// with it or not at all, and listed by scope and filter.
var auditTests = []conformanceTest{
	{"AuditEntriesAreWrittenWithTheChangeTheyRecord", testAuditWrittenWithChange},
	{"AuditEntryOfAFailedChangeIsNotWritten", testAuditRolledBack},
	{"AuditLogListsNewestFirstByScopeAndFilter", testAuditList},
	{"PurgeRemovesOldAuditEntries", testAuditPurge},
}

func auditEntry(sc domain.Scope, action, resType, resID string, at time.Time) *domain.AuditEntry {
	return &domain.AuditEntry{
		ID: domain.NewIDAt(domain.PrefixAudit, at), TenantID: sc.TenantID, Environment: sc.Environment, At: at.UTC().Truncate(time.Microsecond),
		ActorType: domain.ActorAPIKey, ActorID: "key_1", Action: action, ResourceType: resType, ResourceID: resID,
		ClientIP: "192.0.2.1", UserAgent: "storetest/1",
		Changes: map[string]domain.FieldChange{"url": {From: "https://a.example/", To: "https://b.example/"}},
	}
}

func listAudit(t *testing.T, s store.Store, f store.AuditFilter) []domain.AuditEntry {
	t.Helper()
	es, err := s.ListAudit(ctx, f)
	must(t, err)
	return es
}

func actions(es []domain.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Action
	}
	return out
}

func testAuditWrittenWithChange(t *testing.T, s store.Store) {
	now := time.Now()
	// Each entry a millisecond after the last: ids order by time.
	n := 0
	at := func() time.Time { n++; return now.Add(time.Duration(n) * time.Millisecond) }
	must(t, s.CreateTenant(store.WithAudit(ctx, auditEntry(domain.Scope{TenantID: "acme"}, "tenant.created", "tenant", "acme", at())),
		&domain.Tenant{ID: "acme", Name: "Acme", CreatedAt: now}))
	tenant(t, s, "globex") // no entry attached: none written
	e := endpoint(t, s, scope)
	e.URL = "https://b.example/"
	must(t, s.UpdateEndpoint(store.WithAudit(ctx, auditEntry(scope, "endpoint.updated", "endpoint", e.ID, at())), e))
	k := &domain.APIKey{ID: domain.NewID("key"), TenantID: "acme", Environment: domain.Sandbox, Prefix: "hk_sandbox_x", CreatedAt: now}
	must(t, s.CreateAPIKey(store.WithAudit(ctx, auditEntry(scope, "api_key.created", "api_key", k.ID, at())), k, []byte("hash-1")))
	must(t, s.RevokeAPIKey(store.WithAudit(ctx, auditEntry(scope, "api_key.revoked", "api_key", k.ID, at())), scope, k.ID, now))
	_, err := s.PutEventType(store.WithAudit(ctx, auditEntry(domain.Scope{}, "event_type.created", "event_type", "a.b", at())),
		&domain.EventType{Name: "a.b", UpdatedAt: now})
	must(t, err)
	_, err = s.RecoverDeliveries(store.WithAudit(ctx, auditEntry(scope, "endpoint.recovered", "endpoint", e.ID, at())), scope, e.ID, now.Add(-time.Hour), now, now)
	must(t, err)
	must(t, s.DeleteEndpoint(store.WithAudit(ctx, auditEntry(scope, "endpoint.deleted", "endpoint", e.ID, at())), scope, e.ID))

	got := listAudit(t, s, store.AuditFilter{})
	want := []string{"endpoint.deleted", "endpoint.recovered", "event_type.created", "api_key.revoked", "api_key.created", "endpoint.updated", "tenant.created"}
	if !slices.Equal(actions(got), want) {
		t.Fatalf("entries %v, want %v (newest first, one per change made with an entry)", actions(got), want)
	}
	u := got[5]
	if u.TenantID != "acme" || u.Environment != domain.Sandbox || u.ActorType != domain.ActorAPIKey || u.ActorID != "key_1" ||
		u.ResourceID != e.ID || u.ClientIP != "192.0.2.1" || u.UserAgent != "storetest/1" || u.At.IsZero() {
		t.Fatalf("entry read back %+v", u)
	}
	if c := u.Changes["url"]; c.From != "https://a.example/" || c.To != "https://b.example/" {
		t.Fatalf("changes read back %+v", u.Changes)
	}
}

func testAuditRolledBack(t *testing.T, s store.Store) {
	setup(t, s)
	now := time.Now()
	// A change that fails writes no entry: a conflict, and a missing row.
	err := s.CreateTenant(store.WithAudit(ctx, auditEntry(domain.Scope{TenantID: "acme"}, "tenant.created", "tenant", "acme", now)),
		&domain.Tenant{ID: "acme", Name: "again", CreatedAt: now})
	var cf *domain.ConflictError
	if !errors.As(err, &cf) {
		t.Fatalf("creating acme twice: %v", err)
	}
	err = s.DeleteEndpoint(store.WithAudit(ctx, auditEntry(scope, "endpoint.deleted", "endpoint", "ep_missing", now)), scope, "ep_missing")
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("deleting a missing endpoint: %v", err)
	}
	if got := listAudit(t, s, store.AuditFilter{}); len(got) != 0 {
		t.Fatalf("failed changes left entries: %v", actions(got))
	}
}

func testAuditList(t *testing.T, s store.Store) {
	setup(t, s)
	base := time.Now().Add(-time.Hour)
	write := func(sc domain.Scope, action, resType, resID string, at time.Time) {
		t.Helper()
		e := auditEntry(sc, action, resType, resID, at)
		must(t, s.UpdateTenant(store.WithAudit(ctx, e), &domain.Tenant{ID: "acme", Name: "Acme"}))
	}
	write(scope, "endpoint.created", "endpoint", "ep_1", base)
	write(scope, "endpoint.updated", "endpoint", "ep_1", base.Add(time.Minute))
	write(other, "endpoint.created", "endpoint", "ep_2", base.Add(2*time.Minute))
	write(prod, "api_key.created", "api_key", "key_9", base.Add(3*time.Minute))
	write(domain.Scope{}, "event_type.created", "event_type", "a.b", base.Add(4*time.Minute))

	scoped := listAudit(t, s, store.AuditFilter{Scoped: true, TenantID: "acme", Environment: domain.Sandbox})
	if !slices.Equal(actions(scoped), []string{"endpoint.updated", "endpoint.created"}) {
		t.Fatalf("acme sandbox sees %v", actions(scoped))
	}
	if got := listAudit(t, s, store.AuditFilter{Scoped: true, TenantID: "globex", Environment: domain.Production}); len(got) != 0 {
		t.Fatalf("an empty scope sees %v", actions(got))
	}
	if got := listAudit(t, s, store.AuditFilter{}); len(got) != 5 {
		t.Fatalf("the operator sees %d entries, want all 5", len(got))
	}
	if got := listAudit(t, s, store.AuditFilter{TenantID: "acme"}); len(got) != 3 {
		t.Fatalf("acme's entries in both environments: %v", actions(got))
	}
	if got := listAudit(t, s, store.AuditFilter{ResourceType: "endpoint", ResourceID: "ep_1", Action: "endpoint.updated"}); len(got) != 1 {
		t.Fatalf("by resource and action: %v", actions(got))
	}
	if got := listAudit(t, s, store.AuditFilter{ActorType: domain.ActorAPIKey, ActorID: "key_1"}); len(got) != 5 {
		t.Fatalf("by actor: %v", actions(got))
	}
	if got := listAudit(t, s, store.AuditFilter{ActorID: "key_other"}); len(got) != 0 {
		t.Fatalf("another actor's: %v", actions(got))
	}
	win := listAudit(t, s, store.AuditFilter{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)})
	if !slices.Equal(actions(win), []string{"endpoint.created", "endpoint.updated"}) {
		t.Fatalf("time window [1m, 3m): %v", actions(win))
	}
	// Pages of two, newest first, each starting before the last one's end.
	var seen []string
	cursor := ""
	for {
		page := listAudit(t, s, store.AuditFilter{Page: store.Page{Cursor: cursor, Limit: 2}})
		for _, e := range page {
			seen = append(seen, e.ID)
		}
		if len(page) < 2 {
			break
		}
		cursor = page[len(page)-1].ID
	}
	if len(seen) != 5 || !slices.IsSortedFunc(seen, func(a, b string) int { return cmp.Compare(b, a) }) {
		t.Fatalf("paged ids %v: want all 5, newest first", seen)
	}
	// changes survive the round trip as JSON.
	if b, _ := json.Marshal(scoped[0].Changes); string(b) != `{"url":{"from":"https://a.example/","to":"https://b.example/"}}` {
		t.Fatalf("changes %s", b)
	}
}

func testAuditPurge(t *testing.T, s store.Store) {
	setup(t, s)
	now := time.Now()
	for _, at := range []time.Time{now.Add(-48 * time.Hour), now.Add(-47 * time.Hour), now} {
		must(t, s.UpdateTenant(store.WithAudit(ctx, auditEntry(scope, "tenant.updated", "tenant", "acme", at)), &domain.Tenant{ID: "acme", Name: "Acme"}))
	}
	for {
		n, err := s.Purge(ctx, now.Add(-24*time.Hour), 1)
		must(t, err)
		if n == 0 {
			break
		}
	}
	got := listAudit(t, s, store.AuditFilter{})
	if len(got) != 1 || got[0].At.Before(now.Add(-time.Minute)) {
		t.Fatalf("after purging what is older than a day: %+v", got)
	}
}

// testSessionAudit proves the portal sessions' entries: the redemption of
// a link names the session it signed in, and ending a session twice
// records one sign-out.
func testSessionAudit(t *testing.T, s store.Store) {
	setup(t, s)
	ps := sessions(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	sess := &store.PortalSession{ID: domain.NewID("pss"), TenantID: "acme", Environment: domain.Sandbox,
		Environments: []domain.Environment{domain.Sandbox}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, ps.CreatePortalSession(store.WithAudit(ctx, auditEntry(scope, "portal_session.created", "portal_session", sess.ID, now)), sess, hash("tok"), nil))
	// Who signs in with a link is known once it is redeemed.
	in := auditEntry(domain.Scope{}, "portal_session.signed_in", "portal_session", "", now.Add(time.Millisecond))
	in.ActorType, in.ActorID = domain.ActorPortalSession, ""
	_, err := ps.RedeemPortalSession(store.WithAudit(ctx, in), hash("tok"), hash("sec"), now, now.Add(time.Hour))
	must(t, err)
	// A link that does not redeem records nothing.
	_, err = ps.RedeemPortalSession(store.WithAudit(ctx, auditEntry(domain.Scope{}, "portal_session.signed_in", "portal_session", "", now.Add(2*time.Millisecond))),
		hash("tok"), hash("sec2"), now, now.Add(time.Hour))
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a spent link: %v", err)
	}
	for i := range 2 {
		out := auditEntry(scope, "portal_session.signed_out", "portal_session", sess.ID, now.Add(time.Duration(3+i)*time.Millisecond))
		must(t, ps.EndPortalSession(store.WithAudit(ctx, out), sess.ID, now))
	}
	got := listAudit(t, s, store.AuditFilter{Scoped: true, TenantID: "acme", Environment: domain.Sandbox})
	if !slices.Equal(actions(got), []string{"portal_session.signed_out", "portal_session.signed_in", "portal_session.created"}) {
		t.Fatalf("session entries %v", actions(got))
	}
	if si := got[1]; si.ActorID != sess.ID || si.ResourceID != sess.ID {
		t.Fatalf("the sign-in by link names %q as actor and %q as resource, want %s", si.ActorID, si.ResourceID, sess.ID)
	}
}
