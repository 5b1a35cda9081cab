#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine with Swift: installs what is missing, builds without
# warnings, runs the Swift tests, then the end-to-end, fault and browser tests against the real binary.
# Then builds the release binary that operators run (the Swift runtime linked in) and runs the lapse storms, the
# failover and kill -9 tests against it, and packages it as a .deb that is installed, run and removed.
# Usage: scripts/test.sh [--soak] [--tsan]
#   --soak  the long fault-injection variants, and the release storms 20 times in a row (3 otherwise)
#   --tsan  also the Swift concurrency suites under ThreadSanitizer (a build of its own, about 15 minutes more)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh --test
mkdir -p .build

echo "== build (a warning in the project's own code, or an import of a target not declared as a dependency, fails the run)"
set +e
swift build --build-tests --explicit-target-dependency-import-check error > .build/build-log.txt 2>&1
status=$?
set -e
grep -E "^/.*/(Sources|Tests)/.*(error|warning):" .build/build-log.txt | grep -v "/.build/" | sort -u || true
if [[ $status -ne 0 ]]; then tail -n 30 .build/build-log.txt; exit $status; fi
if grep -E "^/.*/(Sources|Tests)/.*warning:" .build/build-log.txt | grep -vq "/.build/"; then
  echo "build: the project's code has warnings"; exit 1
fi

echo "== swift format lint (the toolchain's swift-format, .swift-format)"
swift format lint --strict -r Sources Tests Package.swift

echo "== swift test"
# The whole log is kept; a failure prints every failing test's lines in full, not only the tail.
set +e
swift test --skip-build --parallel > .build/swift-test-log.txt 2>&1
status=$?
set -e
if [[ $status -ne 0 ]]; then
  grep -E "error:|failed|Expectation failed|Issue recorded|Fatal error|Crash" .build/swift-test-log.txt || true
  tail -n 60 .build/swift-test-log.txt
  echo "swift test failed (exit $status); the whole log is .build/swift-test-log.txt"
  exit $status
fi
grep -E "Test run with|Executed [0-9]+ tests" .build/swift-test-log.txt | tail -n 3

echo "== fuzzing the request parsers and the Retry-After parser (libFuzzer, bounded)"
scripts/fuzz.sh "${VIGIL_FUZZ_SECONDS:-20}"

echo "== python environment"
python3 -m venv .venv-test >/dev/null
.venv-test/bin/pip install -q --disable-pip-version-check -r Tests/requirements.txt

echo "== end-to-end, fault and browser tests against the real vigil binary"
export VIGIL_BIN="$PWD/.build/debug/vigil"
args=(-q -p no:cacheprovider)
[[ " $* " == *" --soak "* ]] && export VIGIL_SOAK=1
# Tests/conftest.py reads every server log for personal data once all have run, in whatever order.
dirs=(Tests/e2e Tests/browser Tests/faults)
rm -rf .build/test-logs
.venv-test/bin/python -m pytest "${args[@]}" "${dirs[@]}"

echo "== release build (what operators run)"
set +e
swift build -c release --product vigil --static-swift-stdlib > .build/build-release-log.txt 2>&1
status=$?
set -e
if [[ $status -ne 0 ]]; then tail -n 30 .build/build-release-log.txt; exit $status; fi

echo "== lapse storms, failover and kill -9 against the release build"
# A fault of the optimized build once stopped Vigil on PostgreSQL at its first burst of lapses while every debug
# test passed (scripts/repro/taskgroup-result): these run on the binary that ships, several times over.
runs=3
[[ " $* " == *" --soak "* ]] && runs=20
VIGIL_BIN="$PWD/.build/release/vigil" VIGIL_STORM_RUNS="$runs" .venv-test/bin/python -m pytest "${args[@]}" \
  Tests/faults/test_lapse_storms.py Tests/faults/test_postgres_failover.py Tests/faults/test_process_death.py \
  Tests/faults/test_mass_lapse.py

echo "== the Debian package: built, checked by lintian, installed, run as the vigil user, removed"
scripts/package-deb.sh --binary .build/release/vigil --out .build/deb
deb="$(ls -t .build/deb/vigil_*_amd64.deb | head -n 1)"
if [[ $(id -u) -eq 0 ]]; then
  VIGIL_BIN="$PWD/.build/release/vigil" VIGIL_DEB="$PWD/$deb" .venv-test/bin/python -m pytest "${args[@]}" -s \
    Tests/package
else
  echo "the package's install test needs root: run it with sudo VIGIL_DEB=$deb .venv-test/bin/python -m pytest Tests/package"
fi

if [[ " $* " == *" --tsan "* ]]; then
  echo "== Swift concurrency suites under ThreadSanitizer"
  # ThreadSanitizer reports a correctly locked Mutex as a race on Linux (scripts/repro/tsan-mutex): the reports are
  # printed and counted for a person to read, a report with both accesses inside one withLock being that.
  TSAN_OPTIONS="exitcode=0" swift test --sanitize=thread --scratch-path .build-tsan \
    --filter "BatchFireTests|RaceProperties|SchedulerTests|SuspendTests|ServiceBootTests|WatchdogBootTests|SQLiteStoreTests" \
    > .build/tsan-log.txt 2>&1
  grep -A 3 "WARNING: ThreadSanitizer" .build/tsan-log.txt || true
  grep -E "Test run with|ThreadSanitizer: reported" .build/tsan-log.txt || true
fi
