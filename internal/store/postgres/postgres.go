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

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultMaxConns is the connection pool size when the URL sets none.
const DefaultMaxConns = 16

// MaxConnsParam is the URL query parameter that sets the pool size, e.g.
// postgres://host/db?max_conns=32. It is Herald's, not PostgreSQL's, and is
// removed before the URL reaches the driver.
const MaxConnsParam = "max_conns"

// maxWriteRetries is how many times a write transaction that lost a
// deadlock, a serialization conflict or an insert race is run again.
const maxWriteRetries = 3

// migrationLockID is the advisory lock that serialises migrations of
// processes starting at once ("hera" in ASCII). It is Herald's own, not
// goose's default, so it never waits on another application's migrations.
const migrationLockID int64 = 0x68657261

// claimLock keeps processes that claim at once off each other's rows.
const claimLock = `FOR UPDATE SKIP LOCKED`

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	*sqlstore.DB
	db        *sql.DB
	url       string
	closeOnce sync.Once
}

// Open connects to the database at url (postgres:// or postgresql://),
// applies migrations and returns the store. Other processes may share the
// database: their leases are left alone and expire by themselves.
//
// The optional query parameter max_conns sets the pool size (default 16);
// every other parameter is the driver's (sslmode, connect_timeout, …) or a
// run-time setting of the session (search_path, application_name, …).
//
// sealer, when not nil, encrypts endpoint secrets at rest; CheckSealer
// proves it holds the key the database's secrets were sealed with.
func Open(ctx context.Context, url string, sealer store.Sealer) (*Store, error) {
	db, err := openDB(ctx, url)
	if err != nil {
		return nil, err
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
	s := &Store{db: db, url: url}
	s.DB = sqlstore.New(db, s.write, s.write, sqlstore.Dialect{
		Placeholders:      sqlstore.DollarPlaceholders,
		ClaimLock:         claimLock,
		NotifyDue:         `SELECT pg_notify('` + dueChannel + `', '')`,
		Batcher:           batcher{},
		IsUniqueViolation: isUniqueViolation,
		IsUnavailable:     isUnavailable,
		// No migration lock: Schema answers while another process migrates.
		Versions:   versions.GetVersions,
		IsDiskFull: isDiskFull,
	}, sealer)
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

// Close closes the pool.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.db.Close() })
	return err
}

func openDB(ctx context.Context, rawURL string) (*sql.DB, error) {
	connURL, maxConns, err := splitMaxConns(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(rawURL), err)
	}
	cfg, err := pgx.ParseConfig(connURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(rawURL), err)
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
			return nil, fmt.Errorf("open postgres %s: %w: %w", redact(rawURL), store.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("open postgres %s: %w", redact(rawURL), err)
	}
	return db, nil
}

// splitMaxConns takes Herald's max_conns parameter out of a URL and returns
// the URL the driver gets and the pool size.
func splitMaxConns(raw string) (string, int, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not a URL (a key=value connection string, say): the driver
		// parses it and reports what is wrong with it.
		return raw, DefaultMaxConns, nil
	}
	q := u.Query()
	if !q.Has(MaxConnsParam) {
		return raw, DefaultMaxConns, nil
	}
	v := q.Get(MaxConnsParam)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, fmt.Errorf("%s=%q: want a whole number of connections, at least 1", MaxConnsParam, v)
	}
	q.Del(MaxConnsParam)
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}

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
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for retry := 0; ; retry++ {
		err := s.writeOnce(ctx, fn)
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

func (s *Store) writeOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
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
