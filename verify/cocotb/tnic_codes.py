"""Operation and status codes of the kernel, read from hw/tnic_defs.vh.

Parsing the header instead of repeating its numbers keeps the testbench in
step with the RTL: a renumbered code changes here too.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HW_DIR = REPO_ROOT / "hw"
DEFS_FILE = HW_DIR / "tnic_defs.vh"

_LOCALPARAM = re.compile(r"localparam\s+\[2:0\]\s+(OP|ST)_(\w+)\s*=\s*3'd(\d+)\s*;")


def _read_codes() -> tuple[dict[str, int], dict[str, int]]:
    ops: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for kind, name, value in _LOCALPARAM.findall(DEFS_FILE.read_text()):
        table = ops if kind == "OP" else statuses
        # OP_LOAD_KEY -> "load-key", ST_BAD_TAG -> "bad-tag": the names of sim/kernel_port.ts.
        table[name.lower().replace("_", "-")] = int(value)
    for required in ("load-key", "attest", "verify", "check", "set-id", "lock"):
        if required not in ops:
            raise RuntimeError(f"{DEFS_FILE}: operation code OP_{required.upper().replace('-', '_')} not found")
    if len(statuses) != 8:
        raise RuntimeError(f"{DEFS_FILE}: expected 8 status codes ST_*, found {len(statuses)}")
    return ops, statuses


OP_CODES, STATUS_CODES = _read_codes()
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}

OP_LOAD_KEY = OP_CODES["load-key"]
OP_ATTEST = OP_CODES["attest"]
OP_VERIFY = OP_CODES["verify"]
OP_CHECK = OP_CODES["check"]
OP_SET_ID = OP_CODES["set-id"]
OP_LOCK = OP_CODES["lock"]

ST_OK = STATUS_CODES["ok"]
ST_BAD_TAG = STATUS_CODES["bad-tag"]
ST_REPLAYED = STATUS_CODES["replayed"]
ST_GAP = STATUS_CODES["gap"]
ST_UNKNOWN_SESSION = STATUS_CODES["unknown-session"]
ST_OVERFLOW = STATUS_CODES["overflow"]
ST_REJECTED = STATUS_CODES["rejected"]
ST_BAD_OP = STATUS_CODES["bad-op"]
