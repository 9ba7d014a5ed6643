-- +goose Up
-- Erasure on request (issue 19). An erased event, job or delivery keeps its
-- ids, types, times and outcome, with the time it was erased; its personal
-- data (event data, partner params, callback URL, attempts' bodies and
-- headers) is gone.
ALTER TABLE events ADD COLUMN erased_at INTEGER;
ALTER TABLE jobs ADD COLUMN erased_at INTEGER;
ALTER TABLE deliveries ADD COLUMN erased_at INTEGER;
-- What an endpoint's attempts keep of the receiver's answer: full (the
-- first 16 KiB of the body, and the headers), headers (no body) or none.
ALTER TABLE endpoints ADD COLUMN response_body TEXT NOT NULL DEFAULT 'full';
-- Retention removes jobs by their last change.
CREATE INDEX jobs_updated_at ON jobs (updated_at);
-- An erasure removes its events' idempotency keys.
CREATE INDEX idempotency_keys_event ON idempotency_keys (tenant_id, environment, event_id);
-- The receipts of erasures: what was asked (a partner-param value only as
-- a hash), what matched and what was erased. No personal data.
CREATE TABLE erasures (
    id          TEXT PRIMARY KEY,          -- era_<ULID>: time order
    tenant_id   TEXT NOT NULL,
    environment TEXT NOT NULL,
    at          INTEGER NOT NULL,
    receipt     BLOB NOT NULL              -- the receipt as the API shows it (JSON)
);
CREATE INDEX erasures_scope ON erasures (tenant_id, environment, id);

-- +goose Down
DROP TABLE erasures;
DROP INDEX idempotency_keys_event;
DROP INDEX jobs_updated_at;
ALTER TABLE endpoints DROP COLUMN response_body;
ALTER TABLE deliveries DROP COLUMN erased_at;
ALTER TABLE jobs DROP COLUMN erased_at;
ALTER TABLE events DROP COLUMN erased_at;
