-- +goose Up
-- How a receiver's contract judges and repeats deliveries (issue 14).
ALTER TABLE endpoints ADD COLUMN success_false_fails BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE endpoints ADD COLUMN identical_retries BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE endpoints ADD COLUMN thin_partner_params BOOLEAN NOT NULL DEFAULT FALSE;
-- The instant a delivery's first attempt was signed at (microseconds,
-- whole milliseconds): identical retries sign with it again.
ALTER TABLE deliveries ADD COLUMN signed_at BIGINT;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN signed_at;
ALTER TABLE endpoints DROP COLUMN thin_partner_params;
ALTER TABLE endpoints DROP COLUMN identical_retries;
ALTER TABLE endpoints DROP COLUMN success_false_fails;
