-- A steady publish's transaction (README.md): the reads in one flight with BEGIN, the writes and the commit in the other.
\set r random(1, 1000000000000000)
\startpipeline
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT e.id, e.event_types, e.default_callback, e.ordering, e.status = 'active' AND COALESCE(e.rate_limit, 0) = 0 AND (h.circuit IS NULL OR h.circuit = 'closed'), e.max_concurrency, e.updated_at FROM endpoints e LEFT JOIN endpoint_health h ON h.endpoint_id = e.id WHERE e.tenant_id = 't1' AND e.environment = 'sandbox' AND e.status <> 'disabled' AND (SELECT pg_advisory_xact_lock_shared(1214344804, hashtext(current_schema()))::text) = '';
SELECT (SELECT count(*) FROM dispatchers WHERE owner <> 'o1' AND seen_at > 5), (SELECT seen_at FROM dispatchers WHERE owner = 'o1');
\endpipeline
\startpipeline
INSERT INTO events (tenant_id, environment, id, type, job_id, job, final, test, sensitive, expires_at, data, created_at, traceparent) SELECT 't1', 'sandbox', * FROM unnest(ARRAY['ev_' || :r]::text[], ARRAY['check.approved']::text[], ARRAY[NULL]::text[], ARRAY[NULL]::bytea[], ARRAY[false]::boolean[], ARRAY[false]::boolean[], ARRAY[false]::boolean[], ARRAY[NULL]::bigint[], ARRAY[convert_to(repeat('x', 400), 'UTF8')]::bytea[], ARRAY[:r]::bigint[], ARRAY['']::text[]);
INSERT INTO deliveries (tenant_id, environment, id, event_id, event_type, endpoint_id, target_url, test, next_attempt_at, created_at, ordered_job, lease_owner, status, updated_at) SELECT 't1', 'sandbox', *, 'pending', created_at FROM unnest(ARRAY['d1_' || :r, 'd2_' || :r]::text[], ARRAY['ev_' || :r, 'ev_' || :r]::text[], ARRAY['check.approved','check.approved']::text[], ARRAY['ep1','ep2']::text[], ARRAY['','']::text[], ARRAY[false,false]::boolean[], ARRAY[:r, :r]::bigint[], ARRAY[:r, :r]::bigint[], ARRAY[NULL,NULL]::text[], ARRAY['o1','o1']::text[]) AS t(id, event_id, event_type, endpoint_id, target_url, test, next_attempt_at, created_at, ordered_job, lease_owner);
COMMIT;
\endpipeline
