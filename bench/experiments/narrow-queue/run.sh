#!/bin/bash
# The narrow-queue experiment (README.md): each schema twice, alternating.
set -euo pipefail
cd "$(dirname "$0")"
U=${HERALD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
BATCHES=${BATCHES:-3000}
python3 postgres_workload.py A "$BATCHES" > /tmp/narrow-queue-a.sql
python3 postgres_workload.py B "$BATCHES" > /tmp/narrow-queue-b.sql
pg() { # schema (a|b), fillfactor of B's deliveries
	sed "s/fillfactor = 85/fillfactor = $2/" schema.sql | psql -q "$U" >/dev/null 2>&1
	local s e
	s=$(./postgres_cpu.sh)
	psql -q "$U" -v ON_ERROR_STOP=1 -c "SET search_path = exp$1" -f /tmp/narrow-queue-$1.sql >/dev/null
	psql -q "$U" -c "VACUUM exp$1.deliveries"
	[ "$1" = a ] || psql -q "$U" -c "VACUUM expb.delivery_queue"
	e=$(./postgres_cpu.sh)
	echo "postgres $1 fillfactor $2: $((e - s)) ticks of server CPU; HOT updates, updates, size: $(psql -At "$U" -c "SELECT n_tup_hot_upd, n_tup_upd, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables WHERE schemaname = 'exp$1' AND relname = 'deliveries'")"
}
pgc() { # variant C: today's statements, the queue kept by a trigger
	psql -q "$U" -f schema_trigger.sql >/dev/null 2>&1
	local s e
	s=$(./postgres_cpu.sh)
	psql -q "$U" -v ON_ERROR_STOP=1 -c "SET search_path = expc" -f /tmp/narrow-queue-a.sql >/dev/null
	psql -q "$U" -c "VACUUM expc.deliveries"
	psql -q "$U" -c "VACUUM expc.delivery_queue"
	e=$(./postgres_cpu.sh)
	echo "postgres c (trigger): $((e - s)) ticks of server CPU; HOT updates, updates, size: $(psql -At "$U" -c "SELECT n_tup_hot_upd, n_tup_upd, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables WHERE schemaname = 'expc' AND relname = 'deliveries'")"
}
for _ in 1 2; do pg a 100; pg b 85; pg b 50; pgc; done
for _ in 1 2; do python3 sqlite_workload.py a "$BATCHES"; python3 sqlite_workload.py b "$BATCHES"; done
psql -q "$U" -c "DROP SCHEMA expa CASCADE; DROP SCHEMA expb CASCADE; DROP SCHEMA expc CASCADE"
