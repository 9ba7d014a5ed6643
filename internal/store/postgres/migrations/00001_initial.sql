-- +goose Up
-- The PostgreSQL translation of the SQLite schema: the same tables, columns
-- and indexes. Times are unix microseconds (BIGINT) in both dialects, so the
-- shared queries bind and compare them the same way. JSON documents are
-- stored as BYTEA, not JSONB, so they come back byte for byte as written.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE event_types (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    schema      BYTEA,
    example     BYTEA,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    environment     TEXT NOT NULL,
    url             TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    disabled_reason TEXT NOT NULL DEFAULT '',
    event_types     BYTEA NOT NULL,
    headers         BYTEA NOT NULL,
    retry_policy    BYTEA NOT NULL,
    timeout_ms      INTEGER NOT NULL,
    max_concurrency INTEGER NOT NULL,
    success         TEXT NOT NULL,
    secret          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- Listing a scope's endpoints, and finding the subscribers at publish.
CREATE INDEX endpoints_scope ON endpoints (tenant_id, environment, id);

CREATE TABLE jobs (
    tenant_id       TEXT NOT NULL,
    environment     TEXT NOT NULL,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT '',
    partner_params  BYTEA,
    last_event_type TEXT NOT NULL DEFAULT '',
    final           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, environment, id)
);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    environment TEXT NOT NULL,
    type        TEXT NOT NULL,
    job_id      TEXT,
    job         BYTEA,
    final       BOOLEAN NOT NULL DEFAULT FALSE,
    data        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
-- Cursor pagination of a scope's events; ids are time-ordered.
CREATE INDEX events_scope ON events (tenant_id, environment, id);

CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL,
    environment  TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    event_id     TEXT NOT NULL,
    deliveries   INTEGER NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, environment, key)
);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    environment     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- For a pending delivery: when it is due. A claim pushes it to the end of
    -- the lease, so a lease that runs out makes the delivery due again.
    next_attempt_at BIGINT,
    lease_owner     TEXT,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- The queue: only pending rows, in due order.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- The delivery log of a scope, newest first, and its common filters.
CREATE INDEX deliveries_scope ON deliveries (tenant_id, environment, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    environment      TEXT NOT NULL,
    number           INTEGER NOT NULL,
    at               BIGINT NOT NULL,
    duration_ms      BIGINT NOT NULL,
    request_headers  BYTEA,
    response_status  INTEGER NOT NULL DEFAULT 0,
    response_headers BYTEA,
    response_body    BYTEA,
    error_class      TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, at);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE jobs;
DROP TABLE endpoints;
DROP TABLE event_types;
DROP TABLE tenants;
DROP TABLE settings;
