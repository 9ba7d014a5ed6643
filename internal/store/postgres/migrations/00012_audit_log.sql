-- +goose Up
-- The audit log: who changed what, when and from where. A row is written
-- in the transaction of the change it records. tenant_id is '' for what
-- belongs to no tenant (event types, console sign-ins); environment is ''
-- for what belongs to a tenant as a whole (the tenant's own settings).
-- changes is a JSON object of field -> {from, to}, secrets already masked.
CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY,          -- aud_<ULID>: time order, and the retention floor
    tenant_id     TEXT NOT NULL DEFAULT '',
    environment   TEXT NOT NULL DEFAULT '',
    at            BIGINT NOT NULL,
    actor_type    TEXT NOT NULL,             -- operator, operator_session, api_key, portal_session
    actor_id      TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL DEFAULT '',
    client_ip     TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    changes       BYTEA
);
-- A scope's entries, newest first (the tenant's list, and the portal's).
CREATE INDEX audit_log_scope ON audit_log (tenant_id, environment, id);
-- One resource's history.
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id, id);

-- +goose Down
DROP TABLE audit_log;
