-- +goose Up
-- A tenant's portal branding: the name and logo in the portal's header,
-- its accent colour and the origins allowed to frame the portal
-- (frame_ancestors, newline-separated). The logo's bytes are kept here,
-- out of the tenants table, so that reading tenants never reads images.
CREATE TABLE tenant_branding (
    tenant_id       TEXT PRIMARY KEY REFERENCES tenants (id),
    display_name    TEXT NOT NULL DEFAULT '',
    accent_color    TEXT NOT NULL DEFAULT '',
    frame_ancestors TEXT NOT NULL DEFAULT '',
    logo            BYTEA,
    logo_type       TEXT NOT NULL DEFAULT '',
    logo_width      INTEGER NOT NULL DEFAULT 0,
    logo_height     INTEGER NOT NULL DEFAULT 0,
    logo_sha256     TEXT NOT NULL DEFAULT '',
    updated_at      BIGINT NOT NULL
);
-- Where a portal session sends the browser when it ends ('' for Herald's
-- sign-in page).
ALTER TABLE portal_sessions ADD COLUMN return_url TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE portal_sessions DROP COLUMN return_url;
DROP TABLE tenant_branding;
