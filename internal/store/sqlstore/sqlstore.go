// Package sqlstore holds the queries SQLite and PostgreSQL share. Each
// database package opens its connections, runs its migrations, chooses how
// writes are committed and passes its Dialect, with its Batcher: how it
// binds the hot path's batches (its batch.go). Everything else is here,
// what goes in each column of a batch's rows included, so the two stores
// cannot drift apart.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Dialect is what differs between the databases.
type Dialect struct {
	// Placeholders rewrites "?" placeholders into the database's own form.
	Placeholders func(query string) string
	// ClaimLock is appended to the row selection of a claim of named
	// deliveries (PostgreSQL's FOR UPDATE SKIP LOCKED); SQLite has one
	// writer and needs none.
	ClaimLock string
	// LockEndpoints, when set, locks the endpoints a claim may take from
	// (its one parameter is their ids, sorted, as an array) until the
	// claim commits: claims of several processes then count each other's
	// leases (shareConcurrency). SQLite has one writer and needs none.
	LockEndpoints string
	// RowLock is appended to a selection of rows the transaction will
	// update (PostgreSQL's FOR UPDATE): the endpoints' breakers.
	RowLock string
	// HandoffLock, when set, is a condition added to a publish's read of
	// its subscribers (the first statement of every publish transaction)
	// while a dispatcher may take deliveries at publish (store.Handoff):
	// it takes a lock every such publish shares, held to its commit.
	// AnnounceLock, a statement, takes it alone: a dispatcher that has
	// not claimed lately runs it with its beat, in a transaction of their
	// own before it claims, so that every publish that read no
	// other dispatcher has committed its leases before the claim counts
	// them (PostgreSQL's advisory locks; it holds publishes for as long
	// as those in flight take to commit). SQLite's one writer orders
	// publishes and claims without them.
	HandoffLock, AnnounceLock string
	// NotifyDue, when set, runs in every transaction that makes deliveries
	// due, so idle processes wake at its commit (PostgreSQL's NOTIFY).
	NotifyDue string
	// Batcher runs the hot path's statements: publish's inserts, record's,
	// the claim of due deliveries and the write path's fixed SQL.
	Batcher Batcher
	// IsUniqueViolation recognises a duplicate-key error.
	IsUniqueViolation func(error) bool
	// IsUnavailable recognises an error of the database itself rather than
	// of the request: lost connection, disk full, read-only file.
	IsUnavailable func(error) bool
	// Versions reads the applied and the latest migration versions (the
	// migrations are the database's own; goose reads its table).
	Versions func(ctx context.Context) (current, latest int64, err error)
	// IsDiskFull recognises a write refused for want of disk space (it is
	// also unavailable).
	IsDiskFull func(error) bool
	// AfterErase, when set, runs once an erasure's rows are rewritten, to
	// push the old page images out of the database's files (SQLite's
	// write-ahead log); it reports whether it did.
	AfterErase func(ctx context.Context) (bool, error)
	// InArray, when set, is how a statement of the write or dispatch path
	// asks that a column be one of a list, with one placeholder for the
	// list as an array (PostgreSQL's "= ANY(?::text[])"): its text then
	// never changes with the list's length. Without it the list is
	// placeholders (see in).
	InArray string
	// ListMode, when set, goes first in the arguments of every statement
	// with such a list (see listArgs): pgx's QueryExecModeExec, which
	// plans the statement with the list's values each time. A prepared
	// statement's one plan for any list, made while the table was small
	// and not yet analyzed, scans the whole table ever after (measured:
	// the dispatcher's read of the claimed events took 37 ms at 20,000
	// events).
	ListMode any
	// PartnerParamMatch is a condition on jobs.partner_params with one
	// placeholder: a top-level value of the object, a string or a whole
	// number, equals it as text. The stores keep the params as bytes and
	// read JSON in their own ways.
	PartnerParamMatch string
}

// WriteFunc runs fn in a write transaction and commits it. It may run fn
// again after a rollback (PostgreSQL retries deadlocks and insert races), so
// fn must set everything it reports afresh on each run.
type WriteFunc func(ctx context.Context, fn func(tx *sql.Tx) error) error

// Conns are the connections a store runs on. The dispatcher's work has
// its own: when many API clients publish at once, a claim or a record
// must not wait behind their writes, or delivery falls behind ingest for
// as long as the load lasts.
type Conns struct {
	// Read serves queries; Write commits changes.
	Read  *sql.DB
	Write WriteFunc
	// QueueRead serves the dispatcher's reads (the claimed events, the
	// endpoints it sends to); QueueWrite commits its claims, records and
	// releases. They default to Read and Write. A store with one writer
	// serves QueueWrite ahead of the others; PostgreSQL gives both a pool
	// of their own.
	QueueRead  *sql.DB
	QueueWrite WriteFunc
}

// DB implements store.Store on database/sql, less Close.
type DB struct {
	read  *sql.DB
	write WriteFunc
	// queueRead and queueWrite serve the dispatcher (see Conns).
	queueRead  *sql.DB
	queueWrite WriteFunc
	queueReads readStmts
	dialect    Dialect
	sealer     store.Sealer
	filters    filterCache
	// beats: when each dispatcher's claims last said it runs.
	beats beats
	// handoff takes new deliveries at publish (HandOffTo).
	handoff atomic.Pointer[store.Handoff]
}

// New builds the shared store on c. sealer, when not nil, encrypts
// endpoint secrets at rest.
func New(c Conns, d Dialect, sealer store.Sealer) *DB {
	if c.QueueRead == nil {
		c.QueueRead = c.Read
	}
	if c.QueueWrite == nil {
		c.QueueWrite = c.Write
	}
	return &DB{read: c.Read, write: c.Write, queueRead: c.QueueRead, queueWrite: c.QueueWrite, dialect: d, sealer: sealer}
}

// q rewrites a query's placeholders for the dialect.
func (db *DB) q(query string) string {
	if db.dialect.Placeholders == nil {
		return query
	}
	return db.dialect.Placeholders(query)
}

// wrap classifies database failures so the API can answer 503 for them.
func (db *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var nf *domain.NotFoundError
	var cf *domain.ConflictError
	var ve *domain.ValidationError
	if errors.As(err, &nf) || errors.As(err, &cf) || errors.As(err, &ve) || errors.Is(err, context.Canceled) {
		return err
	}
	if db.dialect.IsDiskFull != nil && db.dialect.IsDiskFull(err) {
		return fmt.Errorf("%s: %w: %w: %w", op, store.ErrDiskFull, store.ErrUnavailable, err)
	}
	if db.dialect.IsUnavailable != nil && db.dialect.IsUnavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// notifyDue wakes other processes when the transaction commits.
func (db *DB) notifyDue(ctx context.Context, tx *sql.Tx) error {
	if db.dialect.NotifyDue == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, db.dialect.NotifyDue)
	return err
}

// queryStmt runs the write path's fixed SQL in tx (see Batcher.Query).
func (db *DB) queryStmt(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	return db.dialect.Batcher.Query(ctx, tx, db.q(query), args...)
}

// execStmt is queryStmt for SQL that returns no rows.
func (db *DB) execStmt(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	return db.dialect.Batcher.Exec(ctx, tx, db.q(query), args...)
}

// scanStmt runs the write path's fixed SQL of one row in tx and scans it
// (sql.ErrNoRows when there is none).
func (db *DB) scanStmt(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	return db.dialect.Batcher.QueryRow(ctx, tx, db.q(query), args, dest...)
}

// DollarPlaceholders turns "?" into "$1", "$2", … (PostgreSQL). Queries here
// never contain a literal question mark.
func DollarPlaceholders(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// inSizes are the lengths an IN list of placeholders is given (see in);
// longer lists keep their own length.
var inSizes = [...]int{1, 2, 4, 8, 16, 32, 64, 128, 256}

// in is the condition that col is one of vals, and its arguments, for the
// statements that the claim, the record and the dispatcher's reads run
// over and over: their text must not change with the number of values, or
// each run is parsed again (SQLite, outside the statement cache) or
// planned again (pgx prepares each new text per connection). With
// InArray the values are one array; otherwise the list of placeholders is
// of one of a few lengths, filled up by repeating the last value, which
// an IN list does not mind. vals must not be empty.
func (db *DB) in(col string, vals []string) (string, []any) {
	if db.dialect.InArray != "" {
		return col + " " + db.dialect.InArray, []any{vals}
	}
	n := len(vals)
	for _, size := range inSizes {
		if size >= n {
			n = size
			break
		}
	}
	args := make([]any, n)
	for i := range args {
		args[i] = vals[min(i, len(vals)-1)]
	}
	return col + " IN (" + placeholders(n) + ")", args
}

// listArgs are the arguments of a statement with a list made by in, with
// the dialect's ListMode first when it has one.
func (db *DB) listArgs(args ...any) []any {
	if db.dialect.ListMode == nil {
		return args
	}
	return append([]any{db.dialect.ListMode}, args...)
}

// placeholders returns "?, ?, …" n times.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func optionalMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only Herald's own plain types pass through here.
		panic(fmt.Sprintf("sqlstore: marshal %T: %v", v, err))
	}
	return b
}

// nullJSON stores an absent document as NULL rather than "null".
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func notFound(kind, id string) error { return &domain.NotFoundError{Kind: kind, ID: id} }

// row is what a scan function reads from.
type row interface{ Scan(...any) error }

// collect runs a read query and scans every row.
func collect[T any](ctx context.Context, db *DB, op string, scan func(row) (T, error), query string, args ...any) ([]T, error) {
	return collectOn(ctx, db, db.read, op, scan, query, args...)
}

// collectOn is collect on the given connections.
func collectOn[T any](ctx context.Context, db *DB, conns *sql.DB, op string, scan func(row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := conns.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, db.wrap(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, db.wrap(op, err)
		}
		out = append(out, v)
	}
	return out, db.wrap(op, rows.Err())
}
