#!/usr/bin/env bash
# Make sure the system tools some tests drive are installed, from the Debian packages:
# - `prometheus` and `promtool` for the Prometheus pull-source tests
#   (tests/telemetry/test_prometheus.py starts its own server on loopback from a temp directory);
# - a `docker compose` (or `docker-compose`) for `compose config` in tests/deploy/test_compose.py.
# The packages' own services are kept from starting (policy-rc.d); the tests use free ports.
set -euo pipefail

packages=()
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  packages+=(prometheus)
fi
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  packages+=(docker-compose)
fi
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
echo "installing ${packages[*]} from the system packages" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  added_policy=1
fi
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
if [ -n "$added_policy" ]; then $sudo rm -f "$policy"; fi
command -v prometheus >/dev/null && prometheus --version 2>&1 | head -n 1 >&2 || true
