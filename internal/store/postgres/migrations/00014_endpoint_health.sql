-- +goose Up
-- The circuit breaker and the health history of each endpoint (issue 17).
-- A row exists once the endpoint has failed; the outcome's record keeps it,
-- in the record's transaction, so every process of a cluster sees one state.
-- Times are Unix microseconds.
CREATE TABLE endpoint_health (
    endpoint_id   TEXT PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    circuit       TEXT NOT NULL DEFAULT 'closed',  -- closed, open, half_open
    failures      INTEGER NOT NULL DEFAULT 0,      -- failed attempts since the last success
    streak        INTEGER NOT NULL DEFAULT 0,      -- failures of the run counted toward opening (in the window)
    streak_at     BIGINT,                          -- first failure of the run counted toward opening
    failing_since BIGINT,                          -- first failure since the last success
    probe_at      BIGINT,                          -- open: the probe's time; half_open: its lease's end
    last_error    TEXT NOT NULL DEFAULT '',
    recovering    BOOLEAN NOT NULL DEFAULT false,  -- enabled again, its first success not yet seen
    updated_at    BIGINT NOT NULL
);
-- What happened to an endpoint's health, for the API, the portal and the console.
CREATE TABLE endpoint_health_log (
    id          TEXT PRIMARY KEY,                  -- ehc_<ULID>: time order, and the retention floor
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,                     -- opened, half_open, closed, disabled, enabled, recovered
    reason      TEXT NOT NULL DEFAULT '',
    at          BIGINT NOT NULL
);
CREATE INDEX endpoint_health_log_endpoint ON endpoint_health_log (endpoint_id, at);

-- +goose Down
DROP TABLE endpoint_health_log;
DROP TABLE endpoint_health;
