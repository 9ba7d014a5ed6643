package storetest

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// RunPortal runs the conformance tests of what the portal needs beyond
// store.Store: its sessions and its read queries.
func RunPortal(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PortalSessionTokensAreRedeemedOnce", testSessionRedeem},
		{"PortalSessionsExpireEndAndFollowTheirKey", testSessionLifetime},
		{"DeliveryCountsBucketByEndpointAndStayInScope", testDeliveryCounts},
		{"HealthCountsAttemptsBacklogAndFailingEndpoints", testHealth},
		{"PortalSessionAuditEntriesNameTheSessionAndAreWrittenOnce", testSessionAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)(nil)) })
	}
}

func sessions(t *testing.T, s store.Store) store.PortalSessions {
	t.Helper()
	ps, ok := s.(store.PortalSessions)
	if !ok {
		t.Fatalf("%T does not implement store.PortalSessions", s)
	}
	return ps
}

func stats(t *testing.T, s store.Store) store.StatsReader {
	t.Helper()
	sr, ok := s.(store.StatsReader)
	if !ok {
		t.Fatalf("%T does not implement store.StatsReader", s)
	}
	return sr
}

func hash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func testSessionRedeem(t *testing.T, s store.Store) {
	setup(t, s)
	ps := sessions(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	sess := &store.PortalSession{
		ID: domain.NewID("pss"), TenantID: "acme", Environment: domain.Sandbox,
		Environments: []domain.Environment{domain.Sandbox, domain.Production}, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}
	must(t, ps.CreatePortalSession(ctx, sess, hash("token"), nil))
	// Not signed in yet: the token is no session secret.
	if _, err := ps.PortalSession(ctx, hash("token"), now); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the unredeemed token works as a session: %v", err)
	}
	if _, err := ps.RedeemPortalSession(ctx, hash("token"), hash("secret"), now.Add(2*time.Hour), now.Add(10*time.Hour)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("an expired link was redeemed: %v", err)
	}
	got, err := ps.RedeemPortalSession(ctx, hash("token"), hash("secret"), now.Add(time.Minute), now.Add(8*time.Hour))
	must(t, err)
	if got.ID != sess.ID || got.Operator || got.Scope() != (domain.Scope{TenantID: "acme", Environment: domain.Sandbox}) ||
		!got.Allows(domain.Production) || !got.ExpiresAt.Equal(now.Add(8*time.Hour)) {
		t.Fatalf("redeemed session = %+v", got)
	}
	if _, err := ps.RedeemPortalSession(ctx, hash("token"), hash("secret2"), now.Add(time.Minute), now.Add(8*time.Hour)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a link was redeemed twice: %v", err)
	}
	live, err := ps.PortalSession(ctx, hash("secret"), now.Add(time.Hour))
	must(t, err)
	if live.ID != sess.ID || len(live.Environments) != 2 {
		t.Fatalf("session = %+v", live)
	}
	// An operator session, signed in at once.
	op := &store.PortalSession{ID: domain.NewID("pss"), Operator: true, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, ps.CreatePortalSession(ctx, op, nil, hash("op-secret")))
	got, err = ps.PortalSession(ctx, hash("op-secret"), now)
	must(t, err)
	if !got.Operator || got.TenantID != "" {
		t.Fatalf("operator session = %+v", got)
	}
}

func testSessionLifetime(t *testing.T, s store.Store) {
	setup(t, s)
	ps := sessions(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	open := func(secret, keyID string) *store.PortalSession {
		sess := &store.PortalSession{
			ID: domain.NewID("pss"), TenantID: "acme", Environment: domain.Sandbox, Environments: []domain.Environment{domain.Sandbox},
			APIKeyID: keyID, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		}
		must(t, ps.CreatePortalSession(ctx, sess, nil, hash(secret)))
		return sess
	}
	a := open("a", "")
	if _, err := ps.PortalSession(ctx, hash("a"), now.Add(time.Hour)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("an expired session works: %v", err)
	}
	must(t, ps.EndPortalSession(ctx, a.ID, now))
	if _, err := ps.PortalSession(ctx, hash("a"), now); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("an ended session works: %v", err)
	}
	key := apiKey(t, s, scope, "hk_sandbox_portal")
	open("b", key.ID)
	if _, err := ps.PortalSession(ctx, hash("b"), now); err != nil {
		t.Fatalf("a session of a usable key: %v", err)
	}
	must(t, s.RevokeAPIKey(ctx, scope, key.ID, now))
	if _, err := ps.PortalSession(ctx, hash("b"), now); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the session outlived its revoked key: %v", err)
	}
	open("c", "key_missing")
	if _, err := ps.PortalSession(ctx, hash("c"), now); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a session of an unknown key works: %v", err)
	}
	// A long-expired session is cleared when another is created.
	old := &store.PortalSession{ID: domain.NewID("pss"), Operator: true, CreatedAt: now.Add(-72 * time.Hour), ExpiresAt: now.Add(-71 * time.Hour)}
	must(t, ps.CreatePortalSession(ctx, old, nil, hash("old")))
	open("d", "")
	if _, err := ps.PortalSession(ctx, hash("old"), now.Add(-71*time.Hour-time.Minute)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the long-expired session was kept: %v", err)
	}
}

func testDeliveryCounts(t *testing.T, s store.Store) {
	setup(t, s)
	sr := stats(t, s)
	e1, e2 := endpoint(t, s, scope), endpoint(t, s, scope)
	endpoint(t, s, other)
	since := time.Now().Add(-time.Hour)
	for range 3 {
		publish(t, s, scope, "a.b") // to e1 and e2
	}
	publish(t, s, other, "a.b")
	now := time.Now()
	c := claimAll(t, s, "p", now)
	var outs []store.Outcome
	n := map[string]int{}
	for _, cl := range c {
		if cl.EndpointID != e1.ID && cl.EndpointID != e2.ID {
			continue
		}
		n[cl.EndpointID]++
		switch {
		case cl.EndpointID == e1.ID:
			outs = append(outs, outcome(cl, domain.DeliverySucceeded, time.Time{}, 200))
		case n[cl.EndpointID] == 1:
			outs = append(outs, outcome(cl, domain.DeliveryFailed, time.Time{}, 500))
		case n[cl.EndpointID] == 2:
			outs = append(outs, outcome(cl, domain.DeliveryPending, now.Add(time.Hour), 500))
		}
		// e2's third delivery is left unattempted: its lease is released.
	}
	must(t, s.Record(ctx, outs))
	for _, cl := range c {
		if cl.EndpointID == e2.ID && n[e2.ID] == 3 {
			d, err := s.GetDelivery(ctx, scope, cl.DeliveryID)
			must(t, err)
			if d.Attempts == 0 {
				must(t, s.Release(ctx, "p", []string{cl.DeliveryID}))
			}
		}
	}
	counts, err := sr.DeliveryCounts(ctx, scope, since, time.Hour, 2)
	must(t, err)
	by := map[string]store.DeliveryCount{}
	for _, c := range counts {
		if c.Bucket != 1 {
			t.Fatalf("bucket %d, want 1 (the last hour): %+v", c.Bucket, c)
		}
		by[c.EndpointID] = c
	}
	if len(by) != 2 {
		t.Fatalf("counts of %d endpoints, want 2 (only this scope's): %+v", len(by), counts)
	}
	if g := by[e1.ID]; g.Succeeded != 3 || g.Failed != 0 || g.Attempted() != 3 {
		t.Fatalf("e1 = %+v", g)
	}
	if g := by[e2.ID]; g.Succeeded != 0 || g.Failed != 2 || g.Waiting != 1 {
		t.Fatalf("e2 = %+v", g)
	}
	// Outside the window nothing is counted.
	counts, err = sr.DeliveryCounts(ctx, scope, since.Add(-24*time.Hour), time.Hour, 2)
	must(t, err)
	if len(counts) != 0 {
		t.Fatalf("counted outside the window: %+v", counts)
	}
	counts, err = sr.DeliveryCounts(ctx, prod, since, time.Hour, 2)
	must(t, err)
	if len(counts) != 0 {
		t.Fatalf("production counted sandbox's deliveries: %+v", counts)
	}
}

func testHealth(t *testing.T, s store.Store) {
	setup(t, s)
	sr := stats(t, s)
	good, bad := endpoint(t, s, scope, "good.*"), endpoint(t, s, other, "bad.*")
	gone := endpoint(t, s, scope, "gone.*")
	publish(t, s, scope, "good.x")
	publish(t, s, other, "bad.x")
	publish(t, s, other, "bad.x")
	publish(t, s, scope, "gone.x")
	now := time.Now()
	var outs []store.Outcome
	for _, cl := range claimAll(t, s, "p", now) {
		switch cl.EndpointID {
		case good.ID:
			outs = append(outs, outcome(cl, domain.DeliverySucceeded, time.Time{}, 200))
		case bad.ID:
			o := outcome(cl, domain.DeliveryPending, now.Add(time.Hour), 500)
			o.Scope, o.Attempt.ErrorClass, o.Attempt.Error = other, "http", "the receiver answered 500"
			outs = append(outs, o)
		case gone.ID:
			o := outcome(cl, domain.DeliveryFailed, time.Time{}, 410)
			o.Attempt.ErrorClass, o.DisableEndpoint = "http", "the receiver answered 410 Gone"
			outs = append(outs, o)
		}
	}
	must(t, s.Record(ctx, outs))
	publish(t, s, scope, "good.y") // due now: the backlog
	h, err := sr.Health(ctx, time.Now(), 60)
	must(t, err)
	if len(h.Minutes) != 60 {
		t.Fatalf("%d minutes", len(h.Minutes))
	}
	attempts, failed := 0, 0
	for _, m := range h.Minutes {
		attempts, failed = attempts+m.Attempts, failed+m.Failed
	}
	if attempts != 4 || failed != 3 {
		t.Fatalf("attempts %d failed %d, want 4 and 3", attempts, failed)
	}
	if h.Pending != 3 || h.Due != 1 || h.OldestPending == nil || h.OldestDue == nil || h.OldestDue.Before(*h.OldestPending) {
		t.Fatalf("backlog = %d pending, %d due, oldest %v, oldest due %v", h.Pending, h.Due, h.OldestPending, h.OldestDue)
	}
	if len(h.Failing) != 2 || h.Failing[0].ID != bad.ID || h.Failing[0].Failed != 2 || h.Failing[0].TenantID != "globex" ||
		h.Failing[0].LastError == "" || h.Failing[1].ID != gone.ID {
		t.Fatalf("failing = %+v", h.Failing)
	}
	if len(h.Disabled) != 1 || h.Disabled[0].ID != gone.ID || h.Disabled[0].DisabledReason == "" {
		t.Fatalf("disabled = %+v", h.Disabled)
	}
}
