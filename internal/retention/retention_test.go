package retention_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

func TestTheSweeperRemovesWhatIsOlderThanThePeriodInTheBackground(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	if err := s.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "acme", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	publish := func(at time.Time) string {
		ev := domain.Event{ID: domain.NewIDAt(domain.PrefixEvent, at), Type: "a.b", Data: []byte(`{}`), CreatedAt: at}
		r, err := s.Publish(ctx, sc, []store.Publication{{Event: ev}})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].EventID
	}
	var old []string
	for i := 0; i < 25; i++ {
		old = append(old, publish(time.Now().Add(-2*time.Hour)))
	}
	recent := publish(time.Now())

	sweepUntil(t, s, 10, "old events were not swept", func() bool {
		_, err := s.GetEvent(ctx, sc, old[len(old)-1])
		return errors.Is(err, domain.ErrNotFound)
	})
	for _, id := range old {
		if _, err := s.GetEvent(ctx, sc, id); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("old event %s survived: %v", id, err)
		}
	}
	if _, err := s.GetEvent(ctx, sc, recent); err != nil {
		t.Fatalf("a recent event was swept: %v", err)
	}
}

func TestTheSweeperRemovesAuditEntriesOnTheEventsClock(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	record := func(at time.Time) {
		e := &domain.AuditEntry{ID: domain.NewIDAt(domain.PrefixAudit, at), TenantID: "acme", At: at,
			ActorType: domain.ActorOperator, Action: "tenant.updated", ResourceType: "tenant", ResourceID: "acme"}
		if err := s.UpdateTenant(store.WithAudit(ctx, e), &domain.Tenant{ID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "acme", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for range 15 {
		record(time.Now().Add(-2 * time.Hour))
	}
	record(time.Now())
	var left []domain.AuditEntry
	sweepUntil(t, s, 4, "old audit entries were not swept", func() bool {
		var err error
		if left, err = s.ListAudit(ctx, store.AuditFilter{}); err != nil {
			t.Fatal(err)
		}
		return len(left) == 1
	})
	if left[0].At.Before(time.Now().Add(-time.Hour)) {
		t.Fatalf("the recent entry was swept, an old one kept: %+v", left[0])
	}
}

// sweepUntil runs the sweeper (a period of an hour, batches of batch rows)
// until swept is true, failing with what after five seconds.
func sweepUntil(t *testing.T, s retention.Purger, batch int, what string, swept func() bool) {
	t.Helper()
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		retention.Run(rctx, s, retention.Config{Period: time.Hour, Every: time.Hour, Batch: batch, Pause: time.Millisecond})
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !swept() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
