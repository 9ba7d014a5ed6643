package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// isPostgres tells a PostgreSQL URL from a SQLite path, as Herald does.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// pgSchemaPrefix starts the schemas the harness creates, so that one left
// behind by a killed run is recognisable.
const pgSchemaPrefix = "herald_bench_"

// freshSchema creates an empty schema in the database at base and returns
// base with search_path set to it, and a function that drops it.
func freshSchema(ctx context.Context, base string) (string, func() error, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("--database: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := pgSchemaPrefix + hex.EncodeToString(b)
	conn, err := pgConnect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		conn, err := pgConnect(ctx, base)
		if err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

func pgConnect(ctx context.Context, base string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return nil, fmt.Errorf("--database: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return conn, nil
}

// pgVersion names the server, for the report.
func pgVersion(ctx context.Context, base string) string {
	conn, err := pgConnect(ctx, base)
	if err != nil {
		return ""
	}
	defer conn.Close(ctx)
	var v string
	_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return "PostgreSQL " + v
}

// commitFigures are PostgreSQL's own counts of a scenario's writes.
type commitFigures struct {
	// Events are the events stored; EventCommits the transactions that
	// stored them (the distinct xmin of their rows: events are never
	// updated unless sensitive), each a WAL flush of its own unless
	// PostgreSQL grouped them.
	Events       int64 `json:"events"`
	EventCommits int64 `json:"event_commits"`
	// WALSyncs is pg_stat_wal.wal_sync over the scenario: the whole
	// server's WAL flushes, other databases' (and other users') included.
	WALSyncs int64 `json:"wal_syncs_server_wide"`
}

// walSyncs reads the server's count of WAL flushes (PostgreSQL 14 and
// later; 0 where it cannot be read).
func walSyncs(ctx context.Context, base string) int64 {
	conn, err := pgConnect(ctx, base)
	if err != nil {
		return 0
	}
	defer conn.Close(ctx)
	var n int64
	_ = conn.QueryRow(ctx, "SELECT wal_sync FROM pg_stat_wal").Scan(&n)
	return n
}

// eventCommits counts the events in the schema of schemaURL and the
// transactions that stored them.
func eventCommits(ctx context.Context, schemaURL string) (events, commits int64, err error) {
	conn, err := pgConnect(ctx, schemaURL)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT xmin::text) FROM events").Scan(&events, &commits)
	return events, commits, err
}
