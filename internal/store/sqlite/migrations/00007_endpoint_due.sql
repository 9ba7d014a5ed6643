-- +goose Up
-- The queue by endpoint: a claim walks each endpoint's due deliveries on
-- its own, so an endpoint that is paused, or whose lane is full, costs the
-- claim nothing however long its backlog, and endpoints are served fairly.
-- It replaces the single due index, which a claim had to walk through
-- every skipped row before it found anything.
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
DROP INDEX deliveries_due;

-- +goose Down
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
DROP INDEX deliveries_endpoint_due;
