-- +goose Up
-- The queue's state in a narrow table of its own (issue 16; see
-- sqlstore.QueueTable): a row per pending delivery, inserted with it,
-- leased by a claim and deleted when the delivery ends. The claims and
-- records of deliveries then change no indexed column of deliveries, whose
-- rows PostgreSQL can rewrite in place (HOT) while the page has room.
CREATE TABLE delivery_queue (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    environment     TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    -- When it is due; a claim pushes it to the end of the lease, so a
    -- lease that runs out makes the delivery due again. NULL: held for the
    -- request that sends it (a test send).
    next_attempt_at BIGINT,
    lease_owner     TEXT,
    ordered_job     TEXT,
    created_at      BIGINT NOT NULL
);
INSERT INTO delivery_queue (id, tenant_id, environment, endpoint_id, next_attempt_at, lease_owner, ordered_job, created_at)
    SELECT id, tenant_id, environment, endpoint_id, next_attempt_at, lease_owner, ordered_job, created_at
    FROM deliveries WHERE status = 'pending';
-- The indexes that were deliveries' partial indexes of pending rows: the
-- claim's walk of an endpoint's due deliveries, the job order, the leases.
CREATE INDEX delivery_queue_endpoint_due ON delivery_queue (endpoint_id, next_attempt_at);
CREATE INDEX delivery_queue_job_order ON delivery_queue ((endpoint_id || ' ' || ordered_job), id)
    WHERE ordered_job IS NOT NULL;
CREATE INDEX delivery_queue_leased ON delivery_queue (endpoint_id) WHERE lease_owner IS NOT NULL;
DROP INDEX deliveries_endpoint_due;
DROP INDEX deliveries_job_order;
DROP INDEX deliveries_leased;
ALTER TABLE deliveries DROP COLUMN next_attempt_at, DROP COLUMN lease_owner;
-- Room on each page for a record's update in place: measured, fillfactor
-- 50 made every record HOT and the table smaller than before (the dead
-- versions of non-HOT updates took more).
ALTER TABLE deliveries SET (fillfactor = 50);

-- +goose Down
ALTER TABLE deliveries RESET (fillfactor);
ALTER TABLE deliveries ADD COLUMN next_attempt_at BIGINT, ADD COLUMN lease_owner TEXT;
UPDATE deliveries SET next_attempt_at = q.next_attempt_at, lease_owner = q.lease_owner
    FROM delivery_queue q WHERE q.id = deliveries.id;
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_job_order ON deliveries ((endpoint_id || ' ' || ordered_job), id)
    WHERE status = 'pending' AND ordered_job IS NOT NULL;
CREATE INDEX deliveries_leased ON deliveries (endpoint_id) WHERE lease_owner IS NOT NULL AND status = 'pending';
DROP TABLE delivery_queue;
