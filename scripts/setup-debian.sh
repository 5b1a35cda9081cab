#!/usr/bin/env bash
# Installs what Vigil needs on a fresh Debian 12 machine that already has Swift.
# Usage: scripts/setup-debian.sh [--test]   (--test adds Chromium, Python and PostgreSQL 15 for the test suites)
set -euo pipefail
need=()
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need+=(libcurl4-openssl-dev)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [[ "${1:-}" == "--test" ]]; then
  dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
  dpkg -s chromium-driver >/dev/null 2>&1 || need+=(chromium-driver)
  dpkg -s sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
  dpkg -s openssl >/dev/null 2>&1 || need+=(openssl)
  dpkg -s gcc >/dev/null 2>&1 || need+=(gcc)
  dpkg -s curl >/dev/null 2>&1 || need+=(curl)
  dpkg -s systemd >/dev/null 2>&1 || need+=(systemd)
  command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
  dpkg -s libseccomp2 >/dev/null 2>&1 || need+=(libseccomp2)
  # The PostgreSQL store's tests start throwaway clusters from these binaries on free ports of their own; they
  # neither use nor disturb the default cluster that the package may start on 5432.
  dpkg -s postgresql-15 >/dev/null 2>&1 || need+=(postgresql-15)
  # promtool (`promtool check rules`, `promtool test rules` on ops/prometheus/) ships in Debian's prometheus package.
  command -v promtool >/dev/null 2>&1 || need+=(prometheus)
  # The Debian package: built with dpkg-deb under fakeroot, checked by lintian, installed and removed by a test.
  dpkg -s fakeroot >/dev/null 2>&1 || need+=(fakeroot)
  dpkg -s lintian >/dev/null 2>&1 || need+=(lintian)
  dpkg -s adduser >/dev/null 2>&1 || need+=(adduser)
  dpkg -s binutils >/dev/null 2>&1 || need+=(binutils)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
fi
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
