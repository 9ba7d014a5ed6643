package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// databaseFlag is shared by every command that opens the store.
type databaseFlag struct {
	Database string `env:"HERALD_DATABASE" default:"herald.db" help:"SQLite file path, or a postgres:// URL (optional max_conns=N and dispatch_conns=N set the sizes of the API's and the dispatcher's connection pools, default 16 and 4)."`
}

// open opens the store with sealer (nil: secrets are neither sealed nor
// opened, which only migrations may do).
func (f databaseFlag) open(ctx context.Context, sealer store.Sealer) (store.Store, error) {
	if isPostgres(f.Database) {
		return postgres.Open(ctx, f.Database, sealer)
	}
	return sqlite.Open(ctx, f.Database, sealer)
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// sealing is a store that encrypts secrets at rest.
type sealing interface {
	CheckSealer(ctx context.Context) error
	Reseal(ctx context.Context, next store.Sealer) (int, error)
}

// openStore opens the store with its secrets sealed under the master key
// and proves the key is the one they were sealed with.
func openStore(ctx context.Context, db databaseFlag, mk masterKeyFlags) (store.Store, error) {
	k, err := mk.load(db)
	if err != nil {
		return nil, err
	}
	box, err := secrets.NewBox(k)
	if err != nil {
		return nil, err
	}
	st, err := db.open(ctx, box)
	if err != nil {
		return nil, err
	}
	s, ok := st.(sealing)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("%T cannot encrypt secrets", st)
	}
	if err := s.CheckSealer(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}
