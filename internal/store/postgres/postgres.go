// Package postgres is Herald's shared store: several Herald processes use
// one PostgreSQL database, claim work with FOR UPDATE SKIP LOCKED and take
// over each other's expired leases.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"golang.org/x/sync/semaphore"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultMaxConns is the size of the API's connection pool when the URL
// sets none.
const DefaultMaxConns = 16

// DefaultDispatchConns is the size of the dispatcher's connection pool when
// the URL sets none: its claim loop, its recorder and the occasional
// release or endpoint read each use one at a time.
const DefaultDispatchConns = 4

// MaxConnsParam and DispatchConnsParam are the URL query parameters that
// set the pool sizes, e.g. postgres://host/db?max_conns=32&dispatch_conns=4.
// They are Herald's, not PostgreSQL's, and are removed before the URL
// reaches the driver.
const (
	MaxConnsParam      = "max_conns"
	DispatchConnsParam = "dispatch_conns"
)

// maxWriteRetries is how many times a write transaction that lost a
// deadlock, a serialization conflict or an insert race is run again.
const maxWriteRetries = 3

// migrationLockID is the advisory lock that serialises migrations of
// processes starting at once ("hera" in ASCII). It is Herald's own, not
// goose's default, so it never waits on another application's migrations.
const migrationLockID int64 = 0x68657261

// claimLock keeps processes that claim at once off each other's rows.
const claimLock = `FOR UPDATE SKIP LOCKED`

// lockEndpoints makes claims that may take from the same endpoints take
// turns, in the order of their ids so that two claims never wait for each
// other. FOR NO KEY UPDATE is the weakest row lock that two claims cannot
// both hold.
const lockEndpoints = `SELECT id FROM endpoints WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`

// handoffLock and announceLock are the lock publishes that hand deliveries
// to their dispatcher share, and that a dispatcher new to the claims takes
// alone (sqlstore.Dialect.HandoffLock). It is an advisory lock of the
// transaction, one per schema: processes on other schemas of the same
// database are other deployments ("Hand" in ASCII). handoffLock is a
// condition PostgreSQL evaluates once, before it reads a row (a one-time
// filter on an InitPlan), so the first statement of the transaction takes
// the lock even when the scope has no endpoints, and never while the
// transaction holds row locks.
const (
	handoffLock  = ` AND (SELECT pg_advisory_xact_lock_shared(1214344804, hashtext(current_schema()))::text) = ''`
	announceLock = `SELECT pg_advisory_xact_lock(1214344804, hashtext(current_schema()))`
)

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	*sqlstore.DB
	// db serves the API and the background work; queue serves the
	// dispatcher alone. Under a flood of publishes every connection of db
	// is busy and more requests wait for one (database/sql hands a freed
	// connection to a random waiter): a claim or a record waiting among
	// them would let delivery fall ever further behind ingest.
	db, queue *sql.DB
	// turns lets the API's writes into db one pool's worth at a time, in
	// the order they came: database/sql hands a freed connection to a
	// random waiter, so with hundreds of publishes waiting some waited
	// many times longer than the rest.
	turns *semaphore.Weighted
	// publishes gathers concurrent publishes into shared commits.
	publishes *sqlstore.PublishQueue
	url       string
	closeOnce sync.Once
}

// Open connects to the database at url (postgres:// or postgresql://),
// applies migrations and returns the store. Other processes may share the
// database: their leases are left alone and expire by themselves.
//
// The optional query parameters max_conns and dispatch_conns set the sizes
// of the API's pool (default 16) and of the dispatcher's (default 4); every
// other parameter is the driver's (sslmode, connect_timeout, …) or a
// run-time setting of the session (search_path, application_name, …).
//
// sealer, when not nil, encrypts endpoint secrets at rest; CheckSealer
// proves it holds the key the database's secrets were sealed with.
func Open(ctx context.Context, url string, sealer store.Sealer) (*Store, error) {
	connURL, sizes, err := splitPoolSizes(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(url), err)
	}
	db, err := openDB(ctx, connURL, sizes.api)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(url), err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	versions, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	queue, err := openDB(ctx, connURL, sizes.dispatch)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres %s: dispatcher's pool: %w", redact(url), err)
	}
	s := &Store{db: db, queue: queue, url: url, turns: semaphore.NewWeighted(int64(sizes.api))}
	s.DB = sqlstore.New(sqlstore.Conns{
		Read: db, Write: s.writeInTurn, QueueRead: queue, QueueWrite: s.writeOn(queue),
	}, sqlstore.Dialect{
		Placeholders:      sqlstore.DollarPlaceholders,
		ClaimLock:         claimLock,
		LockEndpoints:     lockEndpoints,
		HandoffLock:       handoffLock,
		AnnounceLock:      announceLock,
		RowLock:           " FOR UPDATE",
		InArray:           "= ANY(?::text[])",
		ListMode:          pgx.QueryExecModeExec,
		NotifyDue:         `SELECT pg_notify('` + dueChannel + `', '')`,
		Batcher:           batcher{},
		IsUniqueViolation: isUniqueViolation,
		IsUnavailable:     isUnavailable,
		// No migration lock: Schema answers while another process migrates.
		Versions:   versions.GetVersions,
		IsDiskFull: isDiskFull,
		// A whole number only, as SQLite's integer type: 1.0 matches
		// neither. (No question mark in it: that is a placeholder.)
		PartnerParamMatch: `EXISTS (SELECT 1 FROM jsonb_each(convert_from(jobs.partner_params, 'UTF8')::jsonb) AS p
			WHERE (jsonb_typeof(p.value) = 'string' OR (jsonb_typeof(p.value) = 'number' AND p.value #>> '{}' ~ '^-{0,1}[0-9]+$'))
			AND p.value #>> '{}' = ?)`,
	}, sealer)
	s.publishes = sqlstore.NewPublishQueue(s.DB.PublishShared, s.DB.Publish)
	return s, nil
}

// Migrate applies migrations and returns, for `herald migrate`.
func Migrate(ctx context.Context, url string) error {
	s, err := Open(ctx, url, nil)
	if err != nil {
		return err
	}
	return s.Close()
}

// Close closes the pools.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() { err = errors.Join(s.queue.Close(), s.db.Close()) })
	return err
}

// openDB opens a pool of at most maxConns connections to connURL (Herald's
// own parameters already taken out) and checks that the server answers.
// Errors do not name the URL: the caller does, redacted.
func openDB(ctx context.Context, connURL string, maxConns int) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(connURL)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// Recycle connections now and then so that a pool follows a failover or
	// a rebalanced connection pooler.
	db.SetConnMaxLifetime(time.Hour)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if isUnavailable(err) {
			return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return nil, err
	}
	return db, nil
}

// poolSizes are the connection pools' sizes.
type poolSizes struct{ api, dispatch int }

// splitPoolSizes takes Herald's max_conns and dispatch_conns parameters out
// of a URL and returns the URL the driver gets and the pools' sizes.
func splitPoolSizes(raw string) (string, poolSizes, error) {
	sizes := poolSizes{api: DefaultMaxConns, dispatch: DefaultDispatchConns}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not a URL (a key=value connection string, say): the driver
		// parses it and reports what is wrong with it.
		return raw, sizes, nil
	}
	q := u.Query()
	if !q.Has(MaxConnsParam) && !q.Has(DispatchConnsParam) {
		return raw, sizes, nil
	}
	for _, p := range []struct {
		name string
		n    *int
	}{{MaxConnsParam, &sizes.api}, {DispatchConnsParam, &sizes.dispatch}} {
		if !q.Has(p.name) {
			continue
		}
		v := q.Get(p.name)
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPoolSize {
			return "", poolSizes{}, fmt.Errorf("%s=%q: want a whole number of connections, 1 to %d", p.name, v, maxPoolSize)
		}
		*p.n = n
		q.Del(p.name)
	}
	u.RawQuery = q.Encode()
	return u.String(), sizes, nil
}

// maxPoolSize bounds each pool: far more connections than PostgreSQL
// serves well (each is a server process).
const maxPoolSize = 1000

// redact hides the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(connection string)"
	}
	return u.Redacted()
}

func migrate(ctx context.Context, db *sql.DB) error {
	// A session-level advisory lock lets several processes start at once:
	// one applies the migrations, the others wait for it and find nothing
	// left to do. Poll every second, for up to five minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// write runs fn in a READ COMMITTED transaction and commits it. Every
// commit is durable (synchronous_commit is left on): a 202 means the event
// is on disk. A transaction that lost a deadlock, a serialization conflict
// or an insert race on a checked key (see racedKeys) is rolled back and run
// again from the start, at most maxWriteRetries times.
func (s *Store) write(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	for retry := 0; ; retry++ {
		err := writeOnce(ctx, db, fn)
		if err == nil || retry == maxWriteRetries || !isRetryable(err) {
			return err
		}
		// Let the winner finish before trying again.
		backoff := time.Duration(1+retry) * time.Duration(1+rand.IntN(5)) * time.Millisecond
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return err
		}
	}
}

// writeInTurn is write on the API's pool, first come first served.
func (s *Store) writeInTurn(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.turns.Acquire(ctx, 1); err != nil {
		return err
	}
	defer s.turns.Release(1)
	return s.write(ctx, s.db, fn)
}

// writeOn is write on the given pool.
func (s *Store) writeOn(db *sql.DB) sqlstore.WriteFunc {
	return func(ctx context.Context, fn func(tx *sql.Tx) error) error { return s.write(ctx, db, fn) }
}

func writeOnce(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// SQLSTATE codes and classes; see the PostgreSQL manual, appendix A.
const (
	uniqueViolation      = "23505"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	adminShutdown        = "57P01"
	crashShutdown        = "57P02"
	cannotConnectNow     = "57P03"
	classConnection      = "08"
	classResources       = "53" // too many connections, disk full, out of memory
)

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUniqueViolation(err error) bool { return pgCode(err) == uniqueViolation }

// racedKeys are the unique keys that a write checks for and then inserts.
// Two processes (or two requests: PostgreSQL has no single writer) can both
// find the key free; the later insert then fails once the earlier commits,
// and running the write again finds the row the earlier one made: a publish
// with the same idempotency key replays (or conflicts), a second PUT of a
// new event type updates it.
var racedKeys = map[string]bool{
	"idempotency_keys_pkey": true,
	"event_types_pkey":      true,
}

// isRetryable reports whether running the whole transaction again may succeed.
func isRetryable(err error) bool {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case serializationFailure, deadlockDetected:
		return true
	case uniqueViolation:
		return racedKeys[e.ConstraintName]
	}
	return false
}

// isUnavailable recognises failures of the database or of the connection to
// it, as opposed to a statement the server refused.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if code := pgCode(err); code != "" {
		switch {
		case strings.HasPrefix(code, classConnection), strings.HasPrefix(code, classResources):
			return true
		case code == adminShutdown, code == crashShutdown, code == cannotConnectNow:
			return true
		}
		return false
	}
	if pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// diskFull is SQLSTATE 53100, disk_full: PostgreSQL could not extend a file.
const diskFull = "53100"

// isDiskFull recognises a statement PostgreSQL refused for want of disk.
func isDiskFull(err error) bool { return pgCode(err) == diskFull }
