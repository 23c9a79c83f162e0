"""Build tnic_kernel for Icarus Verilog and run one cocotb test suite on it.

    python3 verify/cocotb/run.py vectors [--results FILE]
    python3 verify/cocotb/run.py bridge --test-dir DIR

`vectors` runs test_tnic_vectors.py (HMAC vectors and negative cases under
random backpressure). `bridge` runs test_tnic_bridge.py, which serves
transactions over the Unix socket named by TNIC_COCOTB_SOCKET (started by
verify/cocotb_bridge.ts). TNIC_SEED sets the backpressure seed of both.

The compiled simulation is kept in build/cocotb/icarus-<hash>/, where the
hash covers the RTL sources and this script, so a change under hw/ rebuilds
it. Concurrent runs compile into private folders and the first rename wins.

Exit code: 0 when every test passed, 1 when a test failed or the simulation
ended without results, 2 for a usage or setup error.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from pathlib import Path

# Keep __pycache__ folders out of the source tree, here and in the simulator's Python.
sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"

from cocotb_tools.check_results import get_results  # noqa: E402
from cocotb_tools.runner import get_runner  # noqa: E402

from tnic_codes import HW_DIR, REPO_ROOT  # noqa: E402

TOPLEVEL = "tnic_kernel"
# Icarus needs a time unit for the cocotb clock; the RTL declares none.
TIMESCALE = ("1ns", "1ps")
BUILD_ROOT = REPO_ROOT / "build" / "cocotb"
SUITES = {"vectors": "test_tnic_vectors", "bridge": "test_tnic_bridge"}


def rtl_sources() -> list[Path]:
    """Return every Verilog module under hw/: the kernel and the modules it instantiates."""
    return sorted(HW_DIR.glob("*.v"))


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in rtl_sources() + sorted(HW_DIR.glob("*.vh")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def ensure_built() -> Path:
    """Return the build folder of an up-to-date sim.vvp, compiling it if needed."""
    target = BUILD_ROOT / f"icarus-{source_hash()}"
    if (target / "sim.vvp").is_file():
        return target

    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    scratch = BUILD_ROOT / f"tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"cocotb: compiling {TOPLEVEL} with Icarus Verilog into {target}", flush=True)
    runner = get_runner("icarus")
    runner.build(
        sources=rtl_sources(),
        includes=[HW_DIR],
        hdl_toplevel=TOPLEVEL,
        build_dir=scratch,
        timescale=TIMESCALE,
        always=True,
    )
    try:
        scratch.rename(target)
    except OSError:
        # Another run finished the same build first; use its sim.vvp.
        if not (target / "sim.vvp").is_file():
            raise
        shutil.rmtree(scratch, ignore_errors=True)
    remove_stale_builds(target.name)
    return target


def remove_stale_builds(current: str) -> None:
    """Delete compiled simulations of older sources; in-progress scratch folders stay."""
    for entry in BUILD_ROOT.glob("icarus-*"):
        if entry.name != current:
            shutil.rmtree(entry, ignore_errors=True)


def run_suite(suite: str, results: Path, test_dir: Path) -> int:
    """Run one suite; return the number of failed tests (or 1 if nothing was recorded)."""
    build_dir = ensure_built()
    runner = get_runner("icarus")
    runner.test(
        test_module=SUITES[suite],
        hdl_toplevel=TOPLEVEL,
        hdl_toplevel_lang="verilog",
        build_dir=build_dir,
        test_dir=test_dir,
        results_xml=str(results),
    )
    try:
        tests, failed = get_results(results)
    except RuntimeError as err:
        print(f"cocotb: {err}", file=sys.stderr)
        return 1
    print(f"cocotb: {suite}: {tests - failed} passed, {failed} failed (results in {results})", flush=True)
    return 1 if failed or tests == 0 else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--results", type=Path, help="xUnit results file (default: TEST_DIR/results.xml)")
    parser.add_argument("--test-dir", type=Path, help="folder the simulator runs in (default: build/cocotb/SUITE)")
    args = parser.parse_args()

    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        print("cocotb: iverilog not found on PATH; install it with `apt-get install -y iverilog`", file=sys.stderr)
        return 2
    test_dir = (args.test_dir or BUILD_ROOT / args.suite).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    results = (args.results or test_dir / "results.xml").resolve()
    return run_suite(args.suite, results, test_dir)


if __name__ == "__main__":
    sys.exit(main())
