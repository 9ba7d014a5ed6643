-- +goose Up
-- Delivery profiles (issue 14). The profile's options are sealed in the
-- credentials document; profile_fields lists the settings the profile
-- supplies (a JSON array of field names).
ALTER TABLE endpoints ADD COLUMN profile TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE endpoints ADD COLUMN profile_fields TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE endpoints DROP COLUMN profile_fields;
ALTER TABLE endpoints DROP COLUMN profile;
