-- +goose Up
-- API keys: only a hash of the key is kept; rotated keys expire after a grace period.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    environment  TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_scope ON api_keys (tenant_id, environment, id);

-- Per-tenant API rate limit; 0 means the default.
ALTER TABLE tenants ADD COLUMN rate_limit_per_minute INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN rate_limit_burst INTEGER NOT NULL DEFAULT 0;

ALTER TABLE event_types ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE event_types ADD COLUMN ttl_seconds INTEGER NOT NULL DEFAULT 0;

ALTER TABLE endpoints ADD COLUMN default_callback INTEGER NOT NULL DEFAULT 0;
-- During a rotation the previous secret signs too, until it expires.
ALTER TABLE endpoints ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_secret_expires_at INTEGER;
-- At most one default callback per tenant and environment.
CREATE UNIQUE INDEX endpoints_default_callback ON endpoints (tenant_id, environment) WHERE default_callback = 1;

ALTER TABLE jobs ADD COLUMN callback_url TEXT NOT NULL DEFAULT '';
-- Listing a scope's jobs by last change.
CREATE INDEX jobs_updated ON jobs (tenant_id, environment, updated_at);

ALTER TABLE events ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
-- Data of a sensitive event is scrubbed once it has been delivered.
ALTER TABLE events ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN expires_at INTEGER;
-- A job's events, for the job status API.
CREATE INDEX events_job ON events (tenant_id, environment, job_id, id);

-- A job's own callback URL, used instead of the endpoint's.
ALTER TABLE deliveries ADD COLUMN target_url TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN test INTEGER NOT NULL DEFAULT 0;

-- +goose Down
DROP INDEX events_job;
DROP INDEX jobs_updated;
DROP INDEX endpoints_default_callback;
DROP TABLE api_keys;
