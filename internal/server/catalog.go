package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// SeedCatalog registers the built-in event types that are not registered
// yet. A type the operator has registered or changed is left as it is.
func SeedCatalog(ctx context.Context, st store.Store) (int, error) {
	added := 0
	for _, t := range catalog.Types() {
		_, err := st.GetEventType(ctx, t.Name)
		if err == nil {
			continue
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return added, fmt.Errorf("seed event catalog: %w", err)
		}
		t.UpdatedAt = domain.Now()
		if _, err := st.PutEventType(ctx, &t); err != nil {
			return added, fmt.Errorf("seed event catalog: %s: %w", t.Name, err)
		}
		added++
	}
	return added, nil
}
