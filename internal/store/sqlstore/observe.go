package sqlstore

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// maxBacklogGroups bounds what one Backlog returns, whatever the number of
// tenants and endpoints: the metrics export no more series than this.
const maxBacklogGroups = 10000

func (db *DB) Backlog(ctx context.Context, byEndpoint bool) ([]store.BacklogGroup, error) {
	endpoint, group := `''`, `tenant_id, environment`
	if byEndpoint {
		endpoint, group = `endpoint_id`, group+`, endpoint_id`
	}
	// The status filter matches the queue's partial indexes, so only
	// pending rows are read.
	return collect(ctx, db, "backlog", func(r row) (store.BacklogGroup, error) {
		var g store.BacklogGroup
		var env string
		var oldest int64
		if err := r.Scan(&g.TenantID, &env, &g.EndpointID, &g.Pending, &oldest); err != nil {
			return g, err
		}
		g.Environment, g.OldestCreatedAt = domain.Environment(env), fromMicros(oldest)
		return g, nil
	}, `SELECT tenant_id, environment, `+endpoint+`, count(*), min(created_at) FROM deliveries
		WHERE status = 'pending' GROUP BY `+group+` ORDER BY 1, 2, 3 LIMIT ?`, maxBacklogGroups)
}

func (db *DB) Schema(ctx context.Context) (store.SchemaVersion, error) {
	// Any failure to reach the database, a closed pool included, is the
	// database's, not the schema's.
	if err := db.read.PingContext(ctx); err != nil {
		return store.SchemaVersion{}, fmt.Errorf("reach the database: %w: %w", store.ErrUnavailable, err)
	}
	current, latest, err := db.dialect.Versions(ctx)
	if err != nil {
		return store.SchemaVersion{Latest: latest}, db.wrap("read the schema version", err)
	}
	return store.SchemaVersion{Current: current, Latest: latest}, nil
}
