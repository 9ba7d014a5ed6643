-- +goose Up
-- Per-job order and per-type retry schedules (issue 17).
-- An endpoint with ordering 'job' takes a job's deliveries one at a time,
-- in publish order.
ALTER TABLE endpoints ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';
-- ordered_job is the job whose order the delivery keeps (set at publish,
-- when its endpoint's ordering was 'job'); NULL: unordered.
ALTER TABLE deliveries ADD COLUMN ordered_job TEXT;
-- follows_failed names an earlier delivery of the same job to the same
-- endpoint that failed (or was cancelled) for good: this one went on after it.
ALTER TABLE deliveries ADD COLUMN follows_failed TEXT;
-- A job's pending deliveries to an endpoint in publish order: the claim
-- asks whether an earlier one is pending, and a recorded outcome finds the
-- next one, each in one index step.
CREATE INDEX deliveries_job_order ON deliveries (endpoint_id, ordered_job, id)
    WHERE status = 'pending' AND ordered_job IS NOT NULL;
-- An event type's own retry schedule (a retry policy document), which
-- replaces the endpoint's for events of the type; NULL: the endpoint's.
ALTER TABLE event_types ADD COLUMN retry_policy BYTEA;
-- The built-in types that ask the tenant to act get the fast schedule.
UPDATE event_types SET retry_policy = convert_to('{"preset":"fast"}', 'UTF8')
    WHERE name IN ('message.otp.requested', 'message.link.requested') AND retry_policy IS NULL;

-- +goose Down
ALTER TABLE event_types DROP COLUMN retry_policy;
DROP INDEX deliveries_job_order;
ALTER TABLE deliveries DROP COLUMN follows_failed;
ALTER TABLE deliveries DROP COLUMN ordered_job;
ALTER TABLE endpoints DROP COLUMN ordering;
