-- +goose Up
-- Body transforms (issue 14): an endpoint's jq program, compiled when it is
-- saved and run per attempt in a worker process; empty means none.
ALTER TABLE endpoints ADD COLUMN transform TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE endpoints DROP COLUMN transform;
