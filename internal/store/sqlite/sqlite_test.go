package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/storetest"
)

// fresh is the conformance suites' factory: a new file.
func fresh(t *testing.T) func(store.Sealer) store.Store {
	path := filepath.Join(t.TempDir(), "herald.db")
	return func(sealer store.Sealer) store.Store {
		s, err := Open(context.Background(), path, sealer)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, fresh) }

func TestPortalConformance(t *testing.T) { storetest.RunPortal(t, fresh) }

func TestSecondProcessIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(context.Background(), path, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: err = %v, want ErrLocked", err)
	}
}

// The writer's scheduling tests hold the writer inside one write while
// they queue others behind it, and wait until those are in the queues:
// what they check is the order in which the writer serves them, not how
// fast.

// openMarks opens a store in path with a table that writes leave their
// mark in.
func openMarks(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.group(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`CREATE TABLE IF NOT EXISTS marks (name TEXT PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func mark(tx *sql.Tx, name string) error {
	_, err := tx.Exec(`INSERT INTO marks (name) VALUES (?)`, name)
	return err
}

// hasMark reports whether q (a transaction, or the readers, which see only
// what has committed) sees name's mark.
func hasMark(t *testing.T, q interface {
	QueryRow(string, ...any) *sql.Row
}, name string) bool {
	var n int
	if err := q.QueryRow(`SELECT count(*) FROM marks WHERE name = ?`, name).Scan(&n); err != nil {
		t.Errorf("read mark %s: %v", name, err)
	}
	return n == 1
}

type writeFunc func(context.Context, func(*sql.Tx) error) error

// queued starts write and waits until it is in queue.
func queued(t *testing.T, queue chan *writeOp, write func() error) <-chan error {
	t.Helper()
	before := len(queue)
	res := make(chan error, 1)
	go func() { res <- write() }()
	deadline := time.Now().Add(30 * time.Second)
	for len(queue) == before {
		if time.Now().After(deadline) {
			t.Fatal("the write was never queued")
		}
		time.Sleep(time.Millisecond)
	}
	return res
}

func (s *Store) ordinary(t *testing.T, fn func(*sql.Tx) error) <-chan error {
	t.Helper()
	return queued(t, s.ops, func() error { return s.group(context.Background(), fn) })
}

func (s *Store) dispatcher(t *testing.T, fn func(*sql.Tx) error) <-chan error {
	t.Helper()
	return queued(t, s.queueOps, func() error { return s.queueGroup(context.Background(), fn) })
}

// hold runs a write through write that keeps the writer until release is
// closed (or the store closes), then runs fn. It returns once the writer
// is inside it.
func (s *Store) hold(write writeFunc, release <-chan struct{}, fn func(*sql.Tx) error) <-chan error {
	running := make(chan struct{})
	res := make(chan error, 1)
	go func() {
		res <- write(context.Background(), func(tx *sql.Tx) error {
			close(running)
			select {
			case <-release:
			case <-s.stop:
			}
			return fn(tx)
		})
	}()
	<-running
	return res
}

// overBudget makes a write take as long as a 1,000-event publish does: far
// over the group's budget and far longer than a claim, so no ordinary write
// may join its group.
func overBudget() { time.Sleep(50 * groupBudget) }

func wantNil(t *testing.T, name string, res <-chan error) {
	t.Helper()
	if err := <-res; err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func TestDispatcherWriteCommitsBeforeOrdinaryWritesQueuedAheadOfIt(t *testing.T) {
	s := openMarks(t, filepath.Join(t.TempDir(), "herald.db"))
	release := make(chan struct{})
	long := s.hold(s.group, release, func(tx *sql.Tx) error {
		overBudget()
		return mark(tx, "long")
	})
	var publishes []<-chan error
	claimSeen := make([]bool, 3)
	for i := range 3 {
		publishes = append(publishes, s.ordinary(t, func(tx *sql.Tx) error {
			claimSeen[i] = hasMark(t, s.read, "claim")
			return mark(tx, fmt.Sprint("publish-", i))
		}))
	}
	var publishRan bool
	claim := s.dispatcher(t, func(tx *sql.Tx) error {
		for i := range 3 {
			publishRan = publishRan || hasMark(t, tx, fmt.Sprint("publish-", i))
		}
		return mark(tx, "claim")
	})
	close(release)

	wantNil(t, "long write", long)
	wantNil(t, "claim", claim)
	for i, p := range publishes {
		wantNil(t, fmt.Sprint("publish ", i), p)
	}
	if publishRan {
		t.Error("a publish queued before the claim ran before it")
	}
	for i, seen := range claimSeen {
		if !seen {
			t.Errorf("publish %d ran before the claim queued after it had committed", i)
		}
	}
}

// openQueue opens a store with one endpoint and returns it with a function
// that publishes one event to that endpoint.
func openQueue(t *testing.T) (*Store, func() error) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "herald.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	scope := domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	if err := s.CreateTenant(ctx, &domain.Tenant{ID: scope.TenantID, Name: "Acme", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ep := &domain.Endpoint{
		ID: domain.NewID(domain.PrefixEndpoint), TenantID: scope.TenantID, Environment: scope.Environment,
		URL: "http://127.0.0.1:9/hook", Status: domain.EndpointActive, TimeoutMS: 15000, MaxConcurrency: 64,
		Success: domain.Success2xx, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now, UpdatedAt: now,
	}
	if err := ep.RetryPolicy.Normalize(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	publish := func() error {
		at := time.Now()
		_, err := s.Publish(ctx, scope, []store.Publication{{Event: domain.Event{
			ID: domain.NewIDAt(domain.PrefixEvent, at), TenantID: scope.TenantID, Environment: scope.Environment,
			Type: "verification.approved", CreatedAt: at, Data: json.RawMessage(`{"status":"approved"}`),
		}}})
		return err
	}
	if err := publish(); err != nil {
		t.Fatal(err)
	}
	return s, publish
}

func TestClaimIsNotQueuedBehindPublishes(t *testing.T) {
	ctx := context.Background()
	s, publish := openQueue(t)
	// Everything committed is due to this claim.
	claimAll := store.ClaimParams{Owner: "test", Limit: 100, Lease: time.Minute, Now: time.Now().Add(time.Hour)}

	release := make(chan struct{})
	long := s.hold(s.group, release, func(*sql.Tx) error {
		overBudget()
		return nil
	})
	// A publish reaches the writer's queue: the publish queue runs one
	// shared commit at a time, and a second would wait in it.
	publishes := []<-chan error{queued(t, s.ops, publish)}
	claimed := make(chan []store.Claimed, 1)
	claim := queued(t, s.queueOps, func() error {
		c, err := s.Claim(ctx, claimAll)
		claimed <- c
		return err
	})
	close(release)

	wantNil(t, "long write", long)
	wantNil(t, "claim", claim)
	for i, p := range publishes {
		wantNil(t, fmt.Sprint("publish ", i), p)
	}
	if c := <-claimed; len(c) != 1 {
		t.Errorf("the claim took %d deliveries, want only the one published before it was queued", len(c))
	}
	c, err := s.Claim(ctx, claimAll)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 1 {
		t.Errorf("the next claim took %d deliveries, want the one published meanwhile", len(c))
	}
}

// A claim asks which endpoints to skip when the writer runs it, not when it
// was queued: a lane that was full when the dispatcher asked for more work
// has emptied while the claim waited behind the publishes, and must get
// that work now rather than a claim later.
func TestClaimAsksWhichEndpointsToSkipWhenItRuns(t *testing.T) {
	ctx := context.Background()
	s, _ := openQueue(t)
	release := make(chan struct{})
	long := s.hold(s.group, release, func(*sql.Tx) error { return nil })
	var full atomic.Bool
	full.Store(true)
	askedWhileHeld := false
	claimed := make(chan []store.Claimed, 1)
	claim := queued(t, s.queueOps, func() error {
		c, err := s.Claim(ctx, store.ClaimParams{Owner: "test", Limit: 100, Lease: time.Minute, Now: time.Now().Add(time.Hour),
			Skip: func(string) bool {
				select {
				case <-release:
				default:
					askedWhileHeld = true
				}
				return full.Load()
			}})
		claimed <- c
		return err
	})
	// The lane empties while the claim waits for the writer.
	full.Store(false)
	close(release)

	wantNil(t, "long write", long)
	wantNil(t, "claim", claim)
	if askedWhileHeld {
		t.Error("the claim asked what to skip before the writer ran it")
	}
	if c := <-claimed; len(c) != 1 {
		t.Errorf("the claim took %d deliveries, want the one of the lane that emptied while it waited", len(c))
	}
}

func TestFailingWriteInMixedGroupFailsAlone(t *testing.T) {
	refused := errors.New("refused")
	fails := func(name string) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			if err := mark(tx, name); err != nil {
				return err
			}
			return refused
		}
	}
	succeeds := func(name string) func(*sql.Tx) error {
		return func(tx *sql.Tx) error { return mark(tx, name) }
	}
	for _, firstFails := range []bool{false, true} {
		t.Run(fmt.Sprint("first write fails=", firstFails), func(t *testing.T) {
			s := openMarks(t, filepath.Join(t.TempDir(), "herald.db"))
			first := succeeds("first")
			if firstFails {
				first = fails("first")
			}
			// A dispatcher's write holds the writer, so the group it begins
			// takes the queued dispatcher's writes and at least one other.
			release := make(chan struct{})
			res := map[string]<-chan error{"first": s.hold(s.queueGroup, release, first)}
			var sameGroup bool
			res["ordinary-fails"] = s.ordinary(t, func(tx *sql.Tx) error {
				sameGroup = hasMark(t, tx, "claim") && !hasMark(t, s.read, "claim")
				return fails("ordinary-fails")(tx)
			})
			res["ordinary"] = s.ordinary(t, succeeds("ordinary"))
			res["claim"] = s.dispatcher(t, succeeds("claim"))
			res["claim-fails"] = s.dispatcher(t, fails("claim-fails"))
			close(release)

			want := map[string]bool{"first": !firstFails, "ordinary-fails": false, "ordinary": true, "claim": true, "claim-fails": false}
			for name, ok := range want {
				err := <-res[name]
				if ok && err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if !ok && !errors.Is(err, refused) {
					t.Errorf("%s: err = %v, want its own failure", name, err)
				}
			}
			// Every write has been answered: whatever the group left behind
			// has committed by now.
			for name, ok := range want {
				if hasMark(t, s.read, name) != ok {
					t.Errorf("%s: committed = %v, want %v", name, !ok, ok)
				}
			}
			if !sameGroup {
				t.Error("the failing ordinary write did not share the dispatcher's group")
			}
		})
	}
}

func TestCloseFailsWritesNeverRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s := openMarks(t, path)
	// Held until Close has begun.
	long := s.hold(s.group, nil, func(tx *sql.Tx) error { return mark(tx, "long") })
	publish := s.ordinary(t, func(tx *sql.Tx) error { return mark(tx, "publish") })
	claim := s.dispatcher(t, func(tx *sql.Tx) error { return mark(tx, "claim") })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()

	wantNil(t, "long write", long)
	for name, res := range map[string]<-chan error{"publish": publish, "claim": claim} {
		if err := <-res; !errors.Is(err, errClosed) {
			t.Errorf("%s queued before Close: err = %v, want %v", name, err, errClosed)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for _, write := range []writeFunc{s.group, s.queueGroup} {
		if err := write(context.Background(), func(tx *sql.Tx) error { return mark(tx, "late") }); !errors.Is(err, errClosed) {
			t.Errorf("write after Close: err = %v, want %v", err, errClosed)
		}
	}

	s = openMarks(t, path)
	for name, want := range map[string]bool{"long": true, "publish": false, "claim": false, "late": false} {
		if got := hasMark(t, s.read, name); got != want {
			t.Errorf("%s: committed = %v after reopening, want %v", name, got, want)
		}
	}
}

func TestCancelledQueuedWriteIsNotRun(t *testing.T) {
	s := openMarks(t, filepath.Join(t.TempDir(), "herald.db"))
	for _, q := range []struct {
		name  string
		write writeFunc
		queue chan *writeOp
	}{{"ordinary", s.group, s.ops}, {"dispatcher", s.queueGroup, s.queueOps}} {
		t.Run(q.name, func(t *testing.T) {
			release := make(chan struct{})
			long := s.hold(s.group, release, func(*sql.Tx) error { return nil })
			ctx, cancel := context.WithCancel(context.Background())
			var ran bool
			res := queued(t, q.queue, func() error {
				return q.write(ctx, func(*sql.Tx) error { ran = true; return nil })
			})
			cancel()
			close(release)
			wantNil(t, "long write", long)
			if err := <-res; !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if ran {
				t.Error("a write cancelled before the writer reached it ran")
			}
		})
	}
}

// The writer leaves checkpoints to a connection of its own: a commit
// reaches the database file itself (not only the write-ahead log) soon
// after, although the log is far shorter than the writer's own
// checkpoint threshold.
func TestCommitsAreCheckpointedOutsideTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s := openMarks(t, path)
	if err := s.group(context.Background(), func(tx *sql.Tx) error { return mark(tx, "a") }); err != nil {
		t.Fatal(err)
	}
	// immutable: read the database file alone, ignoring the log.
	file, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	// A fresh connection each time: an immutable one caches pages.
	file.SetMaxIdleConns(0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := file.QueryRow(`SELECT count(*) FROM marks WHERE name = 'a'`).Scan(&n)
		if err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mark never reached the database file (count %d, err %v)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
