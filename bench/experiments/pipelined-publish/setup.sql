-- A tenant with two endpoints and this process's dispatcher beat, on the
-- schema that `herald migrate` made (run.sh).
INSERT INTO tenants (id, name, created_at) VALUES ('t1', 't1', 0);
INSERT INTO endpoints (id, tenant_id, environment, url, status, event_types, headers, retry_policy, timeout_ms,
    max_concurrency, success, secret, created_at, updated_at)
VALUES ('ep1', 't1', 'sandbox', 'http://127.0.0.1:1/a', 'active', 'null', '{}', '{}', 5000, 64, '2xx', 's', 0, 0),
       ('ep2', 't1', 'sandbox', 'http://127.0.0.1:1/b', 'active', 'null', '{}', '{}', 5000, 64, '2xx', 's', 0, 0);
INSERT INTO dispatchers (owner, seen_at) VALUES ('o1', 9000000000000000);
