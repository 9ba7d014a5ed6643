package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/storetest"
)

// fresh is the conformance suites' factory: a store in a new file.
func fresh(t *testing.T) store.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, fresh) }

func TestPortalConformance(t *testing.T) { storetest.RunPortal(t, fresh) }

func TestSecondProcessIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := sqlite.Open(context.Background(), path); !errors.Is(err, sqlite.ErrLocked) {
		t.Fatalf("second open: err = %v, want ErrLocked", err)
	}
}
