-- +goose Up
-- How Herald talks to a receiver beyond the signature.
ALTER TABLE endpoints ADD COLUMN payload_mode TEXT NOT NULL DEFAULT 'envelope';
ALTER TABLE endpoints ADD COLUMN signing TEXT NOT NULL DEFAULT 'hmac';
ALTER TABLE endpoints ADD COLUMN signing_public_key TEXT NOT NULL DEFAULT '';
-- Sealed (AES-256-GCM under the master key): auth credentials, client TLS
-- key, compatibility API key and the ed25519 private key, as one JSON
-- document. secret and previous_secret are sealed too.
ALTER TABLE endpoints ADD COLUMN credentials TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE endpoints DROP COLUMN credentials;
ALTER TABLE endpoints DROP COLUMN signing_public_key;
ALTER TABLE endpoints DROP COLUMN signing;
ALTER TABLE endpoints DROP COLUMN payload_mode;
