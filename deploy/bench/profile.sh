#!/usr/bin/env bash
# deploy/bench/profile.sh takes a CPU profile of one Floorgate instance while
# devicesim drives one of the load modes, and prints its top functions.
#
#   deploy/bench/profile.sh introspect   # POST /v1/introspect at concurrency 64
#   deploy/bench/profile.sh connect      # authenticated websocket connects
#   deploy/bench/profile.sh warehouse    # one warehouse of 5,000 signed-in sockets logged out at once
#
# Floorgate serves net/http/pprof on its own listener when -pprof-addr
# (FLOORGATE_PPROF_ADDR) is set; this script binds it to 127.0.0.1:18482.
# PORT_BASE (18480) moves the three listeners (device, admin, pprof at
# PORT_BASE, +1, +2). With STRACE=1 it also counts the instance's system
# calls (strace -c -f) over the profiled seconds and prints them (accept4's
# count is the number of connections taken meanwhile: a connect each). strace
# slows the instance down; the profile is then not the unattended one.
# Same PostgreSQL/Redis variables and clean-up as deploy/bench/run.sh.
# REDIS_QUERY (e.g. ?pool_size=128) is appended to Floorgate's Redis URL,
# to try go-redis options.
set -euo pipefail

WHAT=${1:-introspect}
SECONDS_PROFILED=${PROFILE_SECONDS:-15}
root=$(cd "$(dirname "$0")" && pwd)
while [ ! -f "$root/go.mod" ] && [ "$root" != / ]; do root=$(dirname "$root"); done
work=$(mktemp -d /tmp/floorgate-profile.XXXXXX)
bin=$work/bin
PG=${FLOORGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
REDIS=${FLOORGATE_TEST_REDIS_ADDR:-127.0.0.1:6379}
tag=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
schema=bench_$tag
prefix="fgbench$tag:"
ADMIN_EMAIL=admin@bench.local
ADMIN_PASSWORD=Bench-Admin-Password-1!
case "$PG" in *\?*) PGURL="$PG&search_path=$schema" ;; *) PGURL="$PG?search_path=$schema" ;; esac
ulimit -n "$(ulimit -Hn)"
fg=""

cleanup() {
	set +e
	if [ -n "$fg" ]; then
		kill -TERM "$fg" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$fg" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$fg" 2>/dev/null
		wait "$fg" 2>/dev/null
	fi
	"$bin/benchbare" pg-schema -url "$PG" -name "$schema" -drop >/dev/null 2>&1
	"$bin/benchbare" redis-clean -addr "$REDIS" -prefix "$prefix" >/dev/null 2>&1
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -p "$bin"
# OVERLAY_REPLACE measures a proposed change without editing the tree: it
# is a go build -overlay Replace list, '"/abs/path/in/tree.go":"/abs/path/of/new.go"'.
overlay=()
if [ -n "${OVERLAY_REPLACE:-}" ]; then
	printf '{"Replace":{%s}}\n' "$OVERLAY_REPLACE" >"$work/overlay.json"
	overlay=(-overlay "$work/overlay.json")
fi
(cd "$root" && go build "${overlay[@]}" -o "$bin/floorgate" ./cmd/floorgate &&
	go build -o "$bin/devicesim" ./cmd/devicesim && go build -o "$bin/benchbare" ./cmd/benchbare)
"$bin/benchbare" pg-schema -url "$PG" -name "$schema" >/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/pepper"

PORT_BASE=${PORT_BASE:-18480}
GW=http://127.0.0.1:$PORT_BASE ADM=http://127.0.0.1:$((PORT_BASE + 1)) PPROF=127.0.0.1:$((PORT_BASE + 2))
FLOORGATE_ADDR=${GW#http://} FLOORGATE_ADMIN_ADDR=${ADM#http://} FLOORGATE_PPROF_ADDR=$PPROF \
	FLOORGATE_POSTGRES_URL="$PGURL" FLOORGATE_REDIS_URL="redis://$REDIS/0${REDIS_QUERY:-}" FLOORGATE_REDIS_PREFIX="$prefix" \
	FLOORGATE_DATA_DIR="$work/data" FLOORGATE_PEPPER_FILE="$work/pepper" \
	FLOORGATE_ADMIN_EMAIL="$ADMIN_EMAIL" FLOORGATE_ADMIN_PASSWORD="$ADMIN_PASSWORD" FLOORGATE_LOG_LEVEL=warn \
	"$bin/floorgate" -hash-memory-kib 64 -hash-time 1 >"$work/fg.log" 2>&1 &
fg=$!
for _ in $(seq 1 300); do curl -fsS -o /dev/null "$GW/readyz" 2>/dev/null && break; sleep 0.2; done
ds() { "$bin/devicesim" "$1" -gateway $GW -admin $ADM -admin-email "$ADMIN_EMAIL" -admin-password "$ADMIN_PASSWORD" "${@:2}"; }
n=512
[ "$WHAT" = warehouse ] && n=${WAREHOUSE_SESSIONS:-5000}
ds setup -devices-file "$work/devices.json" -devices "$n" -warehouses 1 >/dev/null

run_s=$((SECONDS_PROFILED + 5))
case "$WHAT" in
introspect) ds introspect -devices-file "$work/devices.json" -concurrency 64 -duration "${run_s}s" & ;;
connect) ds connect -devices-file "$work/devices.json" -concurrency 32 -duration "${run_s}s" & ;;
warehouse)
	mkdir -p "$work/ev"
	"$bin/devicesim" hold -gateway $GW -admin $ADM -devices-file "$work/devices.json" -source 127.0.0.31 \
		-events "$work/ev/hold.events" -login -duration 10m -ready-timeout 4m >"$work/hold.log" 2>&1 &
	hold=$!
	for _ in $(seq 1 1200); do grep -q '^READY' "$work/hold.log" && break; sleep 0.2; done
	grep '^READY' "$work/hold.log"
	(sleep 1 && ds logouts -devices-file "$work/devices.json" -events-dir "$work/ev" -single 0 -wait 60s; kill -TERM $hold) &
	;;
*) echo "usage: $0 [introspect|connect|warehouse]" >&2; exit 2 ;;
esac
load=$!
[ "$WHAT" = warehouse ] || sleep 3
st=""
if [ "${STRACE:-0}" = 1 ]; then
	timeout -s INT "$SECONDS_PROFILED" strace -c -f -p "$fg" -o "$work/strace.txt" &
	st=$!
fi
curl -fsS -o "$work/cpu.pprof" "http://$PPROF/debug/pprof/profile?seconds=$SECONDS_PROFILED"
if [ -n "$st" ]; then
	wait "$st" || true
fi
wait "$load"
go tool pprof -top -nodecount 35 "$bin/floorgate" "$work/cpu.pprof" 2>/dev/null
echo
go tool pprof -top -cum -nodecount 35 "$bin/floorgate" "$work/cpu.pprof" 2>/dev/null
if [ -n "$st" ]; then
	echo
	echo "system calls of the instance over ${SECONDS_PROFILED}s (strace -c -f):"
	cat "$work/strace.txt"
fi
cp "$work/cpu.pprof" "/tmp/floorgate-$WHAT.pprof"
echo "profile kept in /tmp/floorgate-$WHAT.pprof (binary: rebuild floorgate from the same tree to read it)"
