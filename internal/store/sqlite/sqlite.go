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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxGroup bounds how many writes share one commit.
const maxGroup = 256

// groupBudget is the least time a group gives ordinary writes (publishes,
// the API's changes) after the dispatcher's: enough for many small
// publishes to share one commit. A publish of 1,000 events takes far
// longer and ends its group alone, so a claim queued behind it commits
// right after it instead of after every publish queued with it.
const groupBudget = 5 * time.Millisecond

// checkpointEvery is how often, while there are writes, a connection of its
// own copies the write-ahead log into the database file. SQLite would
// otherwise do it in the writer, inside a commit, every thousand pages:
// the writer, which every publish, claim and record waits for, then also
// writes and syncs the database file. writerCheckpointPages lets the
// writer still do it if the log grows that long all the same (the
// background checkpoint cannot finish while the writer never pauses).
const (
	checkpointEvery       = 100 * time.Millisecond
	writerCheckpointPages = 16384
)

// ErrLocked is returned when another process holds the database file.
var ErrLocked = errors.New("database file is in use by another Herald process")

var errClosed = errors.New("store is closed")

// Store is the SQLite implementation of store.Store.
type Store struct {
	*sqlstore.DB
	read, write *sql.DB
	// checkpoint copies the log into the database file (see checkpointEvery).
	checkpoint *sql.DB
	// wrote tells the checkpointer that the writer committed.
	wrote chan struct{}
	lock  *flock.Flock
	// ops queues every write but the dispatcher's, which queueOps queues.
	ops, queueOps chan *writeOp
	stop          chan struct{}
	// closed is closed once Close has answered every queued write.
	closed    chan struct{}
	done      sync.WaitGroup
	closeOnce sync.Once

	// publishes turns the single publishes that arrive together into one
	// write: one publish call, not one savepoint, subscribers read and
	// set of one-row inserts each.
	publishes *sqlstore.PublishQueue
}

type writeOp struct {
	ctx   context.Context
	fn    func(*sql.Tx) error
	done  chan error
	queue bool
}

// Open opens (creating if needed) the database at path, takes the file
// lock, applies migrations and gives back every lease a previous process
// left behind: holding the lock proves that process is gone.
//
// sealer, when not nil, encrypts endpoint secrets at rest; CheckSealer
// proves it holds the key the database's secrets were sealed with.
func Open(ctx context.Context, path string, sealer store.Sealer) (*Store, error) {
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
	s := &Store{
		lock: lock, ops: make(chan *writeOp, maxGroup), queueOps: make(chan *writeOp, maxGroup),
		stop: make(chan struct{}), closed: make(chan struct{}), wrote: make(chan struct{}, 1),
	}
	if err := s.open(ctx, abs, sealer); err != nil {
		s.closeDBs()
		_ = lock.Unlock()
		return nil, err
	}
	s.done.Add(2)
	go s.writer()
	go s.checkpointer()
	return s, nil
}

// Connection kinds, for dsn.
const (
	connWrite = iota
	connRead
	connCheckpoint
)

func dsn(path string, kind int) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a commit is on disk before the API answers 202.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(memory)")
	// Deleted and rewritten content is overwritten with zeros, so that an
	// erasure leaves no copy of it in the database file (docs/privacy.md).
	q.Add("_pragma", "secure_delete(1)")
	// The writer walks the queue's hot indexes on every claim and record:
	// it keeps 48 MiB of pages rather than reread them through system
	// calls (64 MiB measured no faster, and held a 1,000,000-event backlog
	// at 203-205 MB of RSS against 169-172). Readers serve the API and keep
	// 8 MiB each, which bounds memory.
	switch kind {
	case connRead:
		q.Add("_pragma", "query_only(1)")
		q.Add("_pragma", "cache_size(-8192)")
	case connWrite:
		q.Add("_pragma", "cache_size(-49152)")
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", writerCheckpointPages))
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

func (s *Store) open(ctx context.Context, path string, sealer store.Sealer) error {
	var err error
	if s.write, err = sql.Open("sqlite", dsn(path, connWrite)); err != nil {
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
	if s.read, err = sql.Open("sqlite", dsn(path, connRead)); err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	if s.checkpoint, err = sql.Open("sqlite", dsn(path, connCheckpoint)); err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	s.checkpoint.SetMaxOpenConns(1)
	s.checkpoint.SetMaxIdleConns(1)
	s.checkpoint.SetConnMaxIdleTime(0)
	s.read.SetMaxOpenConns(8)
	s.read.SetMaxIdleConns(8)
	// Schema reads the applied migrations on the readers.
	versions, err := goose.NewProvider(goose.DialectSQLite3, s.read, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	s.DB = sqlstore.New(sqlstore.Conns{Read: s.read, Write: s.group, QueueWrite: s.queueGroup}, sqlstore.Dialect{
		Batcher:           batcher{stmts: &stmtCache{pool: s.write}},
		IsUniqueViolation: isUniqueViolation,
		IsUnavailable:     isUnavailable,
		Versions:          versions.GetVersions,
		IsDiskFull:        isDiskFull,
		AfterErase:        s.truncateWAL,
		// CAST: a BLOB argument would be read as SQLite's binary JSONB.
		PartnerParamMatch: `EXISTS (SELECT 1 FROM json_each(CAST(jobs.partner_params AS TEXT)) AS p
			WHERE p.type IN ('text', 'integer') AND CAST(p.value AS TEXT) = ?)`,
	}, sealer)
	s.publishes = sqlstore.NewPublishQueue(s.DB.PublishShared, s.DB.Publish)
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = ?, lease_owner = NULL
		WHERE lease_owner IS NOT NULL AND status = 'pending'`, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("open sqlite: take back leases: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		slog.Info("took back deliveries leased by the previous process", "deliveries", n)
	}
	// With its leases taken back, the previous process holds none: its
	// beat would keep claims counting leases, and publishes from handing
	// deliveries over, for a minute for nothing.
	if _, err := s.write.ExecContext(ctx, `DELETE FROM dispatchers`); err != nil {
		return fmt.Errorf("open sqlite: forget the previous process: %w", err)
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
	s, err := Open(ctx, path, nil)
	if err != nil {
		return err
	}
	return s.Close()
}

// Publish stores the publications with the single publishes queued beside
// them, in one write of the writer's shared transaction
// (sqlstore.PublishQueue); a publication refused fails its own call only.
func (s *Store) Publish(ctx context.Context, scope domain.Scope, pubs []store.Publication) ([]store.PublishResult, error) {
	return s.publishes.Publish(ctx, scope, pubs)
}

// group queues fn for the writer and waits for its commit. Writes that
// arrive while a commit is in progress share the next one: one fsync for
// many requests.
func (s *Store) group(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.submit(ctx, s.ops, &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// queueGroup is group for the dispatcher's claims, records and releases.
// The writer serves them before any publish, so delivery keeps pace with
// ingest instead of waiting for the publishers to stop.
func (s *Store) queueGroup(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.submit(ctx, s.queueOps, &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1), queue: true})
}

func (s *Store) submit(ctx context.Context, ops chan *writeOp, op *writeOp) error {
	select {
	case ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errClosed
	}
	// Once queued the write may commit, so wait for the truth rather than
	// give up on ctx.
	select {
	case err := <-op.done:
		return err
	case <-s.closed:
		// Close has answered every write it found; one queued after that
		// would wait forever.
		select {
		case err := <-op.done:
			return err
		default:
			return errClosed
		}
	}
}

func (s *Store) writer() {
	defer s.done.Done()
	// held was taken from a queue and has not run yet.
	var held *writeOp
	for {
		if held == nil {
			select {
			case held = <-s.queueOps:
			case held = <-s.ops:
			case <-s.stop:
				return
			}
		}
		select {
		case <-s.stop:
			held.done <- errClosed
			return
		default:
		}
		held = s.runGroup(held)
	}
}

// runGroup runs one group of writes, starting with held, in one
// transaction and commits it. It returns held if the group filled up
// before held's turn.
func (s *Store) runGroup(held *writeOp) *writeOp {
	g := groupTx{s: s}
	for range maxGroup {
		op := g.next(&held)
		if op == nil {
			break
		}
		if err := op.ctx.Err(); err != nil {
			op.done <- err
			continue
		}
		began := time.Now()
		err := g.run(op)
		if op.queue {
			g.queueTime += time.Since(began)
		} else {
			g.ordinaryTime += time.Since(began)
		}
		if err != nil {
			g.fail(op, err)
			return held
		}
	}
	g.commit()
	return held
}

// groupTx is one group's transaction and the writes that wait for its
// commit.
type groupTx struct {
	s *Store
	// The time the dispatcher's writes took, and the others'.
	queueTime, ordinaryTime time.Duration
	tx                      *sql.Tx
	ran                     []*writeOp
}

// next returns the group's next write, or nil when it is time to commit.
// Every waiting dispatcher's write comes first. Ordinary writes follow
// while they have taken less than groupBudget or less than the
// dispatcher's writes took: a claim that arrives meanwhile waits for the
// write in progress and little more, and a busy dispatcher still leaves
// publishes half of the writer's time. The first always runs.
func (g *groupTx) next(held **writeOp) *writeOp {
	select {
	case <-g.s.stop:
		return nil
	default:
	}
	if h := *held; h != nil && h.queue {
		*held = nil
		return h
	}
	select {
	case op := <-g.s.queueOps:
		return op
	default:
	}
	if g.ordinaryTime >= max(groupBudget, g.queueTime) {
		return nil
	}
	op := *held
	*held = nil
	if op == nil {
		select {
		case op = <-g.s.ops:
		default:
			return nil
		}
	}
	return op
}

// run runs op in the group's transaction. The first write of a
// transaction needs no savepoint: if it fails, the transaction holds
// nothing else and is rolled back whole. Any later write runs in its own
// savepoint, so its failure is its own. run returns an error only when the
// transaction itself is broken; op is then not answered yet.
func (g *groupTx) run(op *writeOp) error {
	if g.tx == nil {
		tx, err := g.s.write.BeginTx(context.Background(), nil)
		if err != nil {
			op.done <- fmt.Errorf("sqlite write: begin: %w", err)
			return nil
		}
		if err := op.fn(tx); err != nil {
			_ = tx.Rollback()
			op.done <- err
			return nil
		}
		g.tx = tx
		g.ran = append(g.ran, op)
		return nil
	}
	if _, err := g.tx.Exec(`SAVEPOINT w`); err != nil {
		return fmt.Errorf("sqlite write: savepoint: %w", err)
	}
	fnErr := op.fn(g.tx)
	if fnErr != nil {
		if _, err := g.tx.Exec(`ROLLBACK TO w`); err != nil {
			return fmt.Errorf("sqlite write: roll back to savepoint: %w", err)
		}
	}
	if _, err := g.tx.Exec(`RELEASE w`); err != nil {
		return fmt.Errorf("sqlite write: release savepoint: %w", err)
	}
	if fnErr != nil {
		// Rolled back already: a failure waits for no commit.
		op.done <- fnErr
		return nil
	}
	g.ran = append(g.ran, op)
	return nil
}

// fail rolls back a broken transaction: op and every write run in it fail.
func (g *groupTx) fail(op *writeOp, err error) {
	_ = g.tx.Rollback()
	op.done <- err
	for _, o := range g.ran {
		o.done <- err
	}
}

// commit commits the group and only then answers its writes.
func (g *groupTx) commit() {
	if g.tx == nil {
		return
	}
	err := g.tx.Commit()
	if err != nil {
		err = fmt.Errorf("sqlite write: commit: %w", err)
	} else {
		select {
		case g.s.wrote <- struct{}{}:
		default:
		}
	}
	for _, op := range g.ran {
		op.done <- err
	}
}

// checkpointer copies committed pages from the log into the database file
// while there are writes, at most every checkpointEvery. PASSIVE waits for
// no one: the writer goes on appending to the log meanwhile, and a page a
// reader still needs stays in the log until a later checkpoint.
func (s *Store) checkpointer() {
	defer s.done.Done()
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wrote:
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if _, err := s.checkpoint.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			// The writer checkpoints by itself once the log is long.
			slog.Warn("sqlite checkpoint", "err", err)
		}
	}
}

// Close stops the writer and releases the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.done.Wait()
		// Fail writes that were queued but never picked up.
		for _, ops := range []chan *writeOp{s.queueOps, s.ops} {
			for drained := false; !drained; {
				select {
				case op := <-ops:
					op.done <- errClosed
				default:
					drained = true
				}
			}
		}
		close(s.closed)
		s.closeDBs()
		_ = s.lock.Unlock()
	})
	return nil
}

func (s *Store) closeDBs() {
	if s.read != nil {
		s.read.Close()
	}
	if s.checkpoint != nil {
		s.checkpoint.Close()
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

// isDiskFull recognises SQLite's "database or disk is full" (SQLITE_FULL,
// also what a max_page_count reached answers) and a write that failed with
// ENOSPC (SQLite reports those as I/O errors).
func isDiskFull(err error) bool {
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code()&0xff == sqlite3.SQLITE_FULL || (e.Code()&0xff == sqlite3.SQLITE_IOERR && strings.Contains(e.Error(), "no space left"))
}
