#!/usr/bin/env bash
# The same figures as run.sh, on PostgreSQL 15 (a throwaway cluster this script starts) with one or more instances.
# Prints every figure; asserts none.
#   ops/loadtest/postgres.sh [SESSIONS] [INSTANCES]      (defaults 10000 and 1)
# Check-ins are spread over the instances (one load generator per instance, all on this machine's 2 cores);
# LAPSE sessions (default 1000) lapse in the same second, started through the first instance, and the receiver
# reports deadline -> dispatch received, and duplicates (a webhook id seen twice).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}
K=${2:-1}
LAPSE=${LAPSE:-1000}
PORT=${PORT:-18180}
RPORT=${RPORT:-18199}
scripts/setup-debian.sh --test
SCRATCH=${SCRATCH:-.build}
swift build -c release --scratch-path "$SCRATCH" --product vigil >/dev/null
swift build -c release --scratch-path "$SCRATCH" --product vigil-bench >/dev/null
BIN=$SCRATCH/release
WORK=$(mktemp -d /tmp/vigil-pgload.XXXXXX)
PG=/usr/lib/postgresql/15/bin
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ $(id -u) -eq 0 ]] && chown postgres "$WORK"
trap 'kill $(jobs -p) 2>/dev/null || true; as_pg $PG/pg_ctl -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "load-test-db-password" > "$WORK/pw"; [[ $(id -u) -eq 0 ]] && chown postgres "$WORK/pw"
as_pg $PG/initdb -D "$WORK/pg" -U vigil --pwfile "$WORK/pw" --auth=scram-sha-256 -E UTF8 --no-instructions >/dev/null
cat >> "$WORK/pg/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
max_connections = 300
shared_buffers = 256MB
CONF
as_pg $PG/pg_ctl -D "$WORK/pg" -l "$WORK/pg.log" -w start >/dev/null
PGPASSWORD=load-test-db-password psql -h 127.0.0.1 -p "$PGPORT" -U vigil -d postgres -qc "CREATE DATABASE vigil"

export VIGIL_TOKEN=load-test-token-0123456789
export HOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
export VIGIL_DB_PASSWORD=load-test-db-password
export VIGIL_KEY=$(head -c 32 /dev/urandom | base64)
PIDS=()
for i in $(seq 0 $((K - 1))); do
  cat > "$WORK/vigil-$i.yaml" <<YAML
listen: "127.0.0.1:$((PORT + i))"
storage: {postgres: "postgres://vigil@127.0.0.1:$PGPORT/vigil", password_env: VIGIL_DB_PASSWORD, instance_id: load-$i}
encryption: {key_env: VIGIL_KEY}
auth: {tokens: [{name: load, role: operator, token_env: VIGIL_TOKEN}]}
targets:
  hook: {url: "http://127.0.0.1:$RPORT/hook", format: json, secret_env: HOOK_SECRET, timeout_s: 5}
policies:
  default: {ack_timeout_s: 60, steps: []}
  lapse: {ack_timeout_s: 60, steps: [{after_s: 0, dispatch: [hook]}]}
log_level: warning
YAML
  $BIN/vigil serve --config "$WORK/vigil-$i.yaml" >>"$WORK/out-$i.log" 2>>"$WORK/err-$i.log" &
  PIDS+=($!)
  until curl -sf "127.0.0.1:$((PORT + i))/readyz" >/dev/null; do sleep 0.05; done
done
$BIN/vigil-bench receiver --port $RPORT >"$WORK/receiver.log" 2>&1 &
echo "== PostgreSQL 15, $K instance(s): populate $N open sessions over HTTP"
$BIN/vigil-bench populate --server "http://127.0.0.1:$PORT" --count "$N" --interval 86400 --out "$WORK/ids.txt"

echo "== durable check-ins per second, 32 clients per instance"
LOADERS=()
for i in $(seq 0 $((K - 1))); do
  $BIN/vigil-bench checkins --server "http://127.0.0.1:$((PORT + i))" --ids "$WORK/ids.txt" --concurrency 32 \
    --seconds "${SECONDS_PER_RUN:-10}" > "$WORK/checkins-$i.txt" &
  LOADERS+=($!)
done
wait "${LOADERS[@]}"
cat "$WORK"/checkins-*.txt
echo "all instances together: $(cat "$WORK"/checkins-*.txt | grep -o '[0-9]* durable' | awk '{s+=$1} END {print s}') durable check-ins/s"

echo "== deadline -> dispatch: $LAPSE sessions lapsing within the same second among $N open"
curl -s -X POST "127.0.0.1:$RPORT/reset" >/dev/null || true
$BIN/vigil-bench populate --server "http://127.0.0.1:$PORT" --count "$LAPSE" --interval 5 --grace 0 --policy lapse --concurrency 64 >/dev/null
sleep 10
echo "lateness of dispatch arrival after the deadline (ms): $(curl -s 127.0.0.1:$RPORT/stats)"
for i in $(seq 0 $((K - 1))); do
  echo "resident memory of instance $i: $(( $(grep VmRSS /proc/${PIDS[$i]}/status | awk '{print $2}') / 1024 )) MiB"
done
