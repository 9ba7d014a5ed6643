package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// maxCachedStmts bounds the statements kept. The fixed SQL of the write
// path has a few dozen shapes, those with a list of ids each in up to nine
// lengths (sqlstore's in); the bound only guards against a caller that
// passes SQL built from its data.
const maxCachedStmts = 256

// stmtCache keeps the write path's fixed SQL prepared, so that it is
// parsed once in the life of the store rather than in every transaction
// (modernc.org/sqlite parses a statement on each ExecContext; a claim, a
// record or a single publish in a transaction of its own used to parse
// every statement it ran).
//
// A statement is prepared on pool, the write pool, and bound to each
// transaction with Tx.StmtContext, which finds it already prepared on the
// transaction's connection. It cannot be prepared on the pool while a
// transaction holds the pool's one connection: the first transaction that
// needs it prepares it for itself, and the pool's statement is prepared
// meanwhile by a goroutine that gets the connection once that transaction
// has ended.
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex
	// kept holds the pool's statements; nil marks one being prepared.
	kept map[string]*sql.Stmt
	// tx and stmts are the current transaction's statements (one writer:
	// one transaction at a time), closed by database/sql with it.
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// stmt returns query prepared for tx, or nil when the cache is full: the
// caller then runs the query on tx directly.
func (c *stmtCache) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tx != tx {
		c.tx, c.stmts = tx, make(map[string]*sql.Stmt)
	}
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if c.kept == nil {
		c.kept = make(map[string]*sql.Stmt)
	}
	var st *sql.Stmt
	if kept := c.kept[query]; kept != nil {
		st = tx.StmtContext(ctx, kept)
	} else {
		if _, preparing := c.kept[query]; !preparing {
			if len(c.kept) >= maxCachedStmts {
				return nil, nil
			}
			c.kept[query] = nil
			go c.keep(query)
		}
		var err error
		if st, err = tx.PrepareContext(ctx, query); err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	c.stmts[query] = st
	return st, nil
}

// keep prepares query on the write pool, once its connection is free.
func (c *stmtCache) keep(query string) {
	st, err := c.pool.PrepareContext(context.Background(), query)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// Closed, most likely; the next transaction that needs it
		// tries again.
		delete(c.kept, query)
		return
	}
	c.kept[query] = st
}

// exec runs fixed SQL in tx, prepared once (see stmtCache).
func (c *stmtCache) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// query is exec for statements that return rows.
func (c *stmtCache) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// scan runs a query of one row and scans it (sql.ErrNoRows when there is
// none).
func (c *stmtCache) scan(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	st, err := c.stmt(ctx, tx, query)
	if err != nil {
		return err
	}
	if st == nil {
		return tx.QueryRowContext(ctx, query, args...).Scan(dest...)
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}
