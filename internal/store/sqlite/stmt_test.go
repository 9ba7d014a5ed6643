package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sqlite "modernc.org/sqlite"
)

// countingDriver is SQLite's driver, counting how often each query is
// prepared on a connection.
type countingDriver struct {
	mu       sync.Mutex
	prepared map[string]int
}

func (d *countingDriver) Open(name string) (driver.Conn, error) {
	c, err := (&sqlite.Driver{}).Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, d: d}, nil
}

func (d *countingDriver) count(query string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.prepared[query]
}

type countingConn struct {
	driver.Conn
	d *countingDriver
}

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	c.d.mu.Lock()
	c.d.prepared[query]++
	c.d.mu.Unlock()
	return c.Conn.Prepare(query)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

var registerCounting sync.Once
var counting = &countingDriver{prepared: map[string]int{}}

// The write path's fixed SQL is parsed once for the store, not once per
// transaction: the first transaction prepares it for itself, the pool's
// statement is prepared after it, and every later transaction is bound to
// that one.
func TestFixedSQLIsPreparedOnceForTheStore(t *testing.T) {
	registerCounting.Do(func() { sql.Register("sqlite-counting", counting) })
	pool, err := sql.Open("sqlite-counting", "file:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pool.SetMaxOpenConns(1) // one writer, as SQLite's store has
	ctx := context.Background()
	if _, err := pool.ExecContext(ctx, `CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	write := func(ctx context.Context, fn func(*sql.Tx) error) error {
		tx, err := pool.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	}
	c := &stmtCache{pool: pool}
	const insert = `INSERT INTO t (v) VALUES (?)`
	before := counting.count(insert) // the driver is registered once per test binary
	run := func(v int) {
		t.Helper()
		if err := write(ctx, func(tx *sql.Tx) error {
			_, err := c.exec(ctx, tx, insert, v)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	run(0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		kept := c.kept[insert] != nil
		c.mu.Unlock()
		if kept {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the statement was never prepared on the pool")
		}
		time.Sleep(time.Millisecond)
	}
	for v := 1; v <= 10; v++ {
		run(v)
	}
	var n int
	if err := pool.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 11 {
		t.Fatalf("rows = %d (%v), want 11", n, err)
	}
	if got := counting.count(insert) - before; got != 2 {
		t.Errorf("the insert was prepared %d times in 11 transactions, want 2 (the first transaction's and the pool's)", got)
	}
}
