// Package sqlite is Herald's embedded store: one file, one writer, a pool
// of readers, and group commit so that a durable publish costs little.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxGroup bounds how many writes share one commit.
const maxGroup = 256

// ErrLocked is returned when another process holds the database file.
var ErrLocked = errors.New("database file is in use by another Herald process")

// Store is the SQLite implementation of store.Store.
type Store struct {
	*sqlstore.DB
	read, write *sql.DB
	lock        *flock.Flock
	ops         chan *writeOp
	stop        chan struct{}
	done        sync.WaitGroup
	closeOnce   sync.Once
}

type writeOp struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

// Open opens (creating if needed) the database at path, takes the file
// lock, applies migrations and gives back every lease a previous process
// left behind: holding the lock proves that process is gone.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	lock := flock.New(abs + ".lock")
	ok, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("open sqlite: lock %s: %w", abs+".lock", err)
	}
	if !ok {
		return nil, fmt.Errorf("open sqlite %s: %w; stop it first, or use PostgreSQL to run several processes", abs, ErrLocked)
	}
	s := &Store{lock: lock, ops: make(chan *writeOp, maxGroup), stop: make(chan struct{})}
	if err := s.open(ctx, abs); err != nil {
		s.closeDBs()
		_ = lock.Unlock()
		return nil, err
	}
	s.done.Add(1)
	go s.writer()
	return s, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a commit is on disk before the API answers 202.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(memory)")
	// The writer walks the queue's hot indexes on every claim and record:
	// it keeps 64 MiB of pages rather than reread them through system
	// calls. Readers serve the API and keep 8 MiB each, which bounds memory.
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Add("_pragma", "cache_size(-8192)")
	} else {
		q.Add("_pragma", "cache_size(-65536)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

func (s *Store) open(ctx context.Context, path string) error {
	var err error
	if s.write, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	// One writer: SQLite allows no more, and queueing in Go is cheaper than
	// waiting on the file lock.
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxIdleTime(0)
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, s.write); err != nil {
		return err
	}
	if s.read, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	s.read.SetMaxOpenConns(8)
	s.read.SetMaxIdleConns(8)
	s.DB = sqlstore.New(s.read, s.group, s.group, sqlstore.Dialect{
		RowUpdates:        true,
		IsUniqueViolation: isUniqueViolation,
		IsUnavailable:     isUnavailable,
	})
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = ?, lease_owner = NULL
		WHERE lease_owner IS NOT NULL AND status = 'pending'`, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("open sqlite: take back leases: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		slog.Info("took back deliveries leased by the previous process", "deliveries", n)
	}
	return nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}

// Migrate applies migrations and returns, for `herald migrate`.
func Migrate(ctx context.Context, path string) error {
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	return s.Close()
}

// group queues fn for the writer and waits for its commit. Writes that
// arrive while a commit is in progress share the next one: one fsync for
// many requests.
func (s *Store) group(ctx context.Context, fn func(*sql.Tx) error) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errors.New("store is closed")
	}
	// Once queued the write may commit, so wait for the truth rather than
	// give up on ctx.
	return <-op.done
}

func (s *Store) writer() {
	defer s.done.Done()
	batch := make([]*writeOp, 0, maxGroup)
	for {
		select {
		case op := <-s.ops:
			batch = append(batch[:0], op)
		drain:
			for len(batch) < maxGroup {
				select {
				case op := <-s.ops:
					batch = append(batch, op)
				default:
					break drain
				}
			}
			s.commit(batch)
		case <-s.stop:
			return
		}
	}
}

// commit runs a group in one transaction. Each write runs inside its own
// savepoint, so one write's failure is its own and the others still commit.
func (s *Store) commit(batch []*writeOp) {
	results := make([]error, len(batch))
	err := func() error {
		tx, err := s.write.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
		for i, op := range batch {
			if err := op.ctx.Err(); err != nil {
				results[i] = err
				continue
			}
			if len(batch) == 1 {
				results[i] = op.fn(tx)
				if results[i] != nil {
					return nil
				}
				continue
			}
			if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
				return err
			}
			if results[i] = op.fn(tx); results[i] != nil {
				if _, err := tx.Exec(`ROLLBACK TO w`); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(`RELEASE w`); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	for i, op := range batch {
		if err != nil && results[i] == nil {
			results[i] = err
		}
		op.done <- results[i]
	}
}

// Close stops the writer and releases the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.done.Wait()
		// Fail writes that were queued but never picked up.
		for {
			select {
			case op := <-s.ops:
				op.done <- errors.New("store is closed")
				continue
			default:
			}
			break
		}
		s.closeDBs()
		_ = s.lock.Unlock()
	})
	return nil
}

func (s *Store) closeDBs() {
	if s.read != nil {
		s.read.Close()
	}
	if s.write != nil {
		s.write.Close()
	}
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}
