-- +goose Up
-- Browser sessions of the tenant portal and the operator console. Only
-- hashes are kept: of the one-time token of a sign-in link (until it is
-- used, then NULL) and of the session secret in the cookie (once signed in).
CREATE TABLE portal_sessions (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,             -- tenant or operator
    tenant_id    TEXT NOT NULL DEFAULT '',
    environment  TEXT NOT NULL DEFAULT '',
    environments TEXT NOT NULL DEFAULT '',  -- those it may switch to, comma-separated
    api_key_id   TEXT NOT NULL DEFAULT '',  -- signed in with this key: it ends with the key
    token_hash   BLOB UNIQUE,
    secret_hash  BLOB UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    redeemed_at  INTEGER,
    ended_at     INTEGER
);
-- Clearing expired sessions.
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);

-- +goose Down
DROP TABLE portal_sessions;
