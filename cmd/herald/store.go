package main

import (
	"context"
	"errors"
	"strings"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// databaseFlag is shared by every command that opens the store.
type databaseFlag struct {
	Database string `env:"HERALD_DATABASE" default:"herald.db" help:"SQLite file path, or a postgres:// URL."`
}

func (f databaseFlag) open(ctx context.Context) (store.Store, error) {
	if isPostgres(f.Database) {
		return nil, errors.New("PostgreSQL is not supported by this build yet; use a SQLite file path")
	}
	return sqlite.Open(ctx, f.Database)
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}
