#!/usr/bin/env bash
# Builds the libFuzzer target over the request parsers and the Retry-After parser, then fuzzes for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS]   (default 20; a crash leaves its input in .build/fuzz/ and fails the run)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
out=.build/fuzz
mkdir -p "$out/src" "$out/corpus"
# One module: the Core sources, the HTTP input parser with its extensions (`import VigilCore` dropped) and the fuzz
# entry point.
rm -f "$out"/src/*.swift
for f in Sources/VigilHTTP/Input.swift Sources/VigilHTTP/Input+*.swift; do
  sed '/^import VigilCore$/d' "$f" > "$out/src/$(basename "$f")"
done
# Core hashes with swift-crypto: its modules and objects come from the debug build that runs first (uninstrumented,
# which libFuzzer allows; the parsers under test are instrumented).
crypto_objects=()
for target in Crypto CryptoBoringWrapper CCryptoBoringSSL CCryptoBoringSSLShims CXKCP CXKCPShims; do
  [[ -d ".build/debug/$target.build" ]] || { echo "fuzz: build first (swift build): .build/debug/$target.build is missing" >&2; exit 1; }
  while IFS= read -r o; do crypto_objects+=("$o"); done < <(find ".build/debug/$target.build" -name "*.o")
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name VigilFuzz -o "$out/vigil-fuzz" \
  -I .build/debug/Modules Sources/VigilCore/*.swift "$out"/src/*.swift Tests/fuzz/main.swift "${crypto_objects[@]}" \
  2> >(grep -v "ld.gold: warning" >&2)
# Seeds: what a real client sends, so coverage starts past the JSON parser.
printf '%s' '{"location":{"address":"1 A St","latitude":1.5,"longitude":2},"check_in_interval_s":60,"grace_s":5,"caller":{"alias":"J","callback_number":"+15551234567"},"substance":"x"}' > "$out/corpus/start"
printf '%s' '{"status":"accepted","reference":"r","target":"ems"}' > "$out/corpus/status"
printf '%s' 'Thu, 01 Jan 3000 00:00:00 GMT' > "$out/corpus/date"
printf '%s' '99999999999999999999' > "$out/corpus/number"
printf '%s' '2026-11-22T10:53:04.120+05:30' > "$out/corpus/time"
echo "fuzz: ${seconds}s over request bodies, Retry-After, timestamps and text checks"
set +e
SWIFT_BACKTRACE=enable=no "$out/vigil-fuzz" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 -artifact_prefix="$out/" \
  "$out/corpus" > "$out/fuzz.log" 2>&1
status=$?
set -e
grep -E "^stat::(number_of_executed_runs|new_units_added)|^SUMMARY|ERROR|deadly signal|^Done" "$out/fuzz.log" || true
if [[ $status -ne 0 ]]; then tail -n 40 "$out/fuzz.log"; echo "fuzz: a crash; its input is in $out/"; fi
exit $status
