#!/usr/bin/env bash
# Login storm of two Floorgate builds beside the bare argon2id rate,
# alternating (docs/BENCHMARKS.md, section 3): the bare loop (benchbare
# argon2), the bare HTTP server (benchbare argon2-http, driven by
# devicesim logins -bare) and each build's logins (devicesim logins, its
# own PostgreSQL schema and Redis prefix per round, default hash).
#
#   deploy/bench/logins.sh BEFORE_DIR AFTER_DIR
#
# Each DIR holds a floorgate binary; devicesim and benchbare come from
# AFTER_DIR. Ports 25000, 25001 and 25090 on 127.0.0.1. LEVELS (2,8,32,64),
# LEVEL_S (5) and ROUNDS (2: before/after, then after/before) tune it.
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_DIR AFTER_DIR" >&2; exit 2; }
before=$1 after=$2
out=$(mktemp -d /tmp/floorgate-logins.XXXXXX)
PG=${FLOORGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
REDIS=${FLOORGATE_TEST_REDIS_ADDR:-127.0.0.1:6379}
ADMIN_EMAIL=admin@bench.local
ADMIN_PASSWORD=Bench-Admin-Password-1!
LEVELS=${LEVELS:-2,8,32,64}
LEVEL_S=${LEVEL_S:-5}
ROUNDS=${ROUNDS:-2}
bb=$after/benchbare
ds=$after/devicesim
ulimit -n "$(ulimit -Hn)"
wait_ready() { for _ in $(seq 1 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "not ready: $1"; return 1; }
stop_pid() { # one process this script started, by its id
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
bare_loop() { echo "== bare-loop $(date -u +%T) load $(load)"; "$bb" argon2 -concurrency 2 -duration "${LEVEL_S}s"; }
bare_http() {
	echo "== bare-http $(date -u +%T) load $(load)"
	"$bb" argon2-http -addr 127.0.0.1:25090 -duration 5m >"$out/bare-http.log" 2>&1 &
	local p=$!
	wait_ready http://127.0.0.1:25090/readyz && "$ds" logins -bare -gateway http://127.0.0.1:25090 -admin http://127.0.0.1:25090 \
		-pairs 64 -concurrency "$LEVELS" -duration "${LEVEL_S}s"
	stop_pid $p
}
fg() {
	local label=$1 dir=$2 tag
	tag=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
	local schema=bench_lg$tag prefix="fgbenchlg$tag:"
	echo "== floorgate-$label $(date -u +%T) load $(load)"
	"$bb" pg-schema -url "$PG" -name "$schema" >/dev/null
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$out/pepper"
	case "$PG" in *\?*) url="$PG&search_path=$schema" ;; *) url="$PG?search_path=$schema" ;; esac
	FLOORGATE_ADDR=127.0.0.1:25000 FLOORGATE_ADMIN_ADDR=127.0.0.1:25001 \
		FLOORGATE_POSTGRES_URL="$url" FLOORGATE_REDIS_URL="redis://$REDIS/0" FLOORGATE_REDIS_PREFIX="$prefix" \
		FLOORGATE_DATA_DIR="$out/data-$tag" FLOORGATE_PEPPER_FILE="$out/pepper" \
		FLOORGATE_ADMIN_EMAIL="$ADMIN_EMAIL" FLOORGATE_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
		FLOORGATE_LOG_LEVEL=warn FLOORGATE_INSTANCE_ID="logins-$label" \
		"$dir/floorgate" >"$out/fg-$label-$tag.log" 2>&1 &
	local p=$!
	wait_ready http://127.0.0.1:25000/readyz && "$ds" logins -admin-email "$ADMIN_EMAIL" -admin-password "$ADMIN_PASSWORD" \
		-gateway http://127.0.0.1:25000 -admin http://127.0.0.1:25001 \
		-pairs 64 -concurrency "$LEVELS" -duration "${LEVEL_S}s" -burst 64 -pid $p
	stop_pid $p
	"$bb" pg-schema -url "$PG" -name "$schema" -drop >/dev/null 2>&1
	"$bb" redis-clean -addr "$REDIS" -prefix "$prefix" >/dev/null 2>&1
}
{
	echo "start $(date -u +%FT%TZ) $(nproc) cores, logs in $out"
	bare_loop
	for r in $(seq 1 "$ROUNDS"); do
		bare_http
		if [ $((r % 2)) = 1 ]; then fg before "$before"; fg after "$after"; else fg after "$after"; fg before "$before"; fi
	done
	bare_http
	bare_loop
	echo "end $(date -u +%FT%TZ)"
} 2>&1 | tee "$out/logins.log"
