#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine with Swift: installs what is missing, builds without
# warnings, runs the Swift tests, then the end-to-end, fault and browser tests against the real binary.
# Usage: scripts/test.sh [--soak]      (--soak runs the long fault-injection variants)
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

echo "== swift test"
swift test --skip-build --parallel 2>&1 | tail -n 40

echo "== fuzzing the request parsers and the Retry-After parser (libFuzzer, bounded)"
scripts/fuzz.sh "${VIGIL_FUZZ_SECONDS:-20}"

echo "== python environment"
python3 -m venv .venv-test >/dev/null
.venv-test/bin/pip install -q --disable-pip-version-check -r Tests/requirements.txt

echo "== end-to-end, fault and browser tests against the real vigil binary"
export VIGIL_BIN="$PWD/.build/debug/vigil"
args=(-q -p no:cacheprovider)
[[ "${1:-}" == "--soak" ]] && export VIGIL_SOAK=1
# Tests/conftest.py reads every server log for personal data once all have run, in whatever order.
dirs=(Tests/e2e Tests/browser Tests/faults)
rm -rf .build/test-logs
.venv-test/bin/python -m pytest "${args[@]}" "${dirs[@]}"
