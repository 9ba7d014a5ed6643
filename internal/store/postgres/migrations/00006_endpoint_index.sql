-- +goose Up
-- Deliveries of an endpoint by id, not by status: a status change on every
-- recorded attempt then leaves this index alone.
DROP INDEX deliveries_endpoint;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);

-- +goose Down
DROP INDEX deliveries_endpoint;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status);
