#!/usr/bin/env bash
# Builds the reproduction in debug and release and runs both shapes in each; prints one line per run.
# Usage: scripts/repro/taskgroup-result/run.sh [RUNS]
set -uo pipefail
cd "$(dirname "$0")"
runs="${1:-3}"
for config in debug release; do
  swift build -c "$config" --scratch-path .build-repro >/dev/null 2>&1 || { echo "build failed ($config)"; exit 2; }
  for shape in tuples slots; do
    for ((i = 1; i <= runs; i++)); do
      printf '%-7s %-6s run %d: ' "$config" "$shape" "$i"
      .build-repro/"$config"/taskgroup-result "$shape" 2>/dev/null | tail -n 1
    done
  done
done
