// Package pgtest gives tests a PostgreSQL database of their own: a fresh,
// empty schema in the database named by HERALD_TEST_POSTGRES_URL, dropped
// when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points the tests at a server.
const EnvURL = "HERALD_TEST_POSTGRES_URL"

// DefaultURL is used when EnvURL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// SchemaPrefix starts the name of every schema the tests create.
const SchemaPrefix = "herald_test_"

// BaseURL returns the server the tests use: $HERALD_TEST_POSTGRES_URL, or
// DefaultURL.
func BaseURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// unreachable remembers a failed connection so that the tests after it skip
// at once rather than each waiting for its own timeout.
var unreachable struct {
	sync.Mutex
	err error
}

// URL creates a schema for this test and returns the URL of the test
// database with search_path set to it, ready for postgres.Open or for
// `herald serve --database`. The schema is dropped, with everything in it,
// when the test ends; close stores opened on it before then (t.Cleanup runs
// last-registered first, so a store closed in a Cleanup registered after
// URL returns is closed in time).
//
// When the server cannot be reached the test is skipped, unless CI=true:
// then it fails, so that a broken CI set-up is not mistaken for a pass.
func URL(t testing.TB) string {
	t.Helper()
	base := BaseURL()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s=%q is not a postgres:// URL", EnvURL, redact(base))
	}

	unreachable.Lock()
	prev := unreachable.err
	unreachable.Unlock()
	if prev != nil {
		skipOrFail(t, base, prev)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, base)
	if err != nil {
		unreachable.Lock()
		unreachable.err = err
		unreachable.Unlock()
		skipOrFail(t, base, err)
	}
	defer conn.Close(context.Background())

	schema := SchemaPrefix + randomSuffix(t)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() { dropSchema(t, base, schema) })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func connect(ctx context.Context, base string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	return pgx.ConnectConfig(ctx, cfg)
}

func skipOrFail(t testing.TB, base string, err error) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("PostgreSQL at %s is unreachable (%v); set %s (CI=true: not skipping)", redact(base), err, EnvURL)
	}
	t.Skipf("PostgreSQL at %s is unreachable (%v); set %s", redact(base), err, EnvURL)
}

func dropSchema(t testing.TB, base, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, base)
	if err != nil {
		t.Logf("pgtest: schema %s left behind: %v", schema, err)
		return
	}
	defer conn.Close(context.Background())
	// A connection still inside a transaction on the schema would block
	// the drop; give up after a while rather than hang the test run.
	if _, err := conn.Exec(ctx, "SET lock_timeout = '10s'"); err != nil {
		t.Logf("pgtest: schema %s left behind: %v", schema, err)
		return
	}
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Logf("pgtest: schema %s left behind (a store still open on it?): %v", schema, err)
	}
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
