#!/usr/bin/env bash
# Install what tnic-toolkit needs on Debian: Verilator and Icarus Verilog for
# RTL simulation, cocotb 2.1 for the Icarus testbench, Yosys and z3 for
# synthesis and proofs, tshark to dissect simulated RoCE captures, and the
# npm packages. Idempotent; uses sudo only when not already root.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
command -v verilator >/dev/null 2>&1 || missing+=(verilator)
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
command -v yosys >/dev/null 2>&1 || missing+=(yosys)
command -v z3 >/dev/null 2>&1 || missing+=(z3)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-dev)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# cocotb runs the testbench in verify/cocotb/ on Icarus Verilog; 2.1 is the tested release.
if ! python3 -c 'import sys, cocotb; sys.exit(not cocotb.__version__.startswith("2.1."))' 2>/dev/null; then
  echo "setup: installing cocotb 2.1 with pip"
  python3 -m pip install --quiet 'cocotb==2.1.*' ||
    python3 -m pip install --quiet --break-system-packages 'cocotb==2.1.*'
fi

echo "setup: installing npm packages (npm ci)"
npm ci --no-audit --no-fund
