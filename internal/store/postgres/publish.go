package postgres

import (
	"context"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Publish stores the publications in a commit shared with the publishes
// that arrive meanwhile (sqlstore.PublishQueue): one WAL flush and a few
// statements for many single publishes.
func (s *Store) Publish(ctx context.Context, scope domain.Scope, pubs []store.Publication) ([]store.PublishResult, error) {
	return s.publishes.Publish(ctx, scope, pubs)
}
