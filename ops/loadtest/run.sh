#!/usr/bin/env bash
# Load and latency figures for a release build of vigil serve on this machine. Prints every figure; asserts none.
#   ops/loadtest/run.sh [SESSIONS]        (default 100000 open sessions)
# Steps: scheduler micro-benchmark (heap vs one timer per session), populate SESSIONS open sessions over HTTP,
# durable check-ins/s at 16/32/64 clients and p99 at half the best rate, 1,000 sessions lapsing in the same second
# (deadline -> dispatch received at a local receiver), restart time to /readyz green, resident memory.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
LAPSE=${LAPSE:-1000}
PORT=${PORT:-18080}
RPORT=${RPORT:-18099}
SKIP_SCHEDULER=${SKIP_SCHEDULER:-0}
scripts/setup-debian.sh
SCRATCH=${SCRATCH:-.build}
swift build -c release --scratch-path "$SCRATCH" --product vigil >/dev/null
swift build -c release --scratch-path "$SCRATCH" --product vigil-bench >/dev/null
BIN=$SCRATCH/release
WORK=$(mktemp -d /tmp/vigil-load.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

if [[ $SKIP_SCHEDULER != 1 ]]; then
  echo "== scheduler: one heap + one Dispatch timer vs one DispatchSourceTimer per session"
  $BIN/vigil-bench scheduler --sessions "${SCHED_SIZES:-10000,100000,1000000}"
fi

export VIGIL_TOKEN=load-test-token-0123456789
export HOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
cat > "$WORK/vigil.yaml" <<YAML
listen: "127.0.0.1:$PORT"
storage: {sqlite: "$WORK/data/vigil.sqlite"}
auth: {tokens: [{name: load, role: operator, token_env: VIGIL_TOKEN}]}
targets:
  hook: {url: "http://127.0.0.1:$RPORT/hook", format: json, secret_env: HOOK_SECRET, timeout_s: 5}
policies:
  default: {ack_timeout_s: 60, steps: []}
  lapse: {ack_timeout_s: 60, steps: [{after_s: 0, dispatch: [hook]}]}
log_level: warning
YAML

start_server() {
  local t0=$(date +%s.%N)
  $BIN/vigil serve --config "$WORK/vigil.yaml" >>"$WORK/out.log" 2>>"$WORK/err.log" &
  SERVER=$!
  until curl -sf "127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.02; done
  local t1=$(date +%s.%N)
  READY_SECONDS=$(python3 -c "print(round($t1 - $t0, 2))")
}

$BIN/vigil-bench receiver --port $RPORT >"$WORK/receiver.log" 2>&1 &
start_server
echo "== populate $N open sessions over HTTP"
$BIN/vigil-bench populate --server "http://127.0.0.1:$PORT" --count "$N" --interval 86400 --out "$WORK/ids.txt"
echo "resident memory of vigil serve with $N open sessions: $(( $(grep VmRSS /proc/$SERVER/status | awk '{print $2}') / 1024 )) MiB"

echo "== durable check-ins per second"
$BIN/vigil-bench checkins --server "http://127.0.0.1:$PORT" --ids "$WORK/ids.txt" --concurrency 16,32,64 --seconds "${SECONDS_PER_RUN:-10}" | tee "$WORK/checkins.txt"
BEST=$(grep -o '[0-9]* durable' "$WORK/checkins.txt" | awk '{print $1}' | sort -n | tail -1)
HALF=$(( BEST / 2 ))
echo "== check-in latency at half the best rate ($HALF/s offered, 32 clients)"
$BIN/vigil-bench checkins --server "http://127.0.0.1:$PORT" --ids "$WORK/ids.txt" --concurrency 32 --seconds "${SECONDS_PER_RUN:-10}" --rate "$HALF"

echo "== deadline -> dispatch: $LAPSE sessions lapsing within the same second among $N open"
$BIN/vigil-bench populate --server "http://127.0.0.1:$PORT" --count "$LAPSE" --interval 5 --grace 0 --policy lapse --concurrency 64 >/dev/null
sleep 8
echo "lateness of dispatch arrival after the deadline (ms): $(curl -s 127.0.0.1:$RPORT/stats)"

echo "== restart with $N open sessions: process start to /readyz green"
kill -TERM $SERVER; wait $SERVER || true
start_server
echo "restart to ready: $READY_SECONDS s"
echo "resident memory after restart: $(( $(grep VmRSS /proc/$SERVER/status | awk '{print $2}') / 1024 )) MiB"
kill -TERM $SERVER; wait $SERVER || true

# Larger sizes, seeded straight into the store (starting them over HTTP would take too long here).
for size in ${SEED_SIZES:-1000000}; do
  echo "== $size open sessions, seeded: restart to /readyz green and resident memory"
  rm -rf "$WORK/data"
  $BIN/vigil-bench seed --data "$WORK/data" --count "$size" | tail -1
  start_server
  echo "restart to ready with $size open sessions: $READY_SECONDS s"
  echo "resident memory with $size open sessions: $(( $(grep VmRSS /proc/$SERVER/status | awk '{print $2}') / 1024 )) MiB"
  kill -TERM $SERVER; wait $SERVER || true
done
