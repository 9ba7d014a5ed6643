package main

import (
	"context"
	"strings"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// databaseFlag is shared by every command that opens the store.
type databaseFlag struct {
	Database string `env:"HERALD_DATABASE" default:"herald.db" help:"SQLite file path, or a postgres:// URL (optional max_conns=N sets the pool size, default 16)."`
}

func (f databaseFlag) open(ctx context.Context) (store.Store, error) {
	if isPostgres(f.Database) {
		return postgres.Open(ctx, f.Database)
	}
	return sqlite.Open(ctx, f.Database)
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}
