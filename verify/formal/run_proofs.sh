#!/bin/bash
# Proves the assertions of tnic_kernel_props.vh one at a time on the small
# formal configuration (tnic_kernel_formal_top.v, abstract engine and key
# unit) and prints a table: property, method, result, time.
#
# The script splices the properties into a copy of hw/tnic_kernel.v under
# build/formal/run/ and builds one AIG model per assertion with Yosys. ABC
# then checks each model: `fold` turns the assumptions (AIGER constraints)
# into part of the property, `pdr` tries an unbounded proof, and `bmc3` runs
# a bounded check when pdr does not finish in time. Without `fold`, ABC
# reports the constraint outputs as failing properties in frame 0.
# The reach_* assertions of tnic_kernel_reach.vh are false on purpose and
# must fail, which shows that the assumptions leave the kernel able to run.
#
# Usage: verify/formal/run_proofs.sh [-t PDR_SECONDS] [-b BMC_SECONDS] [-j JOBS] [PROPERTY...]
# Exit status: 0 if every selected property is proved, 1 otherwise.
# Needs: yosys and yosys-abc (tested with Yosys 0.23).

set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 - "$repo" "$@" <<'PY'
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time

repo = sys.argv[1]
parser = argparse.ArgumentParser(prog="run_proofs.sh")
parser.add_argument("-t", type=int, default=90, help="pdr time limit per property, in seconds")
parser.add_argument("-b", type=int, default=60, help="bmc3 time limit per property, in seconds")
parser.add_argument("-j", type=int, default=2, help="number of properties checked in parallel")
parser.add_argument("props", nargs="*", help="property names (default: all)")
args = parser.parse_args(sys.argv[2:])

formal = os.path.join(repo, "verify", "formal")
hw = os.path.join(repo, "hw")
props_file = os.path.join(formal, "tnic_kernel_props.vh")
# Its assertions must fail. A proof of one means the assumptions are too strong.
reach_file = os.path.join(formal, "tnic_kernel_reach.vh")
work = os.path.join(repo, "build", "formal", "run")

# Properties that pdr proves only with another property as an assumption.
# This is sound because each assumed property is proved on its own, without
# assuming the one that uses it. The monotonic properties need the step
# property to rule out a counter wrap.
ASSUMED = {
    "send_cnt_monotonic": ["send_cnt_step"],
    "recv_cnt_monotonic": ["recv_cnt_step"],
}
os.makedirs(work, exist_ok=True)


def list_properties(path):
    """Return (file, name, end line) of each assertion: Yosys tags an assertion
    with a source range, and its end line identifies it."""
    lines = open(path).read().split("\n")
    label = re.compile(r"(?:/\*\s*(\w+)\s*\*/|(\w+)\s*:)\s*assert\s*\(")
    found = []
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("//"):
            continue
        match = label.search(line)
        if not match:
            continue
        name = match.group(1) or match.group(2)
        depth = 0
        end = number
        for offset, text in enumerate(lines[number - 1:]):
            start = match.end() - 1 if offset == 0 else 0
            for char in text[start:]:
                depth += (char == "(") - (char == ")")
            if depth == 0:
                end = number + offset
                break
        found.append((os.path.basename(path), name, end))
    return found


def splice_kernel():
    """Copy hw/tnic_kernel.v with the properties included before endmodule."""
    source = open(os.path.join(hw, "tnic_kernel.v")).read()
    cut = source.rfind("endmodule")
    with open(os.path.join(work, "tnic_kernel.v"), "w") as out:
        out.write(source[:cut] + '    `include "tnic_kernel_props.vh"\n'
                  '    `include "tnic_kernel_reach.vh"\n\n' + source[cut:])


def run(command, log, timeout=None):
    with open(log, "w") as out:
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout, cwd=work).returncode


def build_model():
    """Elaborate the formal top once into a bit-level netlist (base.il).
    Registers without a reset value start free (write_aiger -zinit adds an
    input for each), so the unreset memories start with any contents."""
    read = ("read_verilog -formal -sv -DFORMAL -I{hw} -I{f} {f}/tnic_engine_abstract.v "
            "{f}/tnic_key_unit_abstract.v tnic_kernel.v {f}/tnic_kernel_formal_top.v"
            ).format(hw=hw, f=formal)
    script = "; ".join([
        read,
        "prep -top tnic_kernel_formal_top",
        "flatten",
        "memory_map",
        "opt -fast -keepdc",
        "async2sync",
        "dffunmap",
        "setundef -undriven -anyseq",
        "techmap",
        "opt -fast -keepdc",
        "dffunmap",
        "aigmap",
        "opt_clean",
        "write_rtlil base.il",
    ])
    if run(["yosys", "-q", "-p", script], os.path.join(work, "build.log")) != 0:
        sys.exit("run_proofs: model build failed, see " + os.path.join(work, "build.log"))


def check(prop):
    source, name, end = prop
    tag = "{}_{}".format(name, end)
    started = time.time()
    keep = "a:src=*{}:*-{}.*".format(source, end)
    assume = ""
    for other in ASSUMED.get(name, []):
        other_end = next(e for _, n, e in all_properties if n == other)
        assume += "chformal -assert2assume t:$assert a:src=*{}:*-{}.* %i; ".format(
            os.path.basename(props_file), other_end)
    script = ("read_rtlil base.il; select -assert-min 1 t:$assert {keep} %i; {assume}"
              "delete t:$assert {keep} %d; opt_clean; "
              "write_aiger -zinit {tag}.aig").format(keep=keep, assume=assume, tag=tag)
    if run(["yosys", "-q", "-p", script], os.path.join(work, tag + ".yosys.log")) != 0:
        return name, "-", "ERROR (yosys, see {}.yosys.log)".format(tag), time.time() - started

    log = os.path.join(work, tag + ".pdr.log")
    try:
        run(["yosys-abc", "-c", "read_aiger {}.aig; fold; pdr -T {}".format(tag, args.t)],
            log, timeout=args.t + 30)
        text = open(log).read()
    except subprocess.TimeoutExpired:
        text = ""
    if "Property proved" in text:
        method = "pdr (unbounded)"
        if name in ASSUMED:
            method = "pdr, assumes " + ", ".join(ASSUMED[name])
        return name, method, "PROVED", time.time() - started
    failed = re.search(r"asserted in frame (\d+)", text)
    if failed:
        return name, "pdr", "FAILED at frame " + failed.group(1), time.time() - started

    log = os.path.join(work, tag + ".bmc.log")
    try:
        run(["yosys-abc", "-c", "read_aiger {}.aig; fold; bmc3 -T {}".format(tag, args.b)],
            log, timeout=args.b + 30)
        text = open(log).read()
    except subprocess.TimeoutExpired:
        text = ""
    failed = re.search(r"asserted in frame (\d+)", text)
    if failed:
        return name, "bmc3", "FAILED at frame " + failed.group(1), time.time() - started
    frames = re.findall(r"No output asserted in (\d+) frames", text)
    if frames:
        bound = frames[-1]
        return name, "bmc3 bound " + bound, "HOLDS to bound " + bound, time.time() - started
    return name, "pdr + bmc3", "UNKNOWN (see {}.*.log)".format(tag), time.time() - started


all_properties = list_properties(props_file) + list_properties(reach_file)
properties = all_properties
if args.props:
    unknown = set(args.props) - {name for _, name, _ in properties}
    if unknown:
        sys.exit("run_proofs: unknown property: " + ", ".join(sorted(unknown)))
    properties = [p for p in properties if p[1] in args.props]

splice_kernel()
build_model()
with concurrent.futures.ThreadPoolExecutor(max_workers=args.j) as pool:
    results = list(pool.map(check, properties))

# A proof that assumes another property counts only if that one is proved too.
status = {name: result for name, _, result, _ in results}
for index, (name, method, result, seconds) in enumerate(results):
    missing = [o for o in ASSUMED.get(name, []) if status.get(o) != "PROVED"]
    if result == "PROVED" and missing:
        results[index] = (name, method, "PROVED if " + ", ".join(missing) + " holds", seconds)

print("{:26} {:30} {:26} {:>8}".format("property", "method", "result", "time [s]"))
for name, method, result, seconds in results:
    print("{:26} {:30} {:26} {:8.1f}".format(name, method, result, seconds))


def as_expected(result):
    name, _, status, _ = result
    if name.startswith("reach_"):
        return status.startswith("FAILED")
    return status == "PROVED"


print("Each reach_* check must fail. A proof of one would make the other proofs vacuous.")
sys.exit(0 if all(as_expected(r) for r in results) else 1)
PY
