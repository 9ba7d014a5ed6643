"""The narrow-queue experiment on SQLite (see README.md): a delivery's
writes (insert, claim, record) in batches of 100, on the current schema (a)
or with the queue's state in a table of its own (b). Prints this process's
CPU: SQLite runs in it."""
import os, resource, sqlite3, sys, tempfile, time
mode = sys.argv[1]; batches = int(sys.argv[2]); n = 100
path = os.path.join(tempfile.gettempdir(), f'narrow-queue-{mode}.db')
for s in ('', '-wal', '-shm'):
    try: os.remove(path+s)
    except FileNotFoundError: pass
c=sqlite3.connect(path, isolation_level=None)
c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA synchronous=FULL')
schema=open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'schema.sql')).read().split(f'SET search_path = exp{mode};')[1]
if mode=='a': schema=schema.split('SET search_path')[0]
schema=schema.replace(' WITH (fillfactor = 85)','')
import re
k=0
for stmt in schema.split(';'):
    if stmt.strip():
        k+=1; c.execute(stmt.replace('CREATE INDEX ON', f'CREATE INDEX ix{k} ON'))
r0=resource.getrusage(resource.RUSAGE_SELF); t0=time.time()
for b in range(batches):
    lo=b*n+1; hi=b*n+n
    ids=[f'dlv_{g:020d}' for g in range(lo,hi+1)]
    ph=','.join('?'*n)
    if mode=='a':
        c.execute('BEGIN IMMEDIATE')
        c.executemany("INSERT INTO deliveries (id, tenant_id, environment, event_id, event_type, endpoint_id, target_url, test, next_attempt_at, created_at, ordered_job, lease_owner, status, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
          [(f'dlv_{g:020d}','acme','production',f'evt_{g//10:020d}','verification.approved',f'ep_{g%10}','',False,1000+g,1000+g,None,None,'pending',1000+g) for g in range(lo,hi+1)])
        c.execute('COMMIT')
        c.execute('BEGIN IMMEDIATE')
        c.executemany("UPDATE deliveries SET next_attempt_at = 99999999, lease_owner = 'p1' WHERE id = ? AND status = 'pending'", [(i,) for i in ids])
        c.execute('COMMIT')
        c.execute('BEGIN IMMEDIATE')
        c.executemany("UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1, next_attempt_at = NULL, lease_owner = NULL, last_status = 200, last_error = '', updated_at = 5000, signed_at = 5000 WHERE id = ? AND status = 'pending' AND lease_owner IS NOT NULL", [(i,) for i in ids])
        c.execute('COMMIT')
    else:
        c.execute('BEGIN IMMEDIATE')
        c.executemany("INSERT INTO deliveries (id, tenant_id, environment, event_id, event_type, endpoint_id, target_url, test, created_at, ordered_job, status, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
          [(f'dlv_{g:020d}','acme','production',f'evt_{g//10:020d}','verification.approved',f'ep_{g%10}','',False,1000+g,None,'pending',1000+g) for g in range(lo,hi+1)])
        c.executemany("INSERT INTO delivery_queue (id, endpoint_id, next_attempt_at, lease_owner) VALUES (?,?,?,?)", [(f'dlv_{g:020d}',f'ep_{g%10}',1000+g,None) for g in range(lo,hi+1)])
        c.execute('COMMIT')
        c.execute('BEGIN IMMEDIATE')
        c.executemany("UPDATE delivery_queue SET next_attempt_at = 99999999, lease_owner = 'p1' WHERE id = ?", [(i,) for i in ids])
        c.execute('COMMIT')
        c.execute('BEGIN IMMEDIATE')
        c.executemany("DELETE FROM delivery_queue WHERE id = ?", [(i,) for i in ids])
        c.executemany("UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1, last_status = 200, last_error = '', updated_at = 5000, signed_at = 5000 WHERE id = ? AND status = 'pending'", [(i,) for i in ids])
        c.execute('COMMIT')
r1=resource.getrusage(resource.RUSAGE_SELF)
print(mode, 'cpu', round((r1.ru_utime+r1.ru_stime)-(r0.ru_utime+r0.ru_stime),2), 'wall', round(time.time()-t0,2), 'size MB', round(os.path.getsize(path)/1e6,1))
