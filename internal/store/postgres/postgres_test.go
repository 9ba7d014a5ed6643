package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/internal/store/storetest"
)

var ctx = context.Background()

func open(t *testing.T, url string) *Store {
	t.Helper()
	return openSealed(t, url, nil)
}

func openSealed(t *testing.T, url string, sealer store.Sealer) *Store {
	t.Helper()
	s, err := Open(ctx, url, sealer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fresh is the conformance suites' factory: a new schema.
func fresh(t *testing.T) func(store.Sealer) store.Store {
	url := pgtest.URL(t)
	return func(sealer store.Sealer) store.Store { return openSealed(t, url, sealer) }
}

func TestConformance(t *testing.T) { storetest.Run(t, fresh) }

func TestPortalConformance(t *testing.T) { storetest.RunPortal(t, fresh) }

// Processes that start together on a fresh database all come up: the
// advisory lock lets one migrate while the others wait.
func TestConcurrentOpensOfAFreshSchemaSucceed(t *testing.T) {
	url := pgtest.URL(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, url, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	var applied int
	if err := stores[0].db.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id = 1`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Fatalf("migration 1 recorded %d times, want once", applied)
	}
	for i, s := range stores {
		if err := s.CreateTenant(ctx, &domain.Tenant{ID: fmt.Sprint("t", i), Name: "t", CreatedAt: time.Now()}); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
}

// Unlike SQLite, opening the database proves nothing about the other
// processes: their leases stay theirs until they run out.
// tenantWithEndpoint creates the tenant acme and, in its sandbox, an
// active endpoint of the given max_concurrency; it returns the scope.
func tenantWithEndpoint(t *testing.T, s *Store, maxConcurrency int) domain.Scope {
	t.Helper()
	sc := domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	now := time.Now()
	must(t, s.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "acme", CreatedAt: now}))
	e := &domain.Endpoint{
		ID: domain.NewID(domain.PrefixEndpoint), TenantID: sc.TenantID, Environment: sc.Environment,
		URL: "https://example.com/hook", Status: domain.EndpointActive, TimeoutMS: 1000, MaxConcurrency: maxConcurrency,
		Success: domain.Success2xx, Secret: "whsec_dGVzdA==", CreatedAt: now, UpdatedAt: now,
	}
	must(t, e.RetryPolicy.Normalize())
	must(t, s.CreateEndpoint(ctx, e))
	return sc
}

func TestOpenLeavesOtherProcessesLeasesAlone(t *testing.T) {
	url := pgtest.URL(t)
	first := open(t, url)
	sc := tenantWithEndpoint(t, first, 4)
	now := time.Now()
	_, err := first.Publish(ctx, sc, []store.Publication{{Event: domain.Event{
		ID: domain.NewID(domain.PrefixEvent), Type: "a.b", Data: []byte(`{}`), CreatedAt: now,
	}}})
	must(t, err)
	claim := func(s *Store, owner string, at time.Time) int {
		t.Helper()
		c, err := s.Claim(ctx, store.ClaimParams{Owner: owner, Limit: 10, Lease: time.Minute, Now: at})
		must(t, err)
		return len(c)
	}
	if n := claim(first, "first", time.Now()); n != 1 {
		t.Fatalf("first claimed %d, want 1", n)
	}
	second := open(t, url)
	if n := claim(second, "second", time.Now()); n != 0 {
		t.Fatalf("a new process took over a live lease (%d deliveries)", n)
	}
	if n := claim(second, "second", time.Now().Add(61*time.Second)); n != 1 {
		t.Fatalf("after the lease ran out the new process claimed %d, want 1", n)
	}
}

func TestPoolSizeParams(t *testing.T) {
	def := poolSizes{api: DefaultMaxConns, dispatch: DefaultDispatchConns}
	for _, tc := range []struct {
		in, out string
		sizes   poolSizes
		bad     bool
	}{
		{in: "postgres://h/db?sslmode=disable", out: "postgres://h/db?sslmode=disable", sizes: def},
		{in: "postgres://u:p@h/db?max_conns=3&sslmode=disable", out: "postgres://u:p@h/db?sslmode=disable", sizes: poolSizes{3, DefaultDispatchConns}},
		{in: "postgresql://h/db?max_conns=40", out: "postgresql://h/db", sizes: poolSizes{40, DefaultDispatchConns}},
		{in: "postgres://h/db?dispatch_conns=2&application_name=x", out: "postgres://h/db?application_name=x", sizes: poolSizes{DefaultMaxConns, 2}},
		{in: "postgres://h/db?dispatch_conns=1&max_conns=1", out: "postgres://h/db", sizes: poolSizes{1, 1}},
		{in: "postgres://h/db?max_conns=0", bad: true},
		{in: "postgres://h/db?max_conns=lots", bad: true},
		{in: "postgres://h/db?dispatch_conns=0", bad: true},
		{in: "postgres://h/db?dispatch_conns=1001", bad: true},
		{in: "host=h dbname=db", out: "host=h dbname=db", sizes: def},
	} {
		out, sizes, err := splitPoolSizes(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: no error", tc.in)
			}
			continue
		}
		if err != nil || out != tc.out || sizes != tc.sizes {
			t.Errorf("%s: got %q, %+v, %v; want %q, %+v", tc.in, out, sizes, err, tc.out, tc.sizes)
		}
	}

	s := open(t, pgtest.URL(t)+"&max_conns=3&dispatch_conns=2")
	if api, dispatch := s.db.Stats().MaxOpenConnections, s.queue.Stats().MaxOpenConnections; api != 3 || dispatch != 2 {
		t.Fatalf("pool sizes %d and %d, want 3 and 2", api, dispatch)
	}
	for _, bad := range []string{"max_conns=-1", "dispatch_conns=x"} {
		name, _, _ := strings.Cut(bad, "=")
		if _, err := Open(ctx, "postgres://127.0.0.1/x?"+bad, nil); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s: err = %v", bad, err)
		}
	}
}

// The dispatcher has connections of its own: with every connection of the
// API's pool held (a flood of publishes), it still claims, reads what it
// claimed, records and releases.
func TestDispatcherDoesNotWaitForTheAPIsConnections(t *testing.T) {
	s := open(t, pgtest.URL(t)+"&max_conns=2&dispatch_conns=1")
	sc := domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	must(t, s.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "acme", CreatedAt: time.Now()}))
	now := time.Now()
	ep := &domain.Endpoint{ID: domain.NewID(domain.PrefixEndpoint), TenantID: "acme", Environment: domain.Sandbox,
		URL: "https://example.com", Status: domain.EndpointActive, TimeoutMS: 1000, MaxConcurrency: 4,
		Success: domain.Success2xx, Secret: "whsec_dGVzdA==", CreatedAt: now, UpdatedAt: now}
	must(t, s.CreateEndpoint(ctx, ep))
	var pubs []store.Publication
	for range 3 {
		pubs = append(pubs, store.Publication{Event: domain.Event{ID: domain.NewID(domain.PrefixEvent), Type: "a.b", Data: []byte(`{}`), CreatedAt: time.Now()}})
	}
	_, err := s.Publish(ctx, sc, pubs)
	must(t, err)

	// Hold every connection of the API's pool, as publishes in flight do.
	for range 2 {
		tx, err := s.db.BeginTx(ctx, nil)
		must(t, err)
		defer tx.Rollback() //nolint:errcheck // only held
	}
	if n := s.db.Stats().InUse; n != 2 {
		t.Fatalf("%d of the API's connections held, want 2", n)
	}
	// A deadline only so that a regression fails instead of hanging.
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	claimed, err := s.Claim(dctx, store.ClaimParams{Owner: "me", Limit: 10, Lease: time.Minute, Now: time.Now()})
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claimed %d with the API's pool busy: %v", len(claimed), err)
	}
	for _, c := range claimed {
		if c.Event.CreatedAt.IsZero() {
			t.Fatalf("delivery %s claimed without its event", c.DeliveryID)
		}
	}
	eps, err := s.EndpointsByID(dctx, []string{ep.ID})
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints by id with the API's pool busy: %d, %v", len(eps), err)
	}
	must(t, s.Release(dctx, "me", []string{claimed[0].DeliveryID}))
	at := time.Now()
	must(t, s.Record(dctx, []store.Outcome{{
		DeliveryID: claimed[1].DeliveryID, EndpointID: ep.ID, EventID: claimed[1].Event.ID, Scope: sc, Status: domain.DeliverySucceeded,
		Attempt: domain.Attempt{ID: domain.NewIDAt(domain.PrefixAttempt, at), DeliveryID: claimed[1].DeliveryID, Number: 1, At: at, ResponseStatus: 200},
	}}))
}

// The API's writes get the pool's connections in the order they asked for
// them: under a flood of publishes none waits much longer than the others
// (database/sql alone hands a freed connection to a random waiter).
func TestAPIWritesTakeTurnsInOrder(t *testing.T) {
	s := open(t, pgtest.URL(t)+"&max_conns=1")
	// Hold the one turn, as a publish in progress does.
	must(t, s.turns.Acquire(ctx, 1))
	const n = 8
	order := make(chan int, n)
	done := make(chan error, n)
	for i := range n {
		go func() {
			done <- s.writeInTurn(ctx, func(tx *sql.Tx) error {
				order <- i
				_, err := tx.ExecContext(ctx, `SELECT 1`)
				return err
			})
		}()
		// Start the next one only once this one waits for its turn.
		for deadline := time.Now().Add(30 * time.Second); waitingForATurn() < i+1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("write %d never waited for a turn", i)
			}
		}
	}
	s.turns.Release(1)
	for range n {
		must(t, <-done)
	}
	for want := range n {
		if got := <-order; got != want {
			t.Fatalf("write %d had its turn when write %d's was due", got, want)
		}
	}
}

// waitingForATurn counts the goroutines blocked in the API pool's
// semaphore: a goroutine is in its queue once it blocks there.
func waitingForATurn() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, "semaphore.(*Weighted).Acquire") {
			n++
		}
	}
	return n
}

func TestOpenRedactsPassword(t *testing.T) {
	_, err := Open(ctx, "postgres://herald:s3cret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", nil)
	if err == nil {
		t.Fatal("opened a database on port 1")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error shows the password: %v", err)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("unreachable server: err = %v, want ErrUnavailable", err)
	}
}

func TestErrorClassification(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code}) }
	for _, tc := range []struct {
		err                        error
		unique, retry, unavailable bool
	}{
		{err: pg("23505"), unique: true},
		{err: &pgconn.PgError{Code: "23505", ConstraintName: "idempotency_keys_pkey"}, unique: true, retry: true},
		{err: &pgconn.PgError{Code: "23505", ConstraintName: "event_types_pkey"}, unique: true, retry: true},
		{err: &pgconn.PgError{Code: "23505", ConstraintName: "tenants_pkey"}, unique: true},
		{err: pg("23503")},
		{err: pg("40001"), retry: true},
		{err: pg("40P01"), retry: true},
		{err: pg("42P01")},
		{err: pg("08006"), unavailable: true},
		{err: pg("08001"), unavailable: true},
		{err: pg("53300"), unavailable: true},
		{err: pg("53100"), unavailable: true},
		{err: pg("57P01"), unavailable: true},
		{err: pg("57P02"), unavailable: true},
		{err: pg("57P03"), unavailable: true},
		{err: pg("57014")},
		{err: fmt.Errorf("read: %w", io.ErrUnexpectedEOF), unavailable: true},
		{err: driver.ErrBadConn, unavailable: true},
		{err: fmt.Errorf("x: %w", pgconn.ErrConnClosed), unavailable: true},
		{err: &pgconn.ConnectError{Config: &pgconn.Config{}}, unavailable: true},
		{err: sql.ErrNoRows},
		{err: errors.New("boom")},
		{err: context.Canceled},
	} {
		if got := isUniqueViolation(tc.err); got != tc.unique {
			t.Errorf("isUniqueViolation(%v) = %v", tc.err, got)
		}
		if got := isRetryable(tc.err); got != tc.retry {
			t.Errorf("isRetryable(%v) = %v", tc.err, got)
		}
		if got := isUnavailable(tc.err); got != tc.unavailable {
			t.Errorf("isUnavailable(%v) = %v", tc.err, got)
		}
	}
}

func TestWriteRetriesDeadlocks(t *testing.T) {
	s := open(t, pgtest.URL(t))
	deadlock := &pgconn.PgError{Code: deadlockDetected}
	calls := 0
	err := s.write(ctx, s.db, func(tx *sql.Tx) error {
		calls++
		if calls == 1 {
			return deadlock
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ('a', 'a', 0)`)
		return err
	})
	if err != nil || calls != 2 {
		t.Fatalf("err = %v after %d calls, want success on the second", err, calls)
	}
	calls = 0
	err = s.write(ctx, s.db, func(*sql.Tx) error { calls++; return deadlock })
	if !errors.Is(err, deadlock) || calls != 1+maxWriteRetries {
		t.Fatalf("err = %v after %d calls, want the deadlock after %d", err, calls, 1+maxWriteRetries)
	}
	calls = 0
	err = s.write(ctx, s.db, func(*sql.Tx) error { calls++; return &pgconn.PgError{Code: uniqueViolation} })
	if err == nil || calls != 1 {
		t.Fatalf("a unique violation was retried: err = %v, calls = %d", err, calls)
	}
}

// Without a single writer, requests race: the same idempotency key
// published at once by several requests gives one event, and the others
// replay it rather than fail.
func TestConcurrentPublishesWithOneIdempotencyKey(t *testing.T) {
	s := open(t, pgtest.URL(t))
	sc := domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	must(t, s.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "acme", CreatedAt: time.Now()}))
	for round := range 5 {
		key := fmt.Sprint("key-", round)
		const n = 8
		results := make([]store.PublishResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev := domain.Event{ID: domain.NewID(domain.PrefixEvent), Type: "a.b", Data: []byte(`{}`), CreatedAt: time.Now()}
				var r []store.PublishResult
				r, errs[i] = s.Publish(ctx, sc, []store.Publication{{Event: ev, IdempotencyKey: key, RequestHash: []byte("h")}})
				if errs[i] == nil {
					results[i] = r[0]
				}
			}()
		}
		wg.Wait()
		fresh := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d publish %d: %v", round, i, errs[i])
			}
			if !results[i].Replayed {
				fresh++
			}
			if results[i].EventID != results[0].EventID {
				t.Fatalf("round %d: events %s and %s for one key", round, results[0].EventID, results[i].EventID)
			}
		}
		if fresh != 1 {
			t.Fatalf("round %d: %d publishes were not replays, want 1", round, fresh)
		}
	}
	evs, err := s.ListEvents(ctx, sc, store.Page{})
	must(t, err)
	if len(evs) != 5 {
		t.Fatalf("%d events stored, want 5", len(evs))
	}
}

func TestConcurrentPutsOfANewEventType(t *testing.T) {
	s := open(t, pgtest.URL(t))
	const n = 8
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			created[i], errs[i] = s.PutEventType(ctx, &domain.EventType{Name: "a.b", Description: fmt.Sprint(i), UpdatedAt: time.Now()})
		}()
	}
	wg.Wait()
	news := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("put %d: %v", i, errs[i])
		}
		if created[i] {
			news++
		}
	}
	if news != 1 {
		t.Fatalf("%d puts created the type, want 1", news)
	}
}

// A connection the server drops is reported as the store being
// unavailable, never as a wrong request.
func TestLostConnectionIsUnavailable(t *testing.T) {
	url := pgtest.URL(t)
	s := open(t, url+"&max_conns=1")
	var pid int
	if err := s.db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	admin := open(t, url)
	if _, err := admin.db.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	_, err := s.GetTenant(ctx, "nobody")
	switch {
	case errors.Is(err, domain.ErrNotFound):
		// database/sql noticed the dead connection and used a new one.
	case errors.Is(err, store.ErrUnavailable):
	default:
		t.Fatalf("after the connection was killed: err = %v, want ErrUnavailable or not found", err)
	}
	if _, err := s.GetTenant(ctx, "nobody"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the pool did not recover: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A publish committed by one process wakes a listener in another: two
// stores on one database stand for two processes.
func TestPublishWakesListenersOfOtherProcesses(t *testing.T) {
	url := pgtest.URL(t)
	publisher, other := open(t, url), open(t, url)
	sc := domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	must(t, publisher.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "acme", CreatedAt: time.Now()}))
	now := time.Now()
	ep := &domain.Endpoint{ID: domain.NewID(domain.PrefixEndpoint), TenantID: "acme", Environment: domain.Sandbox,
		URL: "https://example.com", Status: domain.EndpointActive, TimeoutMS: 1000, MaxConcurrency: 1,
		Success: domain.Success2xx, Secret: "whsec_dGVzdA==", CreatedAt: now, UpdatedAt: now}
	must(t, publisher.CreateEndpoint(ctx, ep))

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	woken := make(chan struct{}, 16)
	go other.Listen(lctx, func() { woken <- struct{}{} })
	select { // the first wake comes when listening starts
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("listener never started")
	}
	ev := domain.Event{ID: domain.NewID(domain.PrefixEvent), Type: "a.b", Data: []byte(`{}`), CreatedAt: time.Now()}
	_, err := publisher.Publish(ctx, sc, []store.Publication{{Event: ev}})
	must(t, err)
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("a publish with due deliveries did not wake the other process")
	}
}

// TestDiskFullIsToldFromOtherOutages: SQLSTATE 53100 (disk_full) is a full
// disk, and still an outage; another resource error (53200,
// out_of_memory) is an outage only.
func TestDiskFullIsToldFromOtherOutages(t *testing.T) {
	full := fmt.Errorf("insert: %w", &pgconn.PgError{Code: "53100", Message: `could not extend file "base/16384/16397": No space left on device`})
	if !isDiskFull(full) || !isUnavailable(full) {
		t.Fatalf("53100: disk full %v, unavailable %v", isDiskFull(full), isUnavailable(full))
	}
	oom := &pgconn.PgError{Code: "53200"}
	if isDiskFull(oom) || !isUnavailable(oom) {
		t.Fatalf("53200: disk full %v, unavailable %v", isDiskFull(oom), isUnavailable(oom))
	}
}

// TestConcurrentSinglePublishesShareCommits proves the publish queue: single
// publishes that arrive together are stored by far fewer transactions than
// there are publishes (each row's xmin is the transaction that stored it).
func TestConcurrentSinglePublishesShareCommits(t *testing.T) {
	s := open(t, pgtest.URL(t))
	sc := domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	must(t, s.CreateTenant(ctx, &domain.Tenant{ID: "acme", Name: "acme", CreatedAt: time.Now()}))
	const n = 64
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ev := domain.Event{ID: domain.NewID(domain.PrefixEvent), Type: "a.b", Data: []byte(`{}`), CreatedAt: time.Now()}
			_, errs[i] = s.Publish(ctx, sc, []store.Publication{{Event: ev}})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	var events, commits int
	must(t, s.db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM events`).Scan(&events, &commits))
	if events != n {
		t.Fatalf("%d events stored, want %d", events, n)
	}
	if commits > n/4 {
		t.Fatalf("%d publishes took %d commits: they did not share them", n, commits)
	}
	t.Logf("%d single publishes in %d commits", n, commits)
}
