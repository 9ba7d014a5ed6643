package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// maxCachedStmts bounds the statements kept for one transaction. The fixed
// SQL of the write path has a dozen shapes; the bound only guards against a
// caller that passes SQL built from its data.
const maxCachedStmts = 64

// stmtCache keeps the prepared statements of the current write transaction,
// so SQL that a transaction runs again and again (the fixed-size chunks of a
// batch publish, the statements of every write in one group commit) is
// parsed once rather than on every execution. modernc.org/sqlite parses a
// statement on each ExecContext of a transaction; a prepared one is bound
// and stepped only.
//
// The statements belong to their transaction: database/sql closes them at
// its commit or rollback, so none outlives its transaction or the store, and
// the cache starts afresh with the next one. That fits SQLite, whose write
// pool has one connection and so one transaction at a time; a store with
// concurrent writers sets Dialect.CachesStatements and bypasses the cache.
//
// Statements kept across transactions would need the write pool itself
// (prepared on it, then bound to each transaction with Tx.StmtContext); the
// shared store is given only a WriteFunc, so they live as long as their
// transaction: a batch publish prepares each shape once, where it used to
// parse every statement it ran.
type stmtCache struct {
	mu    sync.Mutex
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// stmt returns query prepared in tx, or nil when the driver caches
// statements itself or the cache is full: the caller then runs the query on
// tx directly.
func (db *DB) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if db.dialect.CachesStatements {
		return nil, nil
	}
	c := &db.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tx != tx {
		// The previous transaction has ended (one writer), and its
		// statements were closed with it.
		c.tx, c.stmts = tx, make(map[string]*sql.Stmt)
	}
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.stmts[query] = st
	return st, nil
}

// execStmt runs fixed SQL in tx, prepared once per transaction where that pays.
func (db *DB) execStmt(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	query = db.q(query)
	st, err := db.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// queryStmt is execStmt for statements that return rows.
func (db *DB) queryStmt(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	query = db.q(query)
	st, err := db.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// scanStmt runs a query of one row and scans it (sql.ErrNoRows when there
// is none).
func (db *DB) scanStmt(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	query = db.q(query)
	st, err := db.stmt(ctx, tx, query)
	if err != nil {
		return err
	}
	if st == nil {
		return tx.QueryRowContext(ctx, query, args...).Scan(dest...)
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}
