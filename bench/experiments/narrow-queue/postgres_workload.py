"""The narrow-queue experiment on PostgreSQL (see README.md): prints the
SQL of a delivery's writes (insert, claim, record) in batches of 100, on
the current schema (A) or with the queue's state in a table of its own (B)."""
import sys
mode=sys.argv[1]; batches=int(sys.argv[2]); n=100
out=[]
for b in range(batches):
    lo=b*n+1; hi=b*n+n
    ids=f"(SELECT 'dlv_'||lpad(g::text,20,'0') FROM generate_series({lo},{hi}) g)"
    if mode=='A':
        out.append(f"""INSERT INTO deliveries (id, tenant_id, environment, event_id, event_type, endpoint_id, target_url, test, next_attempt_at, created_at, ordered_job, lease_owner, status, updated_at)
SELECT 'dlv_'||lpad(g::text,20,'0'), 'acme', 'production', 'evt_'||lpad((g/10)::text,20,'0'), 'verification.approved', 'ep_'||(g%10), '', false, 1000+g, 1000+g, NULL, NULL, 'pending', 1000+g FROM generate_series({lo},{hi}) g;""")
        out.append(f"UPDATE deliveries SET next_attempt_at = 99999999, lease_owner = 'p1' WHERE id IN {ids} AND status = 'pending';")
        out.append(f"UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1, next_attempt_at = NULL, lease_owner = NULL, last_status = 200, last_error = '', updated_at = 5000, signed_at = 5000 WHERE id IN {ids} AND status = 'pending' AND lease_owner IS NOT NULL;")
    else:
        out.append(f"""BEGIN; INSERT INTO deliveries (id, tenant_id, environment, event_id, event_type, endpoint_id, target_url, test, created_at, ordered_job, status, updated_at)
SELECT 'dlv_'||lpad(g::text,20,'0'), 'acme', 'production', 'evt_'||lpad((g/10)::text,20,'0'), 'verification.approved', 'ep_'||(g%10), '', false, 1000+g, NULL, 'pending', 1000+g FROM generate_series({lo},{hi}) g;
INSERT INTO delivery_queue (id, endpoint_id, next_attempt_at, lease_owner) SELECT 'dlv_'||lpad(g::text,20,'0'), 'ep_'||(g%10), 1000+g, NULL FROM generate_series({lo},{hi}) g; COMMIT;""")
        out.append(f"UPDATE delivery_queue SET next_attempt_at = 99999999, lease_owner = 'p1' WHERE id IN {ids};")
        out.append(f"""BEGIN; DELETE FROM delivery_queue WHERE id IN {ids};
UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1, last_status = 200, last_error = '', updated_at = 5000, signed_at = 5000 WHERE id IN {ids} AND status = 'pending'; COMMIT;""")
print("\n".join(out))
