#!/usr/bin/env bash
# Runs Vigil on its embedded SQLite default (127.0.0.1:8080, data under ./var/), after installing what it needs.
# Usage: scripts/run.sh [--config FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
swift build -c release --product vigil
exec .build/release/vigil serve "$@"
