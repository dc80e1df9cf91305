#!/usr/bin/env bash
# deploy/bench/run.sh runs the five measurements of docs/BENCHMARKS.md, each beside
# its bare comparison, against real Floorgate processes on 127.0.0.1, and
# prints the figures. It needs PostgreSQL and Redis on 127.0.0.1 (the
# variables of the tests choose others) and Go; it builds everything itself.
#
#   deploy/bench/run.sh small   # a small version of all five, in under 5 minutes
#   BENCH_DEVICES=2000 deploy/bench/run.sh small   # the same with more devices for sections 2 and 5b
#   deploy/bench/run.sh full    # 5,000 / 10,000 / 19,000 sockets, 1,000 logouts, ...
#   BENCH_DEVICES=50000 deploy/bench/run.sh full   # a larger fleet for sections 2 and 5b
#   deploy/bench/run.sh warehouse   # only the warehouse logout: 6,333 sockets of one warehouse on 3 instances
#   BENCH_DEVICES=19000 BENCH_IDLE_STEPS="10000 19000" deploy/bench/run.sh small   # section 1 at the target's sizes
#   deploy/bench/run.sh cluster   # 50,000 sockets on 3 instances over a 3-primary Redis Cluster it starts itself
#   BENCH_CLUSTER_DEVICES=6000 deploy/bench/run.sh cluster   # the same, smaller
#   BENCH_CLUSTER=1 deploy/bench/run.sh full   # full, then cluster at the end
#
# Centrifugo v6.9.1, the peer each figure is set beside, is installed with
# `go install` into the work dir (CENTRIFUGO_BIN=path reuses a binary;
# PEER=0 leaves the peer out) and runs two nodes with its Redis engine on
# the same Redis, driven by cmd/benchpeer.
#
# It works in a schema and a Redis key prefix of its own and removes them,
# and every process it starts, when it ends (KEEP=1 keeps the work dir with
# the logs). Every step is bounded in time.
set -euo pipefail

# Each hold process sends from one loopback address of its own, and
# Floorgate takes at most 3,000 websockets from one client address by
# default (-max-websockets-per-addr): a process holds at most 2,500.
SIZE=${1:-small}
case "$SIZE" in
small)
	DEVICES=${BENCH_DEVICES:-1500} IDLE_STEPS="500 1000 1500" PER_PROC=1500
	STEP_S=5 LEVELS=2,8,32,64 LEVEL_S=4 BURST=1000 BURST_PAIRS=200 SINGLE=300 STORM_LOGOUTS=100
	;;
warehouse)
	DEVICES=${BENCH_DEVICES:-6333} PER_PROC=1500 PEER=${PEER:-0}
	;;
cluster)
	# Fleet scale (issue 14, item 8): BENCH_CLUSTER_DEVICES over three
	# instances on a Redis Cluster of three primaries started here, in
	# warehouses of about 6,250 (BENCH_CLUSTER_WAREHOUSES).
	DEVICES=${BENCH_CLUSTER_DEVICES:-50000} PER_PROC=2500 PEER=0 SINGLE=${BENCH_CLUSTER_SINGLE:-1000} STORM_LOGOUTS=300
	WAREHOUSES=${BENCH_CLUSTER_WAREHOUSES:-$(((DEVICES + 6249) / 6250))} HOLD_READY_S=900
	# Dials and logins in flight per hold process (20 processes at
	# 50,000): 256 dials each, 5,120 at once, timed out the instances'
	# PostgreSQL device lookups (500 ms) for minutes on end.
	HOLD_DIALS=${BENCH_CLUSTER_DIALS:-8} HOLD_LOGINS=${BENCH_CLUSTER_LOGINS:-2}
	;;
full)
	DEVICES=${BENCH_DEVICES:-19000} IDLE_STEPS="5000 10000 19000" PER_PROC=2500
	STEP_S=10 LEVELS=2,4,8,16,32,64 LEVEL_S=10 BURST=1000 BURST_PAIRS=1000 SINGLE=1000 STORM_LOGOUTS=300
	;;
*)
	echo "usage: $0 [small|full|warehouse|cluster]" >&2
	exit 2
	;;
esac
# BENCH_IDLE_STEPS="10000 19000" (with BENCH_DEVICES at least the last)
# chooses section 1's steps.
IDLE_STEPS=${BENCH_IDLE_STEPS:-${IDLE_STEPS:-}}
# A hold process prints READY once its devices are up, or after this
# long with what is up.
HOLD_READY_S=${HOLD_READY_S:-240}

root=$(cd "$(dirname "$0")" && pwd)
while [ ! -f "$root/go.mod" ] && [ "$root" != / ]; do root=$(dirname "$root"); done
work=$(mktemp -d /tmp/floorgate-bench.XXXXXX)
bin=$work/bin
log=$work/run.log
PG=${FLOORGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
REDIS=${FLOORGATE_TEST_REDIS_ADDR:-127.0.0.1:6379}
tag=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
schema=bench_$tag
prefix="fgbench$tag:"
ADMIN_EMAIL=admin@bench.local
ADMIN_PASSWORD=Bench-Admin-Password-1!
case "$PG" in *\?*) PGURL="$PG&search_path=$schema" ;; *) PGURL="$PG?search_path=$schema" ;; esac

ulimit -n "$(ulimit -Hn)"
# The instances' Redis (cluster mode: the Cluster it starts).
FG_REDIS_URL="redis://$REDIS/0"
declare -A pid_of=()
holds=()

say() { echo "== $*" | tee -a "$log"; }

stop_pid() { # stop one process this script started, by its id
	local p=$1
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

stop_holds() {
	for p in "${holds[@]}"; do stop_pid "$p"; done
	holds=()
}

cleanup() {
	set +e
	stop_holds
	# The instances first, then the Redis Cluster nodes they stop on.
	for n in "${!pid_of[@]}"; do [[ $n == redis* ]] || stop_pid "${pid_of[$n]}"; done
	for n in "${!pid_of[@]}"; do [[ $n == redis* ]] && stop_pid "${pid_of[$n]}"; done
	"$bin/benchbare" pg-schema -url "$PG" -name "$schema" -drop >/dev/null 2>&1
	[ -n "${cluster_dirs:-}" ] && rm -rf $cluster_dirs
	"$bin/benchbare" redis-clean -addr "$REDIS" -prefix "$prefix" >/dev/null 2>&1
	"$bin/benchbare" redis-clean -addr "$REDIS" -prefix "cf$tag" >/dev/null 2>&1
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say "building into $bin"
(cd "$root" && go build -o "$bin/floorgate" ./cmd/floorgate && go build -o "$bin/devicesim" ./cmd/devicesim && go build -o "$bin/benchbare" ./cmd/benchbare && go build -o "$bin/benchpeer" ./cmd/benchpeer)
PEER=${PEER:-1}
CF_VERSION=v6.9.1
if [ "$PEER" = 1 ]; then
	if [ -n "${CENTRIFUGO_BIN:-}" ]; then
		cp "$CENTRIFUGO_BIN" "$bin/centrifugo"
	else
		say "installing Centrifugo $CF_VERSION into $bin (the peer; not a dependency of Floorgate)"
		GOBIN=$bin go install "github.com/centrifugal/centrifugo/v6@$CF_VERSION" >>"$log" 2>&1
	fi
	"$bin/centrifugo" version | tee -a "$log"
fi
"$bin/benchbare" pg-schema -url "$PG" -name "$schema" >>"$log"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/pepper"

say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(go version | cut -d' ' -f3), open files $(ulimit -n), $(date -u +%Y-%m-%dT%H:%MZ), size $SIZE"

# An instance takes websockets up to 90% of its connection budget by
# default (the open-files limit less -fd-reserve and the admin
# listener's 256): with a hard limit of 20,000 files that is 17,308,
# below section 1's 19,000. The bench raises the cap to the budget less
# 200 connections for the logins (0: the default, when files are
# plenty).
files=$(ulimit -n)
MAX_WS=0
if [ "$SIZE" = cluster ]; then
	# Each instance refuses websockets beyond its own budget (nine tenths
	# of the open-files limit less -fd-reserve 512 and the admin
	# listener's 256: 17,308 at 20,000 files), so that when one instance
	# dies the two others fill up to that and refuse the rest with 503;
	# those devices try the next instance of their list (and the killed
	# one, once it is restarted).
	MAX_WS=${BENCH_CLUSTER_MAX_WS:-$(((files - 512 - 256) * 9 / 10))}
elif [ "$files" != unlimited ] && [ $((files * 9 / 10)) -lt $((DEVICES + 1000)) ]; then
	MAX_WS=$((files - 512 - 256 - 200))
fi

# start_fg NAME PORT_BASE [flags...]: gateway on PORT_BASE, admin on PORT_BASE+1.
start_fg() {
	local name=$1 port=$2
	shift 2
	FLOORGATE_ADDR=127.0.0.1:$port FLOORGATE_ADMIN_ADDR=127.0.0.1:$((port + 1)) \
		FLOORGATE_POSTGRES_URL="$PGURL" FLOORGATE_REDIS_URL="$FG_REDIS_URL" FLOORGATE_REDIS_PREFIX="$prefix" \
		FLOORGATE_DATA_DIR="$work/data-$name" FLOORGATE_PEPPER_FILE="$work/pepper" \
		FLOORGATE_ADMIN_EMAIL="$ADMIN_EMAIL" FLOORGATE_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
		FLOORGATE_LOG_LEVEL=warn FLOORGATE_INSTANCE_ID="bench-$name" \
		FLOORGATE_MAX_WEBSOCKETS="$MAX_WS" \
		"$bin/floorgate" "$@" >"$work/fg-$name.log" 2>&1 &
	pid_of[$name]=$!
	wait_ready "http://127.0.0.1:$port/readyz" "$name"
}

# start_cf NAME PORT: a Centrifugo node on PORT (websocket, HTTP API and
# /metrics), Redis engine on the bench's Redis under a prefix of its own,
# each user subscribed by the server to its personal channel "#<user>".
CF_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
CF_KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
start_cf() {
	local name=$1 port=$2
	cat >"$work/cf-$name.json" <<CONF
{
  "http_server": {"address": "127.0.0.1", "port": $port},
  "log": {"level": "error"},
  "client": {
    "token": {"hmac_secret_key": "$CF_SECRET"},
    "allowed_origins": ["*"],
    "subscribe_to_user_personal_channel": {"enabled": true}
  },
  "http_api": {"key": "$CF_KEY"},
  "engine": {"type": "redis", "redis": {"address": ["redis://$REDIS"], "prefix": "cf$tag"}},
  "prometheus": {"enabled": true},
  "health": {"enabled": true}
}
CONF
	"$bin/centrifugo" --config "$work/cf-$name.json" >"$work/cf-$name.log" 2>&1 &
	pid_of[cf$name]=$!
	wait_ready "http://127.0.0.1:$port/health" "centrifugo-$name"
}

# peer_hold_count N [WS,WS,...] [FIRST]: hold N Centrifugo connections in
# processes of PER_PROC, the processes spread over the nodes' websocket
# endpoints in turn (node a's alone by default), users uFIRST, uFIRST+1, ...
peer_hold_count() {
	local n=$1 from=0 k=11 i=0 first=${3:-0}
	local -a ws
	IFS=, read -r -a ws <<<"${2:-$CFA_WS}"
	hold_logs=()
	while [ "$from" -lt "$n" ]; do
		local c=$((n - from))
		[ "$c" -gt "$PER_PROC" ] && c=$PER_PROC
		local out=$work/peer-hold-$from-$RANDOM.log
		"$bin/benchpeer" hold -ws "${ws[$((i % ${#ws[@]}))]}" -secret "$CF_SECRET" -from "$((first + from))" -count "$c" -source "127.0.0.$k" -duration 20m >"$out" 2>&1 &
		holds+=($!)
		hold_logs+=("$out")
		from=$((from + c))
		k=$((k + 1))
		i=$((i + 1))
	done
	wait_holds
}

wait_ready() {
	for _ in $(seq 1 300); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	echo "$2 not ready after 60 s" >&2
	exit 1
}

# hold_range FROM COUNT SOURCE GATEWAYS EVENTS [flags...]: one hold process.
hold_range() {
	local from=$1 count=$2 src=$3 gws=$4 ev=$5
	shift 5
	local out=$work/hold-$from-$count-$RANDOM.log
	"$bin/devicesim" hold -devices-file "$work/devices.json" -from "$from" -count "$count" -source "$src" \
		-gateways "$gws" -events "$ev" -duration 30m -ready-timeout "${HOLD_READY_S}s" \
		-admin-email "$ADMIN_EMAIL" -admin-password "$ADMIN_PASSWORD" "$@" >"$out" 2>&1 &
	holds+=($!)
	hold_logs+=("$out")
}

# wait_holds: until every hold process printed READY (bounded by its -ready-timeout).
wait_holds() {
	for f in "${hold_logs[@]}"; do
		for _ in $(seq 1 $((HOLD_READY_S * 5 + 300))); do
			grep -q '^READY' "$f" && break
			sleep 0.2
		done
		grep '^READY' "$f" | tee -a "$log" || { echo "no READY in $f" >&2; cat "$f" >&2; exit 1; }
	done
}

# hold_count N GATEWAYS EVENTS_DIR [flags...]: hold devices 0..N-1 in processes of PER_PROC.
hold_count() {
	local n=$1 gws=$2 evdir=$3
	shift 3
	hold_logs=()
	local from=0 k=11
	while [ "$from" -lt "$n" ]; do
		local c=$((n - from))
		[ "$c" -gt "$PER_PROC" ] && c=$PER_PROC
		hold_range "$from" "$c" "127.0.0.$k" "$gws" "$evdir/hold-$k.events" "$@"
		from=$((from + c))
		k=$((k + 1))
	done
	wait_holds
}

gauge_zero() { # wait until a server holds no sockets
	for _ in $(seq 1 150); do
		local n
		n=$(curl -fsS "$1" 2>/dev/null | awk '/^(floorgate_gateway_sockets|bare_sockets) / {print $2}' || true)
		[ "${n:-1}" = 0 ] && return 0
		sleep 0.2
	done
}

A=http://127.0.0.1:18080 B=http://127.0.0.1:18180 C=http://127.0.0.1:18280 D=http://127.0.0.1:18380
AADM=http://127.0.0.1:18081 DADM=http://127.0.0.1:18381
BARE=http://127.0.0.1:19090
CFA=http://127.0.0.1:18500 CFB=http://127.0.0.1:18600
CFA_WS=ws://127.0.0.1:18500/connection/websocket CFB_WS=ws://127.0.0.1:18600/connection/websocket
CHEAP=(-hash-memory-kib 64 -hash-time 1)
ds() { "$bin/devicesim" "$1" -admin-email "$ADMIN_EMAIL" -admin-password "$ADMIN_PASSWORD" "${@:2}" | tee -a "$log"; }

if [ "$SIZE" = warehouse ]; then
	say "setup: instance A (cheap hashes, for setup speed only), $DEVICES devices in one warehouse"
	start_fg a 18080 "${CHEAP[@]}"
	ds setup -gateway $A -admin $AADM -devices-file "$work/devices.json" -devices "$DEVICES" -warehouses 1 -concurrency 8
	say "W. warehouse logout: instances A, B, C, $DEVICES sockets signed in, one warehouse"
	start_fg b 18180 "${CHEAP[@]}"
	start_fg c 18280 "${CHEAP[@]}"
	mkdir -p "$work/ev-fleet"
	hold_count "$DEVICES" "$A,$B,$C" "$work/ev-fleet" -login -login-concurrency 8
	say "load average $(cut -d' ' -f1-3 /proc/loadavg)"
	ds logouts -gateway $A -admin $AADM -devices-file "$work/devices.json" -events-dir "$work/ev-fleet" -single 0 -wait 60s
	exit 0
fi

# start_cluster: three Redis primaries in cluster mode on CL_PORTS, slots
# spread by redis-cli, removed by cleanup like every process here.
CL_PORTS=${BENCH_CLUSTER_PORTS:-"18390 18391 18392"}
start_cluster() {
	local p nodes=() seeds=()
	for p in $CL_PORTS; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "port $p is taken: the Redis Cluster needs $CL_PORTS (BENCH_CLUSTER_PORTS chooses others)" >&2
			exit 1
		fi
		mkdir -p "$work/redis-$p"
		cluster_dirs="${cluster_dirs:-} $work/redis-$p"
		redis-server --port "$p" --bind 127.0.0.1 --protected-mode no \
			--cluster-enabled yes --cluster-config-file "$work/redis-$p/nodes.conf" --cluster-node-timeout 5000 \
			--dir "$work/redis-$p" --save "" --appendonly no --daemonize no \
			--logfile "$work/redis-$p/redis.log" >/dev/null 2>&1 &
		pid_of[redis$p]=$!
		nodes+=("127.0.0.1:$p")
		seeds+=("addr=127.0.0.1:$p")
	done
	for p in $CL_PORTS; do
		for _ in $(seq 1 100); do
			[ "$(redis-cli -p "$p" ping 2>/dev/null)" = PONG ] && break
			sleep 0.1
		done
	done
	timeout 60 redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >>"$log" 2>&1
	for p in $CL_PORTS; do
		for _ in $(seq 1 300); do
			redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
			sleep 0.1
		done
		redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || { echo "Redis Cluster node $p not ok after 30 s" >&2; exit 1; }
	done
	local first=${nodes[0]} rest
	rest=$(IFS='&'; echo "${seeds[*]:1}")
	FG_REDIS_URL="redis+cluster://$first?$rest"
	say "Redis Cluster: ${nodes[*]} ($(redis-server --version | cut -d' ' -f3), 3 primaries, no replicas), instances on $FG_REDIS_URL"
}

# sample_all LABEL: each instance's memory against its base (after start).
sample_all() {
	local n
	for n in a b c; do
		"$bin/devicesim" sample -pid "${pid_of[$n]}" -metrics "${ADM_OF[$n]}/metrics" -label "cluster-$n-$1" \
			-base-rss "${BASE_RSS[$n]}" -base-heap "${BASE_HEAP[$n]}" | tee -a "$log"
	done
}

if [ "$SIZE" = cluster ]; then
	start_cluster
	# The setup instance waits up to 5 s for PostgreSQL (the default 500
	# ms deadline refused user imports on a loaded machine); the
	# measured instances run with the default.
	say "setup: instance A (cheap hashes and -store-timeout 5s, for setup only), $DEVICES devices in $WAREHOUSES warehouses"
	start_fg a 18080 "${CHEAP[@]}" -store-timeout 5s
	ds setup -gateway $A -admin $AADM -devices-file "$work/devices.json" -devices "$DEVICES" -warehouses "$WAREHOUSES" -concurrency 8
	# A starts again so that the three instances' bases are alike.
	stop_pid "${pid_of[a]}"
	say "C1. $DEVICES sockets signed in over instances A, B, C (Redis Cluster, -max-websockets $MAX_WS each), hold processes of $PER_PROC, each $HOLD_DIALS dials and $HOLD_LOGINS logins in flight"
	declare -A ADM_OF=([a]=$AADM [b]=http://127.0.0.1:18181 [c]=http://127.0.0.1:18281) BASE_RSS=() BASE_HEAP=()
	start_fg a 18080 "${CHEAP[@]}"
	start_fg b 18180 "${CHEAP[@]}"
	start_fg c 18280 "${CHEAP[@]}"
	sleep 2
	for n in a b c; do
		base=$("$bin/devicesim" sample -pid "${pid_of[$n]}" -metrics "${ADM_OF[$n]}/metrics" -label "cluster-$n-base")
		echo "$base" | tee -a "$log"
		BASE_RSS[$n]=$(echo "$base" | sed -n 's/.* rss=\([0-9]*\).*/\1/p')
		BASE_HEAP[$n]=$(echo "$base" | sed -n 's/.* heap_inuse=\([0-9]*\).*/\1/p')
	done
	mkdir -p "$work/ev-fleet"
	t0=$(date +%s)
	hold_count "$DEVICES" "$A,$B,$C" "$work/ev-fleet" -login -login-concurrency "$HOLD_LOGINS" -dial-concurrency "$HOLD_DIALS"
	say "every hold process READY in $(($(date +%s) - t0)) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	sleep 10
	sample_all held
	say "C2. forced logouts of single sessions, one after another"
	ds logouts -gateway $A -admin $AADM -devices-file "$work/devices.json" -events-dir "$work/ev-fleet" -single "$SINGLE" -warehouse=false
	say "C3. reconnect storm: kill instance C (SIGKILL), restart it after ${BENCH_CLUSTER_RESTART_S:-2} s as a supervisor would"
	disown "${pid_of[c]}" # its death by SIGKILL is the point: no job notice
	"$bin/devicesim" storm -admin-email "$ADMIN_EMAIL" -admin-password "$ADMIN_PASSWORD" -gateway $A -admin $AADM \
		-devices-file "$work/devices.json" -events-dir "$work/ev-fleet" -gateways "$A,$B,$C" -kill-index 2 \
		-kill-pid "${pid_of[c]}" -logouts "$STORM_LOGOUTS" -wait 90s -within 30s >"$work/storm.out" 2>&1 &
	storm_pid=$!
	for _ in $(seq 1 1200); do
		grep -q '^storm: killed' "$work/storm.out" && break
		kill -0 "$storm_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^storm: killed' "$work/storm.out"; then
		cat "$work/storm.out" >&2
		echo "the storm did not kill C within 120 s" >&2
		exit 1
	fi
	unset 'pid_of[c]'
	sleep "${BENCH_CLUSTER_RESTART_S:-2}"
	start_fg c 18280 "${CHEAP[@]}"
	say "C restarted and ready $(grep '^storm: killed' "$work/storm.out" | sed 's/.* at //') -> $(date -u +%H:%M:%S.%N | cut -c1-12)"
	rc=0
	wait "$storm_pid" || rc=$?
	tee -a "$log" <"$work/storm.out"
	[ "$rc" = 0 ] || { echo "storm exited $rc" >&2; exit 1; }
	for n in a b c; do
		curl -fsS "${ADM_OF[$n]}/metrics" | awk -v n="$n" '/^floorgate_gateway_sockets / {print "SOCKETS after the storm on " n ": " $2}' | tee -a "$log"
	done
	say "C4. forced logout of a whole warehouse (the last device's), $(cut -d' ' -f1-3 /proc/loadavg)"
	ds logouts -gateway $A -admin $AADM -devices-file "$work/devices.json" -events-dir "$work/ev-fleet" -single 0 -wait 60s
	say "figures"
	grep -E '^(RESULT|MEM|READY|SOCKETS)' "$log" || true
	exit 0
fi

say "setup: instance A (cheap hashes, for setup speed only), $DEVICES devices in 3 warehouses"
start_fg a 18080 "${CHEAP[@]}"
ds setup -gateway $A -admin $AADM -devices-file "$work/devices.json" -devices "$DEVICES" -warehouses 3 -concurrency 8

say "1. idle sockets on one instance (A), then on the bare gorilla server"
mkdir -p "$work/ev-idle"
sleep 2
base=$("$bin/devicesim" sample -pid "${pid_of[a]}" -metrics $AADM/metrics -label floorgate-base)
echo "$base" | tee -a "$log"
brss=$(echo "$base" | sed -n 's/.* rss=\([0-9]*\).*/\1/p')
bheap=$(echo "$base" | sed -n 's/.* heap_inuse=\([0-9]*\).*/\1/p')
for n in $IDLE_STEPS; do
	hold_count "$n" $A "$work/ev-idle"
	sleep "$STEP_S"
	"$bin/devicesim" sample -pid "${pid_of[a]}" -metrics $AADM/metrics -label "floorgate-$n" -sockets "$n" -base-rss "$brss" -base-heap "$bheap" | tee -a "$log"
	stop_holds
	gauge_zero $AADM/metrics
done
"$bin/benchbare" ws-server -addr 127.0.0.1:19090 -duration 15m >"$work/bare.log" 2>&1 &
pid_of[bare]=$!
wait_ready $BARE/readyz bare
sleep 1
base=$("$bin/devicesim" sample -pid "${pid_of[bare]}" -metrics $BARE/metrics -label bare-base)
echo "$base" | tee -a "$log"
brss=$(echo "$base" | sed -n 's/.* rss=\([0-9]*\).*/\1/p')
bheap=$(echo "$base" | sed -n 's/.* heap_inuse=\([0-9]*\).*/\1/p')
for n in $IDLE_STEPS; do
	hold_count "$n" $BARE "$work/ev-idle" -bare
	sleep "$STEP_S"
	"$bin/devicesim" sample -pid "${pid_of[bare]}" -metrics $BARE/metrics -label "bare-$n" -sockets "$n" -base-rss "$brss" -base-heap "$bheap" | tee -a "$log"
	stop_holds
	gauge_zero $BARE/metrics
done

if [ "$PEER" = 1 ]; then
	say "1c. idle connections on Centrifugo (one node, Redis engine, each on its personal channel)"
	start_cf a 18500
	sleep 1
	base=$("$bin/devicesim" sample -pid "${pid_of[cfa]}" -metrics $CFA/metrics -label centrifugo-base)
	echo "$base" | tee -a "$log"
	brss=$(echo "$base" | sed -n 's/.* rss=\([0-9]*\).*/\1/p')
	bheap=$(echo "$base" | sed -n 's/.* heap_inuse=\([0-9]*\).*/\1/p')
	for n in $IDLE_STEPS; do
		peer_hold_count "$n"
		sleep "$STEP_S"
		"$bin/devicesim" sample -pid "${pid_of[cfa]}" -metrics $CFA/metrics -label "centrifugo-$n" -sockets "$n" -base-rss "$brss" -base-heap "$bheap" | tee -a "$log"
		stop_holds
		sleep 2
	done
fi

say "5a. connects per second: authenticated on A, then bare upgrades, then Centrifugo (JWT + personal channel)"
ds connect -gateway $A -devices-file "$work/devices.json" -concurrency 32 -duration "${STEP_S}s" -label floorgate
ds connect -gateway $BARE -bare -concurrency 32 -duration "${STEP_S}s" -label bare
if [ "$PEER" = 1 ]; then
	"$bin/benchpeer" connect -ws "$CFA_WS" -secret "$CF_SECRET" -concurrency 32 -duration "${STEP_S}s" -users "$DEVICES" | tee -a "$log"
	stop_pid "${pid_of[cfa]}"
	unset 'pid_of[cfa]'
fi
stop_pid "${pid_of[bare]}"
unset 'pid_of[bare]'

say "4. introspection at concurrency 64 on A, then a bare go-redis GET loop, then a bare HTTP server doing one GET"
ds introspect -gateway $A -admin $AADM -devices-file "$work/devices.json" -concurrency 64 -duration "${STEP_S}s"
"$bin/benchbare" redis-get -addr "$REDIS" -concurrency 64 -duration "${STEP_S}s" | sed 's/^/RESULT /' | tee -a "$log"
"$bin/benchbare" http-redis -addr 127.0.0.1:19091 -redis "$REDIS" -duration 5m >"$work/bare-http.log" 2>&1 &
pid_of[barehttp]=$!
wait_ready http://127.0.0.1:19091/readyz bare-http
ds introspect -bare -gateway http://127.0.0.1:19091 -concurrency 64 -duration "${STEP_S}s" -label bare-http
stop_pid "${pid_of[barehttp]}"
unset 'pid_of[barehttp]'

say "2. forced logouts: instances A, B, C sharing PostgreSQL and Redis, $DEVICES sockets signed in"
start_fg b 18180 "${CHEAP[@]}"
start_fg c 18280 "${CHEAP[@]}"
say "4b. introspection at concurrency 64 spread over A, B and C (each instance caches on its own: scale-out)"
ds introspect -gateway $A -gateways "$A,$B,$C" -admin $AADM -devices-file "$work/devices.json" -concurrency 64 -duration "${STEP_S}s" -label floorgate-3
mkdir -p "$work/ev-fleet"
hold_count "$DEVICES" "$A,$B,$C" "$work/ev-fleet" -login -login-concurrency 8
"$bin/benchbare" redis-pubsub -addr "$REDIS" -count "$SINGLE" -burst $((DEVICES / 3)) | sed 's/^/RESULT /' | tee -a "$log"
ds logouts -gateway $A -admin $AADM -devices-file "$work/devices.json" -events-dir "$work/ev-fleet" -single "$SINGLE"
if [ "$PEER" = 1 ]; then
	say "2c. Centrifugo across nodes: publish through node A's HTTP API, delivered on node B, while the two nodes hold $DEVICES connections (as Floorgate's instances hold the fleet)"
	start_cf a 18500
	start_cf b 18600
	# The fleet's holds stay up for 5b; the peer's are held beside them
	# (users u1000000 on, apart from the latency clients u0 to u299).
	fleet_holds=("${holds[@]}")
	holds=()
	peer_hold_count "$DEVICES" "$CFA_WS,$CFB_WS" 1000000
	"$bin/benchpeer" latency -ws "$CFB_WS" -api "$CFA/api" -key "$CF_KEY" -secret "$CF_SECRET" -clients 300 -count "$SINGLE" | tee -a "$log"
	stop_holds
	holds=("${fleet_holds[@]}")
	for n in cfa cfb; do stop_pid "${pid_of[$n]}"; unset "pid_of[$n]"; done
fi

say "5b. reconnect storm: kill instance C (SIGKILL) while the fleet holds its sockets"
disown "${pid_of[c]}" # its death by SIGKILL is the point: no job notice
ds storm -gateway $A -admin $AADM -devices-file "$work/devices.json" -events-dir "$work/ev-fleet" \
	-gateways "$A,$B,$C" -kill-index 2 -kill-pid "${pid_of[c]}" -logouts "$STORM_LOGOUTS" -wait 90s
unset 'pid_of[c]'
stop_holds

# A alone, as in 5a and as Centrifugo's one node there: B would decode
# every socket A announces.
stop_pid "${pid_of[b]}"
unset 'pid_of[b]'
say "5c. connects per second on A alone of the fleet's devices, most with a signed-in user now (with_session counts the welcomes that carried one)"
ds connect -gateway $A -devices-file "$work/devices.json" -concurrency 32 -duration "${STEP_S}s" -label floorgate-signed-in
stop_pid "${pid_of[a]}"
unset "pid_of[a]"

say "3. login storm on instance D with the default hash parameters, beside the bare argon2id rate"
start_fg d 18380
"$bin/benchbare" argon2 -concurrency 1,2 -duration "${LEVEL_S}s" | sed 's/^/RESULT /' | tee -a "$log"
ds logins -gateway $D -admin $DADM -pairs "$BURST_PAIRS" -concurrency "$LEVELS" -duration "${LEVEL_S}s" -burst "$BURST" -pid "${pid_of[d]}"
"$bin/benchbare" argon2 -concurrency 2 -duration "${LEVEL_S}s" | sed 's/^/RESULT /' | tee -a "$log"

stop_pid "${pid_of[d]}"
unset 'pid_of[d]'

if [ "${BENCH_CLUSTER:-0}" = 1 ]; then
	say "fleet scale on a Redis Cluster: $root/deploy/bench/run.sh cluster"
	bash "$root/deploy/bench/run.sh" cluster 2>&1 | tee -a "$log"
fi

say "figures"
grep -E '^(RESULT|MEM|READY|SOCKETS)' "$log" || true
