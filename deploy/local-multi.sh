#!/usr/bin/env bash
# deploy/local-multi.sh: three Floorgate instances on this machine, sharing
# the local PostgreSQL and Redis, as a fleet behind a load balancer would.
#
#   deploy/local-multi.sh            # runs until Ctrl-C, or for DURATION seconds
#   DURATION=600 deploy/local-multi.sh
#
# Instance n (1, 2, 3) serves the device API on 127.0.0.1:80n0 and the admin
# API on 127.0.0.1:80n1 (8010/8011, 8020/8021, 8030/8031). They share:
#   - the database floorgate_local on PostgreSQL at 127.0.0.1:5432 (trust
#     auth, user postgres: the test setup of docs/OPERATIONS.md), created
#     when missing; override with FLOORGATE_POSTGRES_URL;
#   - Redis at 127.0.0.1:6379 under the key prefix fglocal: (override with
#     FLOORGATE_REDIS_URL);
#   - one pepper, generated once into floorgate-data/local-multi/pepper.
# Logs go to floorgate-data/local-multi/instanceN.log. The first admin's
# one-time password, when one is created, is printed below.
#
# Everything is bounded: each instance must answer /readyz within 60 s, the
# whole run ends after DURATION seconds (default 3600), and on exit the
# script stops the three processes it started (SIGTERM, then SIGKILL
# after 30 s), and only those.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-3600}
STATE=floorgate-data/local-multi
PGURL=${FLOORGATE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/floorgate_local?sslmode=disable}
REDISURL=${FLOORGATE_REDIS_URL:-redis://127.0.0.1:6379/0}

mkdir -p "$STATE"
chmod 700 floorgate-data "$STATE"

# Dependencies answer?
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
	echo "PostgreSQL does not answer on 127.0.0.1:5432 (bash .ci/run starts it)" >&2
	exit 1
fi
if [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" != PONG ]; then
	echo "Redis does not answer on 127.0.0.1:6379 (bash .ci/run starts it)" >&2
	exit 1
fi
if [ -z "${FLOORGATE_POSTGRES_URL:-}" ] &&
	[ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'floorgate_local'")" != 1 ]; then
	echo "creating database floorgate_local"
	psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE floorgate_local' >/dev/null
fi

# One pepper for all three.
if [ ! -s "$STATE/pepper" ]; then
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/pepper")
	echo "generated $STATE/pepper: the three instances share it"
fi

echo "building floorgate"
go build -o "$STATE/floorgate" ./cmd/floorgate

pids=()
stop_all() {
	trap - EXIT INT TERM
	[ ${#pids[@]} -eq 0 ] && return
	echo "stopping ${pids[*]}"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for _ in $(seq 60); do
		alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && return
		sleep 0.5
	done
	kill -KILL "${pids[@]}" 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

for n in 1 2 3; do
	FLOORGATE_ADDR=127.0.0.1:80${n}0 \
		FLOORGATE_ADMIN_ADDR=127.0.0.1:80${n}1 \
		FLOORGATE_POSTGRES_URL=$PGURL \
		FLOORGATE_REDIS_URL=$REDISURL \
		FLOORGATE_REDIS_PREFIX=fglocal: \
		FLOORGATE_PEPPER_FILE=$STATE/pepper \
		FLOORGATE_DATA_DIR=$STATE/instance$n \
		FLOORGATE_INSTANCE_ID=local$n \
		"$STATE/floorgate" >"$STATE/instance$n.out" 2>"$STATE/instance$n.log" &
	pids+=($!)
done

for n in 1 2 3; do
	ready=
	for _ in $(seq 120); do
		if curl -fsS -o /dev/null "http://127.0.0.1:80${n}1/readyz" 2>/dev/null; then
			ready=1
			break
		fi
		sleep 0.5
	done
	if [ -z "$ready" ]; then
		echo "instance $n is not ready after 60s; its log:" >&2
		tail -n 20 "$STATE/instance$n.log" >&2
		exit 1
	fi
	echo "instance $n: devices http://127.0.0.1:80${n}0  admin http://127.0.0.1:80${n}1/admin/v1  log $STATE/instance$n.log"
done

# The instance that created the first admin printed its sign-in.
cat "$STATE"/instance?.out

echo "running for at most ${DURATION}s; Ctrl-C stops the three instances"
end=$((SECONDS + DURATION))
while [ $SECONDS -lt $end ]; do
	for p in "${pids[@]}"; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "an instance ($p) stopped; see $STATE/instance*.log" >&2
			exit 1
		fi
	done
	sleep 1
done
