#!/usr/bin/env bash
# Make sure `prometheus` and `promtool` are installed for the Prometheus pull-source tests
# (tests/telemetry/test_prometheus.py starts its own server on loopback from a temp directory).
# Installs the Debian package if either is missing. The package's own service is kept from
# starting (policy-rc.d), and would not matter anyway: the tests use a free port of their own.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
echo "Prometheus not found: installing it from the system packages" >&2
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
$sudo apt-get install -y -qq --no-install-recommends prometheus >&2
if [ -n "$added_policy" ]; then $sudo rm -f "$policy"; fi
prometheus --version 2>&1 | head -n 1 >&2
