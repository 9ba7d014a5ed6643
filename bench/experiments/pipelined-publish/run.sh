#!/bin/bash
# The pipelined-publish experiment (README.md): a steady publish's
# transaction at 500 a second, its statements in six, four and two round
# trips, three rounds alternating. Prints PostgreSQL's and the client's CPU
# per transaction.
set -euo pipefail
cd "$(dirname "$0")"
U=${HERALD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
SECONDS_EACH=${SECONDS_EACH:-20}
psql -q "$U" -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS pipelined CASCADE" -c "CREATE SCHEMA pipelined"
S="$U&search_path=pipelined"
(cd ../../.. && go run ./cmd/herald migrate --database "$S")
PGOPTIONS='-c search_path=pipelined' psql -q "$U" -v ON_ERROR_STOP=1 -f setup.sql
cpu=../narrow-queue/postgres_cpu.sh
hz=$(getconf CLK_TCK)
for round in 1 2 3; do
	for f in six_round_trips four_round_trips two_round_trips; do
		s=$($cpu)
		/usr/bin/time -o /tmp/pipelined-$f.time -f "%U %S" env PGOPTIONS='-c search_path=pipelined' \
			pgbench -n -M prepared -f $f.sql -c 1 -R 500 -T "$SECONDS_EACH" "$U" >/tmp/pipelined-$f.out 2>&1
		sleep 1 # the backend's exit, so that the postmaster has reaped it
		e=$($cpu)
		n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' /tmp/pipelined-$f.out)
		read -r u k </tmp/pipelined-$f.time
		awk -v f=$f -v r=$round -v n="$n" -v t=$((e - s)) -v hz="$hz" -v u="$u" -v k="$k" \
			'BEGIN { printf "round %d %-17s %6d transactions  PostgreSQL %.3f ms each  client %.3f ms each\n", r, f, n, t * 1000 / hz / n, (u + k) * 1000 / n }'
	done
done
psql -q "$U" -c "SET client_min_messages = warning" -c "DROP SCHEMA pipelined CASCADE"
