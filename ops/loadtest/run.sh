#!/usr/bin/env bash
# Load and latency figures for a release build of vigil serve on this machine. Prints every figure; asserts none.
#   ops/loadtest/run.sh [--compare-alertmanager] [SESSIONS]     (default 100000 open sessions; 10000 when comparing)
# Environment: SCRATCH (build directory, default .build) or BIN (measure the binaries already in this directory);
# LAPSE, SINGLE, SINGLE_SPREAD, STORM, STORM_SPREAD (lapse cases), SEED_SIZES (seeded restart/memory sizes).
# Steps: scheduler micro-benchmark (heap vs one timer per session), populate SESSIONS open sessions over HTTP,
# durable check-ins/s at 16/32/64 clients and p99 at half the best rate, service CPU per 1,000 check-ins, 1,000
# sessions lapsing in the same second, a lapse storm (STORM sessions lapsing across STORM_SPREAD seconds; deadline
# -> dispatch received at a local receiver), restart time to /readyz green, resident memory.
# --compare-alertmanager runs Debian's prometheus-alertmanager (no grouping, group_wait 0s) through the same load
# generator and receiver in the same run, and prints both rows with their ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
COMPARE=0
if [[ "${1:-}" == "--compare-alertmanager" ]]; then COMPARE=1; shift; fi
N=${1:-$([[ $COMPARE == 1 ]] && echo 10000 || echo 100000)}
LAPSE=${LAPSE:-1000}
SINGLE=${SINGLE:-100}
SINGLE_SPREAD=${SINGLE_SPREAD:-50}
STORM=${STORM:-10000}
STORM_SPREAD=${STORM_SPREAD:-8}
PORT=${PORT:-18080}
RPORT=${RPORT:-18099}
AMPORT=${AMPORT:-19093}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
SKIP_SCHEDULER=${SKIP_SCHEDULER:-$COMPARE}
SEED_SIZES=${SEED_SIZES-$([[ $COMPARE == 1 ]] && echo "" || echo 1000000)}
scripts/setup-debian.sh
if [[ $COMPARE == 1 ]] && ! command -v prometheus-alertmanager >/dev/null; then
  echo "setup: installing prometheus-alertmanager"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus-alertmanager >/dev/null
fi
# BIN=DIR measures the vigil and vigil-bench already built in DIR instead of building them.
if [[ -z "${BIN:-}" ]]; then
  SCRATCH=${SCRATCH:-.build}
  swift build -c release --scratch-path "$SCRATCH" --product vigil >/dev/null
  swift build -c release --scratch-path "$SCRATCH" --product vigil-bench >/dev/null
  BIN=$SCRATCH/release
fi
WORK=$(mktemp -d /tmp/vigil-load.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
TICK=$(getconf CLK_TCK)

cpu_seconds() { awk -v t="$TICK" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
peak_mib() { echo $(( $(grep VmHWM "/proc/$1/status" | awk '{print $2}') / 1024 )); }
rss_mib() { echo $(( $(grep VmRSS "/proc/$1/status" | awk '{print $2}') / 1024 )); }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
# The best requests/s of a checkins run, and the p99 of the line that had it.
best_rate() { grep -o '[0-9]* requests/s' "$1" | awk '{print $1}' | sort -n | tail -1; }
p99_of_best() { grep "$(best_rate "$1") requests/s" "$1" | grep -o 'p99 [0-9.]*' | head -1 | awk '{print $2}'; }
# CPU seconds a process spends per 1,000 requests of one checkins run at 32 clients.
cpu_per_1000() {
  local pid=$1 out=$2; shift 2
  local c0; c0=$(cpu_seconds "$pid")
  "$@" --concurrency 32 --seconds "$SECONDS_PER_RUN" >"$out"
  local c1; c1=$(cpu_seconds "$pid")
  local rate; rate=$(best_rate "$out")
  python3 -c "print(round(($c1 - $c0) / ($rate * $SECONDS_PER_RUN / 1000), 3))"
}

if [[ $SKIP_SCHEDULER != 1 ]]; then
  echo "== scheduler: one heap + one Dispatch timer vs one DispatchSourceTimer per session"
  $BIN/vigil-bench scheduler --sessions "${SCHED_SIZES:-10000,100000,1000000}"
  echo "== the state machine alone: microseconds per decision"
  $BIN/vigil-bench decide
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
until curl -sf "127.0.0.1:$RPORT/stats" >/dev/null; do sleep 0.05; done
start_server
echo "== populate $N open sessions over HTTP"
$BIN/vigil-bench populate --server "http://127.0.0.1:$PORT" --count "$N" --interval 86400 --out "$WORK/ids.txt"
echo "resident memory of vigil serve with $N open sessions: $(rss_mib $SERVER) MiB"

echo "== durable check-ins per second"
$BIN/vigil-bench checkins --server "http://127.0.0.1:$PORT" --ids "$WORK/ids.txt" --concurrency 16,32,64 --seconds "$SECONDS_PER_RUN" | tee "$WORK/checkins.txt"
V_RATE=$(best_rate "$WORK/checkins.txt"); V_P99=$(p99_of_best "$WORK/checkins.txt")
HALF=$(( V_RATE / 2 ))
echo "== check-in latency at half the best rate ($HALF/s offered, 32 clients)"
$BIN/vigil-bench checkins --server "http://127.0.0.1:$PORT" --ids "$WORK/ids.txt" --concurrency 32 --seconds "$SECONDS_PER_RUN" --rate "$HALF" | tee "$WORK/half.txt"
V_HALF="$HALF/s: $(grep -o 'p50 [0-9.]*\|p99 [0-9.]*' "$WORK/half.txt" | paste -sd, - | sed 's/,/ ms, /') ms"
V_CPU=$(cpu_per_1000 $SERVER "$WORK/cpu.txt" $BIN/vigil-bench checkins --server "http://127.0.0.1:$PORT" --ids "$WORK/ids.txt")
echo "service CPU per 1,000 check-ins (32 clients): $V_CPU s"

echo "== lapse storm: $STORM sessions lapsing across ~$STORM_SPREAD s among $N open (interval 20 s, grace 5 s)"
$BIN/vigil-bench lapse-storm --server "http://127.0.0.1:$PORT" --receiver "http://127.0.0.1:$RPORT" --count "$STORM" --spread "$STORM_SPREAD" --interval 20 --grace 5 | tee "$WORK/storm.txt"
V_STORM=$(grep -o '{.*}' "$WORK/storm.txt" | tail -1)
echo "== deadline -> dispatch: $LAPSE sessions lapsing within the same second among $N open (interval 20 s, grace 5 s)"
$BIN/vigil-bench lapse-storm --server "http://127.0.0.1:$PORT" --receiver "http://127.0.0.1:$RPORT" --count "$LAPSE" --spread 1 --interval 20 --grace 5 | tee "$WORK/burst.txt"
V_BURST=$(grep -o '{.*}' "$WORK/burst.txt" | tail -1)

echo "== deadline -> dispatch, one lapse at a time: $SINGLE sessions lapsing across $SINGLE_SPREAD s among $N open"
$BIN/vigil-bench lapse-storm --server "http://127.0.0.1:$PORT" --receiver "http://127.0.0.1:$RPORT" --count "$SINGLE" --spread "$SINGLE_SPREAD" --interval 20 --grace 5 --concurrency 1 | tee "$WORK/single.txt"
V_SINGLE=$(grep -o '{.*}' "$WORK/single.txt" | tail -1)

V_PEAK=$(peak_mib $SERVER)
echo "peak resident memory of vigil serve: $V_PEAK MiB"

echo "== restart with $N open sessions: process start to /readyz green"
kill -TERM $SERVER; wait $SERVER || true
start_server
echo "restart to ready: $READY_SECONDS s"
V_RESTART=$READY_SECONDS
echo "resident memory after restart: $(rss_mib $SERVER) MiB"
kill -TERM $SERVER; wait $SERVER || true

SEEDED=""
# Larger sizes, seeded straight into the store (starting them over HTTP would take too long here).
for size in $SEED_SIZES; do
  echo "== $size open sessions, seeded: restart to /readyz green and resident memory"
  rm -rf "$WORK/data"
  $BIN/vigil-bench seed --data "$WORK/data" --count "$size" | tail -1
  start_server
  echo "restart to ready with $size open sessions: $READY_SECONDS s"
  RSS=$(rss_mib $SERVER)
  echo "resident memory with $size open sessions: $RSS MiB ($(( RSS * 1048576 / size )) bytes per session)"
  SEEDED="$SEEDED $size:$READY_SECONDS:$RSS"
  kill -TERM $SERVER; wait $SERVER || true
done

[[ $COMPARE == 1 ]] || exit 0

echo "== Alertmanager $(prometheus-alertmanager --version 2>&1 | head -1 | awk '{print $3}'): the same generator and receiver"
# No grouping (every alert is its own notification), no wait, no repeats within the run. Check-in alerts go to a
# receiver with no integrations (as a silenced heartbeat would); lapse alerts go to the same local receiver.
cat > "$WORK/alertmanager.yml" <<YAML
route:
  receiver: quiet
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 24h
  routes:
    - matchers: ['kind="lapse"']
      receiver: hook
receivers:
  - name: quiet
  - name: hook
    webhook_configs:
      - url: "http://127.0.0.1:$RPORT/am"
        send_resolved: false
        max_alerts: 0
YAML
# Alertmanager keeps alerts in memory and notifies an alert only once: each lapse run gets a fresh process.
am_start() {
  rm -rf "$WORK/am"
  prometheus-alertmanager --config.file="$WORK/alertmanager.yml" --storage.path="$WORK/am" \
    --web.listen-address="127.0.0.1:$AMPORT" --cluster.listen-address= --log.level=warn >>"$WORK/am.log" 2>&1 &
  AM=$!
  until curl -sf "127.0.0.1:$AMPORT/-/ready" >/dev/null; do sleep 0.05; done
  # Every run among N open alerts, as Vigil's are among N open sessions.
  $BIN/vigil-bench populate --peer alertmanager --server "http://127.0.0.1:$AMPORT" --count "$N" --out "$WORK/am-ids.txt"
}
am_stop() { A_PEAK=$(( $(peak_mib $AM) > ${A_PEAK:-0} ? $(peak_mib $AM) : ${A_PEAK:-0} )); kill -TERM $AM; wait $AM || true; }
am_start
AMURL="http://127.0.0.1:$AMPORT"
$BIN/vigil-bench checkins --peer alertmanager --server "$AMURL" --ids "$WORK/am-ids.txt" --concurrency 16,32,64 --seconds "$SECONDS_PER_RUN" | tee "$WORK/am-checkins.txt"
A_RATE=$(best_rate "$WORK/am-checkins.txt"); A_P99=$(p99_of_best "$WORK/am-checkins.txt")
A_HALFRATE=$(( A_RATE / 2 ))
$BIN/vigil-bench checkins --peer alertmanager --server "$AMURL" --ids "$WORK/am-ids.txt" --concurrency 32 --seconds "$SECONDS_PER_RUN" --rate "$A_HALFRATE" | tee "$WORK/am-half.txt"
A_HALF="$A_HALFRATE/s: $(grep -o 'p50 [0-9.]*\|p99 [0-9.]*' "$WORK/am-half.txt" | paste -sd, - | sed 's/,/ ms, /') ms"
A_CPU=$(cpu_per_1000 $AM "$WORK/am-cpu.txt" $BIN/vigil-bench checkins --peer alertmanager --server "$AMURL" --ids "$WORK/am-ids.txt")
echo "Alertmanager CPU per 1,000 alert posts (32 clients): $A_CPU s"
$BIN/vigil-bench lapse-storm --peer alertmanager --server "$AMURL" --receiver "http://127.0.0.1:$RPORT" --count "$STORM" --spread "$STORM_SPREAD" | tee "$WORK/am-storm.txt"
A_STORM=$(grep -o '{.*}' "$WORK/am-storm.txt" | tail -1)
am_stop; am_start
$BIN/vigil-bench lapse-storm --peer alertmanager --server "$AMURL" --receiver "http://127.0.0.1:$RPORT" --count "$LAPSE" --spread 1 | tee "$WORK/am-burst.txt"
A_BURST=$(grep -o '{.*}' "$WORK/am-burst.txt" | tail -1)
am_stop; am_start
$BIN/vigil-bench lapse-storm --peer alertmanager --server "$AMURL" --receiver "http://127.0.0.1:$RPORT" --count "$SINGLE" --spread "$SINGLE_SPREAD" --concurrency 1 | tee "$WORK/am-single.txt"
A_SINGLE=$(grep -o '{.*}' "$WORK/am-single.txt" | tail -1)
am_stop

export N STORM STORM_SPREAD LAPSE SINGLE SINGLE_SPREAD V_RATE V_P99 V_HALF V_CPU V_BURST V_SINGLE V_STORM V_PEAK \
  V_RESTART SEEDED A_RATE A_P99 A_HALF A_CPU A_BURST A_SINGLE A_STORM A_PEAK
python3 - <<'PY'
import json, os
e = os.environ
def num(k): return float(e[k])
v = dict(rate=num("V_RATE"), p99=num("V_P99"), half=e["V_HALF"], cpu=num("V_CPU"), burst=json.loads(e["V_BURST"]),
         single=json.loads(e["V_SINGLE"]), storm=json.loads(e["V_STORM"]), peak=num("V_PEAK"))
a = dict(rate=num("A_RATE"), p99=num("A_P99"), half=e["A_HALF"], cpu=num("A_CPU"), burst=json.loads(e["A_BURST"]),
         single=json.loads(e["A_SINGLE"]), storm=json.loads(e["A_STORM"]), peak=num("A_PEAK"))
def ms(x): return f"{x:.0f}" if x >= 100 else f"{x:.1f}"
def lapse(s): return f"{ms(s['p50_ms'])} / {ms(s['p99_ms'])} / {ms(s['max_ms'])} ms (n={s['count']})"
def ratio(x, y): return f"{x / y:.2f}×" if y else "n/a"
n = int(e["N"])
rows = [
    ("check-ins (alert posts) per second, best of 16/32/64 clients", f"{v['rate']:.0f} (p99 {v['p99']:.0f} ms)", f"{a['rate']:.0f} (p99 {a['p99']:.0f} ms)", ratio(v['rate'], a['rate'])),
    ("latency at half the best rate, 32 clients", v['half'], a['half'], ""),
    ("service CPU per 1,000 requests (32 clients)", f"{v['cpu']:.2f} s", f"{a['cpu']:.2f} s", ratio(v['cpu'], a['cpu'])),
    (f"{e['STORM']} lapsing over ~{e['STORM_SPREAD']} s: lapse -> webhook received, p50 / p99 / max", lapse(v['storm']), lapse(a['storm']), ratio(v['storm']['p99_ms'], a['storm']['p99_ms']) + " (p99)"),
    ("webhooks received per second while draining", f"{v['storm']['received_per_s']:.0f}", f"{a['storm']['received_per_s']:.0f}", ratio(v['storm']['received_per_s'], a['storm']['received_per_s'])),
    (f"{e['LAPSE']} lapsing in one second: p50 / p99 / max", lapse(v['burst']), lapse(a['burst']), ratio(v['burst']['p99_ms'], a['burst']['p99_ms']) + " (p99)"),
    (f"one lapse at a time ({e['SINGLE']} across {e['SINGLE_SPREAD']} s): p50 / p99 / max", lapse(v['single']), lapse(a['single']), ratio(v['single']['p99_ms'], a['single']['p99_ms']) + " (p99)"),
    ("duplicates at the receiver (all runs)", str(v['storm']['duplicates'] + v['burst']['duplicates'] + v['single']['duplicates']), str(a['storm']['duplicates'] + a['burst']['duplicates'] + a['single']['duplicates']), ""),
    ("peak resident memory", f"{v['peak']:.0f} MiB", f"{a['peak']:.0f} MiB", ratio(v['peak'], a['peak'])),
    (f"restart with {n:,} open to ready", f"{e['V_RESTART']} s", "keeps no alerts across a restart", ""),
]
for item in e.get("SEEDED", "").split():
    size, secs, rss = item.split(":")
    rows.append((f"{int(size):,} open (seeded): restart to ready, resident", f"{secs} s, {rss} MiB ({int(rss) * 1048576 // int(size)} B each)", "", ""))
print(f"\n| N = {n:,} | Vigil | Alertmanager | Vigil / Alertmanager |")
print("| --- | --- | --- | --- |")
for r in rows: print("| " + " | ".join(r) + " |")
PY
