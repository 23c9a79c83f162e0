"""cocotb test that serves kernel transactions to verify/cocotb_bridge.ts.

The bridge listens on the Unix socket named by TNIC_COCOTB_SOCKET; this
test connects to it and reads one JSON request per line:

    {"op": "load-key", "session": N, "key": HEX}
    {"op": "set-id", "device": N}
    {"op": "lock"}
    {"op": "attest", "session": N, "msg": HEX}
    {"op": "verify" | "check", "session": N, "device": N, "counter": DECIMAL,
     "tag": HEX, "msg": HEX}
    {"op": "reset"}

and writes one JSON line per request, in order:

    {"status": CODE, "tag": HEX, "counter": DECIMAL, "cycles": N}

where CODE is res_status (hw/tnic_defs.vh) and cycles counts edges from the
accepting edge to the first presentation of the result. A request that
cannot be parsed gets {"error": MESSAGE} and changes nothing. The lines
already buffered on the socket run as one batch of back-to-back commands.
The test ends when the bridge closes the socket.

TNIC_SEED seeds the backpressure; TNIC_STALL_PERCENT (0..90, default 0)
sets the share of cycles with in_valid and res_ready held low.
"""

from __future__ import annotations

import json
import logging
import os
import random
import select
import socket
from typing import Any

import cocotb
from cocotb.handle import HierarchyObject

from tnic_codes import OP_CODES
from tnic_driver import TAG_BYTES, Backpressure, Command, KernelDriver, Result, seed_from_env

LOG = logging.getLogger("cocotb.tnic.bridge")
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
RESET_ANSWER = {"status": 0, "tag": "", "counter": "0", "cycles": 0}


class RequestError(ValueError):
    """A request line that is not valid JSON or names a bad field."""


class LineReader:
    """Whole lines from a blocking socket, in batches of what is already buffered."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def read_batch(self) -> list[bytes]:
        """Block until at least one line arrives; return every complete line buffered.

        Returns an empty list once the peer has closed the socket.
        """
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                return []
            self._buffer += chunk
        while select.select([self._sock], [], [], 0)[0]:
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                break
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return lines


def _int_field(request: dict[str, Any], name: str, maximum: int) -> int:
    value = request.get(name)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise RequestError(f"field '{name}' is {value!r}, expected an integer in 0..{maximum}")
    return value


def _hex_field(request: dict[str, Any], name: str, max_bytes: int) -> bytes:
    value = request.get(name)
    try:
        data = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        data = None
    if data is None:
        raise RequestError(f"field '{name}' is not a hex string")
    if len(data) > max_bytes:
        raise RequestError(f"field '{name}' has {len(data)} bytes, at most {max_bytes} fit cmd_len")
    return data


def parse_request(line: bytes, max_input: int) -> Command | None:
    """Decode one request line; None stands for a reset."""
    try:
        request = json.loads(line)
    except ValueError as err:
        raise RequestError(f"invalid JSON: {err}") from None
    if not isinstance(request, dict):
        raise RequestError("request is not a JSON object")
    op = request.get("op")
    if op == "reset":
        return None
    if op not in OP_CODES:
        raise RequestError(f"unknown op {op!r}; expected reset or one of {', '.join(OP_CODES)}")

    code = OP_CODES[op]
    if op == "load-key":
        return Command(code, _int_field(request, "session", U32_MAX), _hex_field(request, "key", max_input))
    if op == "set-id":
        return Command(code, device=_int_field(request, "device", U32_MAX))
    if op == "lock":
        return Command(code)
    session = _int_field(request, "session", U32_MAX)
    msg = _hex_field(request, "msg", max_input)
    if op == "attest":
        return Command(code, session, msg)
    tag = _hex_field(request, "tag", TAG_BYTES)
    if len(tag) != TAG_BYTES:
        raise RequestError(f"field 'tag' has {len(tag)} bytes, expected {TAG_BYTES}")
    return Command(
        code, session, msg, _int_field(request, "device", U32_MAX), _int_field(request, "counter", U64_MAX), tag
    )


def encode_result(result: Result) -> dict[str, Any]:
    return {"status": result.status, "tag": result.tag.hex(), "counter": str(result.counter), "cycles": result.cycles}


async def answer_batch(kernel: KernelDriver, lines: list[bytes], max_input: int) -> list[dict[str, Any]]:
    """Run the commands of `lines` in order; resets and bad lines split the batch."""
    answers: list[dict[str, Any]] = []
    queued: list[Command] = []

    async def flush() -> None:
        answers.extend(encode_result(result) for result in await kernel.run_many(queued))
        queued.clear()

    for line in lines:
        try:
            cmd = parse_request(line, max_input)
        except RequestError as err:
            await flush()
            answers.append({"error": str(err)})
            continue
        if cmd is None:
            await flush()
            await kernel.reset()
            answers.append(RESET_ANSWER)
        else:
            queued.append(cmd)
    await flush()
    return answers


def stall_percent_from_env() -> int:
    text = os.environ.get("TNIC_STALL_PERCENT", "0")
    if not text.isdigit() or int(text) > 90:
        raise ValueError(f"TNIC_STALL_PERCENT '{text}' is not an integer in 0..90")
    return int(text)


@cocotb.test()
async def serve_transactions(dut: HierarchyObject) -> None:
    path = os.environ.get("TNIC_COCOTB_SOCKET")
    assert path, "TNIC_COCOTB_SOCKET is not set; start this suite through verify/cocotb_bridge.ts"
    seed = seed_from_env()
    stalls = stall_percent_from_env()
    LOG.info("bridge: seed %d, stalls %d%% (replay with TNIC_SEED=%d)", seed, stalls, seed)

    kernel = KernelDriver(dut, random.Random(seed), Backpressure(stalls, stalls))
    await kernel.start()
    max_input = 2 ** int(dut.LEN_W.value) - 1

    served = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        reader = LineReader(sock)
        while lines := reader.read_batch():
            answers = await answer_batch(kernel, lines, max_input)
            sock.sendall(b"".join(json.dumps(a).encode() + b"\n" for a in answers))
            served += len(lines)
    LOG.info("bridge: served %d requests, socket closed", served)
