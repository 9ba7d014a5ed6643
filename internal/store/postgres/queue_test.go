package postgres

import (
	"io/fs"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// The migration that moved the queue's state into delivery_queue moves
// what is queued: a delivery in flight stays leased to its process, one
// due stays due, one that ended stays out of the queue, whether the
// schema goes down to deliveries' own columns or up again.
func TestQueueMigrationKeepsLeasesDueTimesAndEnds(t *testing.T) {
	url := pgtest.URL(t)
	s := open(t, url)
	sc := tenantWithEndpoint(t, s, 4)
	now := time.Now()
	var pubs []store.Publication
	for range 3 {
		pubs = append(pubs, store.Publication{Event: domain.Event{ID: domain.NewID(domain.PrefixEvent), Type: "a.b", Data: []byte(`{}`),
			CreatedAt: now}})
	}
	_, err := s.Publish(ctx, sc, pubs)
	must(t, err)
	claimed, err := s.Claim(ctx, store.ClaimParams{Owner: "first", Limit: 2, Lease: time.Minute, Now: now})
	must(t, err)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d, want 2", len(claimed))
	}
	ended, leased := claimed[0], claimed[1]
	must(t, s.Record(ctx, []store.Outcome{{DeliveryID: ended.DeliveryID, EndpointID: ended.EndpointID, Scope: sc,
		Status: domain.DeliverySucceeded, Attempt: domain.Attempt{ID: domain.NewID(domain.PrefixAttempt), DeliveryID: ended.DeliveryID,
			Number: 1, At: now, ResponseStatus: 200}}}))
	s.Close()

	for _, to := range []int64{19, 20} {
		migrateTo(t, url, to)
		s = open(t, url)
		// Only the due delivery is claimable now.
		got, err := s.Claim(ctx, store.ClaimParams{Owner: "second", Limit: 10, Lease: time.Second, Now: now.Add(time.Second)})
		must(t, err)
		if len(got) != 1 || got[0].DeliveryID == leased.DeliveryID || got[0].DeliveryID == ended.DeliveryID {
			t.Fatalf("at version %d claimed %v, want the one due delivery", to, got)
		}
		must(t, s.Release(ctx, "second", []string{got[0].DeliveryID}))
		d, err := s.GetDelivery(ctx, sc, ended.DeliveryID)
		must(t, err)
		if d.Status != domain.DeliverySucceeded || d.NextAttemptAt != nil {
			t.Fatalf("at version %d the ended delivery is %s, due %v", to, d.Status, d.NextAttemptAt)
		}
		d, err = s.GetDelivery(ctx, sc, leased.DeliveryID)
		must(t, err)
		if d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(leased.LeaseUntil) {
			t.Fatalf("at version %d the leased delivery is due %v, want its lease's end %v", to, d.NextAttemptAt, leased.LeaseUntil)
		}
		s.Close()
	}

	// Once its lease runs out another process takes it over.
	s = open(t, url)
	got, err := s.Claim(ctx, store.ClaimParams{Owner: "second", Limit: 10, Lease: time.Minute, Now: now.Add(2 * time.Minute)})
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("after the lease claimed %d, want 2", len(got))
	}
	for _, c := range got {
		if c.DeliveryID == leased.DeliveryID && !c.TakenOver {
			t.Fatalf("the leased delivery was claimed without a takeover")
		}
	}
}

// migrateTo moves the schema at url to the version, down or up.
func migrateTo(t *testing.T, url string, version int64) {
	t.Helper()
	db, err := openDB(ctx, url, 1)
	must(t, err)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	must(t, err)
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	must(t, err)
	current, err := p.GetDBVersion(ctx)
	must(t, err)
	if version < current {
		_, err = p.DownTo(ctx, version)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	must(t, err)
}
