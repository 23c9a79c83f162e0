#!/usr/bin/env bash
# Install what tnic-toolkit needs on Debian: Verilator and Icarus Verilog for
# RTL simulation, tshark to dissect simulated RoCE captures, and the npm
# packages. Idempotent; uses sudo only when not already root.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
command -v verilator >/dev/null 2>&1 || missing+=(verilator)
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

echo "setup: installing npm packages (npm ci)"
npm ci --no-audit --no-fund
