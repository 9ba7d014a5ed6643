-- +goose Up
-- Traces (issue 15). An event keeps the W3C traceparent of the span that
-- published it, so that every attempt, made later and perhaps by another
-- process, joins the publish's trace; an attempt keeps the id of the trace
-- it was recorded in. Empty when tracing was off.
ALTER TABLE events ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE attempts DROP COLUMN trace_id;
ALTER TABLE events DROP COLUMN traceparent;
