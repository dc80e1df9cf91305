#!/usr/bin/env bash
# deploy/bench/connect-ab.sh measures authenticated websocket connects of two
# floorgate binaries (a before and an after) in alternating rounds on one
# PostgreSQL schema and Redis prefix, with the bare gorilla server after
# each pair, so that the machine's drift falls on both alike:
#
#   git worktree add /tmp/fg-before <commit> && (cd /tmp/fg-before && go build -o /tmp/fg-before.bin ./cmd/floorgate)
#   go build -o /tmp/fg-after.bin ./cmd/floorgate
#   deploy/bench/connect-ab.sh /tmp/fg-before.bin /tmp/fg-after.bin
#
# 512 devices: 0..255 with no session, 256..511 with a signed-in user;
# `devicesim connect -concurrency 32` for ROUND_S seconds (6) on each half,
# ROUNDS rounds (3). Each instance's CPU time per connect is read from
# /proc/PID/stat. Same variables and clean-up as deploy/bench/run.sh.
# PORT_BASE (18680) moves its three ports (floorgate's device and admin
# listeners at PORT_BASE and PORT_BASE+1, the bare server at PORT_BASE+2),
# so that it can run beside run.sh, which holds 18080-18381. With
# CENTRIFUGO_BIN set, a Centrifugo node (Redis engine, JWT, each user on its
# personal channel, as run.sh's section 5a) listens on PORT_BASE+3 and
# `benchpeer connect` measures it after the bare server in each round.
set -euo pipefail

BEFORE=${1:?usage: $0 BEFORE_FLOORGATE_BIN AFTER_FLOORGATE_BIN}
AFTER=${2:?usage: $0 BEFORE_FLOORGATE_BIN AFTER_FLOORGATE_BIN}
ROUNDS=${ROUNDS:-3}
ROUND_S=${ROUND_S:-6}
root=$(cd "$(dirname "$0")" && pwd)
while [ ! -f "$root/go.mod" ] && [ "$root" != / ]; do root=$(dirname "$root"); done
work=$(mktemp -d /tmp/floorgate-ab.XXXXXX)
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
pid=""

stop() {
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
}

cleanup() {
	set +e
	stop
	"$bin/benchbare" pg-schema -url "$PG" -name "$schema" -drop >/dev/null 2>&1
	"$bin/benchbare" redis-clean -addr "$REDIS" -prefix "$prefix" >/dev/null 2>&1
	"$bin/benchbare" redis-clean -addr "$REDIS" -prefix "cf$tag" >/dev/null 2>&1
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -p "$bin"
(cd "$root" && go build -o "$bin/devicesim" ./cmd/devicesim && go build -o "$bin/benchbare" ./cmd/benchbare &&
	go build -o "$bin/benchpeer" ./cmd/benchpeer)
"$bin/benchbare" pg-schema -url "$PG" -name "$schema" >/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/pepper"
PORT_BASE=${PORT_BASE:-18680}
GW=http://127.0.0.1:$PORT_BASE ADM=http://127.0.0.1:$((PORT_BASE + 1)) BARE=127.0.0.1:$((PORT_BASE + 2))

start() { # start BINARY: one instance on the shared schema and prefix
	FLOORGATE_ADDR=${GW#http://} FLOORGATE_ADMIN_ADDR=${ADM#http://} \
		FLOORGATE_POSTGRES_URL="$PGURL" FLOORGATE_REDIS_URL="redis://$REDIS/0" FLOORGATE_REDIS_PREFIX="$prefix" \
		FLOORGATE_DATA_DIR="$work/data" FLOORGATE_PEPPER_FILE="$work/pepper" \
		FLOORGATE_ADMIN_EMAIL="$ADMIN_EMAIL" FLOORGATE_ADMIN_PASSWORD="$ADMIN_PASSWORD" FLOORGATE_LOG_LEVEL=warn \
		"$1" -hash-memory-kib 64 -hash-time 1 >>"$work/fg.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 300); do curl -fsS -o /dev/null "$GW/readyz" 2>/dev/null && return 0; sleep 0.2; done
	echo "floorgate not ready" >&2
	exit 1
}
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # utime + stime, clock ticks
ds() { "$bin/devicesim" "$1" -gateway $GW -admin $ADM -admin-email "$ADMIN_EMAIL" -admin-password "$ADMIN_PASSWORD" "${@:2}"; }

start "$AFTER"
ds setup -devices-file "$work/devices.json" -devices 512 -warehouses 1 >/dev/null
"$bin/devicesim" hold -gateway $GW -admin $ADM -devices-file "$work/devices.json" -from 256 -count 256 -source 127.0.0.31 \
	-login -duration 2m -ready-timeout 90s >"$work/hold.log" 2>&1 &
hold=$!
for _ in $(seq 1 600); do grep -q '^READY' "$work/hold.log" && break; sleep 0.2; done
grep '^READY' "$work/hold.log"
kill -TERM "$hold" 2>/dev/null || true
wait "$hold" 2>/dev/null || true
stop

"$bin/benchbare" ws-server -addr "$BARE" -duration 30m >"$work/bare.log" 2>&1 &
bare=$!
cf=""
trap 'kill -TERM $bare $cf 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://$BARE/readyz" 2>/dev/null && break; sleep 0.1; done
CF_PORT=$((PORT_BASE + 3))
CF_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
if [ -n "${CENTRIFUGO_BIN:-}" ]; then
	cat >"$work/cf.json" <<CONF
{
  "http_server": {"address": "127.0.0.1", "port": $CF_PORT},
  "log": {"level": "error"},
  "client": {
    "token": {"hmac_secret_key": "$CF_SECRET"},
    "allowed_origins": ["*"],
    "subscribe_to_user_personal_channel": {"enabled": true}
  },
  "engine": {"type": "redis", "redis": {"address": ["redis://$REDIS"], "prefix": "cf$tag"}},
  "health": {"enabled": true}
}
CONF
	"$CENTRIFUGO_BIN" --config "$work/cf.json" >"$work/cf.log" 2>&1 &
	cf=$!
	for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$CF_PORT/health" 2>/dev/null && break; sleep 0.1; done
fi

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
hz=$(getconf CLK_TCK)
for r in $(seq 1 "$ROUNDS"); do
	for side in before after; do
		b=$BEFORE
		[ "$side" = after ] && b=$AFTER
		start "$b"
		sleep 1
		for half in no_session signed_in; do
			from=0
			[ "$half" = signed_in ] && from=256
			c0=$(cpu)
			line=$(ds connect -devices-file "$work/devices.json" -from $from -count 256 -concurrency 32 -duration "${ROUND_S}s" -label "$side-$half")
			c1=$(cpu)
			n=$(echo "$line" | sed -n 's/.* connects=\([0-9]*\).*/\1/p')
			echo "$line round=$r cpu_per_connect=$(awk -v d=$((c1 - c0)) -v n="${n:-0}" -v hz="$hz" 'BEGIN { if (n > 0) printf "%.0fus", d / hz / n * 1e6; else print "-" }') load=$(cut -d' ' -f1 /proc/loadavg)"
		done
		stop
	done
	"$bin/devicesim" connect -gateway "http://$BARE" -bare -concurrency 32 -duration "${ROUND_S}s" -label "bare round=$r"
	if [ -n "$cf" ]; then
		"$bin/benchpeer" connect -ws "ws://127.0.0.1:$CF_PORT/connection/websocket" -secret "$CF_SECRET" -concurrency 32 \
			-duration "${ROUND_S}s" -users 512 -label "centrifugo round=$r"
	fi
done
