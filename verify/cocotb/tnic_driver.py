"""Drives tnic_kernel through its command, input-stream and result channels.

Two tasks run beside the test. The source presents each queued command on
cmd_valid until cmd_ready and then streams its bytes as ceil(len / 4)
big-endian 32-bit words on in_valid/in_data. It moves on to the next
command right away, so several commands are in flight when the kernel
accepts them early. The sink takes results on res_valid && res_ready and
pairs them, in order, with the accepted commands. A seeded generator
inserts idle cycles before a command, holds in_valid low between words and
holds res_ready low while a result waits, so every handshake runs under
backpressure.

Each channel is sampled in the ReadOnly phase after the inputs of a cycle
are driven, and a transfer happens at the next rising edge when valid and
ready were both high there. While the kernel cannot take a word or has no
result, the tasks wait for in_ready or res_valid to rise instead of polling
every cycle, which keeps the Python cost per command low.

The driver checks the protocol as it goes: a result stays unchanged until
it is taken, no result appears without an accepted command, and the
kernel consumes exactly the declared words of every command.
"""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cocotb
from cocotb.clock import Clock
from cocotb.handle import HierarchyObject
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, ReadOnly, RisingEdge, SimTimeoutError, with_timeout

CLOCK_PERIOD_NS = 10
TAG_BYTES = 32
RESET_CYCLES = 4


class ProtocolError(AssertionError):
    """The kernel broke a handshake rule or did not respond in time."""


@dataclass(frozen=True)
class Command:
    """One kernel command and the bytes it streams (message or key)."""

    op: int
    session: int = 0
    data: bytes = b""
    device: int = 0
    counter: int = 0
    tag: bytes = bytes(TAG_BYTES)


@dataclass(frozen=True)
class Result:
    """One result: res_status, res_tag, res_counter and the latency.

    cycles counts rising edges from the edge that accepted the command to
    the edge after which its result was first presented, so input gaps and
    results waiting behind earlier ones add to it.
    """

    status: int
    tag: bytes
    counter: int
    cycles: int

    def same_outputs(self, other: Result) -> bool:
        """Compare the result outputs, ignoring when they were first presented."""
        return (self.status, self.tag, self.counter) == (other.status, other.tag, other.counter)


@dataclass(frozen=True)
class Backpressure:
    """Share of cycles, in percent, in which the testbench stalls a channel."""

    in_gap_percent: int = 0  # in_valid low although words remain; also idle cycles before cmd_valid
    res_stall_percent: int = 0  # res_ready low while a result waits

    def __post_init__(self) -> None:
        for name in ("in_gap_percent", "res_stall_percent"):
            value = getattr(self, name)
            if not 0 <= value <= 90:
                raise ValueError(f"{name} {value} is not in 0..90 (at 100 no transfer would happen)")


def stream_words(data: bytes, rng: random.Random) -> list[int]:
    """Split `data` into big-endian 32-bit words; pad the last word with random bytes.

    The kernel must ignore bytes past cmd_len, so the padding is random
    rather than zero to show that it does.
    """
    padding = (-len(data)) % 4
    padded = data + rng.randbytes(padding)
    return [int.from_bytes(padded[i : i + 4], "big") for i in range(0, len(padded), 4)]


def cycle_limit(data_bytes: int) -> int:
    """Cycles after which a command without progress counts as hung.

    A message costs about one cycle per byte at full rate because the core
    runs one SHA-256 round per cycle. Gaps of at most 90 % stretch that ten
    times, so 100 cycles per byte plus a margin is far above any correct run.
    """
    return 20_000 + 100 * data_bytes


@dataclass
class _InFlight:
    """An accepted command whose result has not been taken yet."""

    command: Command
    accepted_ns: float
    words: int
    sent: int = 0  # words transferred so far


class KernelDriver:
    """Clock, reset, source and sink of one tnic_kernel instance."""

    def __init__(self, dut: HierarchyObject, rng: random.Random, backpressure: Backpressure) -> None:
        self._dut = dut
        self._rng = rng
        self._backpressure = backpressure
        self._edge = RisingEdge(dut.clk)
        self._settled = ReadOnly()
        self._pending: deque[Command] = deque()
        self._in_flight: deque[_InFlight] = deque()
        self._results: list[Result] = []
        self._expected = 0
        self._work = Event()
        self._done = Event()

    async def start(self) -> None:
        """Start the clock, reset the kernel and start the source and sink tasks."""
        Clock(self._dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
        await self.reset()
        cocotb.start_soon(self._source())
        cocotb.start_soon(self._sink())

    async def reset(self) -> None:
        """Hold rst_n low for RESET_CYCLES edges: keys, counters, device id and lock clear.

        Call it only between batches, with no command in flight.
        """
        if self._pending or self._in_flight:
            raise RuntimeError("reset with commands in flight")
        dut = self._dut
        self._idle_inputs()
        dut.rst_n.value = 0
        for _ in range(RESET_CYCLES):
            await self._edge
        dut.rst_n.value = 1
        await self._edge

    def _idle_inputs(self) -> None:
        dut = self._dut
        dut.cmd_valid.value = 0
        dut.cmd_op.value = 0
        dut.cmd_session.value = 0
        dut.cmd_len.value = 0
        dut.cmd_device.value = 0
        dut.cmd_counter.value = 0
        dut.cmd_tag.value = 0
        dut.in_valid.value = 0
        dut.in_data.value = 0
        dut.res_ready.value = 0

    async def run(self, cmd: Command) -> Result:
        """Send one command and its bytes; return its result once taken."""
        (result,) = await self.run_many([cmd])
        return result

    async def run_many(self, commands: Sequence[Command]) -> list[Result]:
        """Queue `commands` back to back; return their results in order once all are taken."""
        for cmd in commands:
            if len(cmd.tag) != TAG_BYTES:
                raise ValueError(f"tag of {len(cmd.tag)} bytes must be {TAG_BYTES} bytes")
        if not commands:
            return []
        if self._expected:
            raise RuntimeError("run_many called while another batch is running")

        self._results = []
        self._expected = len(commands)
        self._done.clear()
        self._pending.extend(commands)
        self._work.set()
        limit = sum(cycle_limit(len(cmd.data)) for cmd in commands)
        try:
            await with_timeout(self._done.wait(), limit * CLOCK_PERIOD_NS, "ns")
        except SimTimeoutError:
            raise ProtocolError(
                f"{len(self._results)} of {len(commands)} results after {limit} cycles"
            ) from None
        self._expected = 0
        return self._results

    def _hold_back(self, percent: int) -> bool:
        return percent > 0 and self._rng.randrange(100) < percent

    # ------------------------------------------------------------------
    # Source: command channel and input stream.
    # ------------------------------------------------------------------

    async def _source(self) -> None:
        while True:
            if not self._pending:
                self._work.clear()
                await self._work.wait()
                continue
            cmd = self._pending.popleft()
            words = stream_words(cmd.data, self._rng)
            entry = await self._send_command(cmd, len(words))
            await self._send_words(entry, words)

    async def _send_command(self, cmd: Command, words: int) -> _InFlight:
        dut = self._dut
        while self._hold_back(self._backpressure.in_gap_percent):
            await self._edge

        dut.cmd_op.value = cmd.op
        dut.cmd_session.value = cmd.session
        dut.cmd_len.value = len(cmd.data)
        dut.cmd_device.value = cmd.device
        dut.cmd_counter.value = cmd.counter
        dut.cmd_tag.value = int.from_bytes(cmd.tag, "big")
        dut.cmd_valid.value = 1

        await self._settled
        if dut.cmd_ready.value != 1:
            await self._await_rise(dut.cmd_ready, f"cmd_ready for op {cmd.op}", cycle_limit(len(cmd.data)))
        await self._edge
        dut.cmd_valid.value = 0
        entry = _InFlight(cmd, get_sim_time("ns"), words)
        self._in_flight.append(entry)
        return entry

    async def _send_words(self, entry: _InFlight, words: list[int]) -> None:
        dut = self._dut
        cmd = entry.command
        for index, word in enumerate(words):
            while self._hold_back(self._backpressure.in_gap_percent):
                dut.in_valid.value = 0
                # Random data while in_valid is low: the kernel must not take it.
                dut.in_data.value = self._rng.getrandbits(32)
                await self._edge
            dut.in_valid.value = 1
            dut.in_data.value = word
            await self._settled
            if dut.in_ready.value != 1:
                label = f"in_ready for word {index} of {len(words)} (op {cmd.op})"
                await self._await_rise(dut.in_ready, label, cycle_limit(len(cmd.data)))
            await self._edge
            entry.sent += 1
        dut.in_valid.value = 0

    async def _await_rise(self, signal: object, label: str, cycles: int) -> None:
        """From a ReadOnly phase with `signal` low, wait until it is high in a ReadOnly phase."""
        while True:
            try:
                await with_timeout(RisingEdge(signal), cycles * CLOCK_PERIOD_NS, "ns")
            except SimTimeoutError:
                raise ProtocolError(f"no {label} within {cycles} cycles") from None
            await self._settled
            if signal.value == 1:
                return

    # ------------------------------------------------------------------
    # Sink: result channel.
    # ------------------------------------------------------------------

    async def _sink(self) -> None:
        dut = self._dut
        waiting: Result | None = None  # the result as first presented, until taken
        while True:
            take = not self._hold_back(self._backpressure.res_stall_percent)
            dut.res_ready.value = int(take)
            await self._settled
            if dut.res_valid.value != 1:
                if waiting is not None:
                    raise ProtocolError("res_valid fell before res_ready")
                await RisingEdge(dut.res_valid)
                continue

            presented = self._sample_result()
            if waiting is None:
                head = self._in_flight[0]
                if head.sent != head.words:
                    raise ProtocolError(
                        f"result of op {head.command.op} presented after {head.sent} of its "
                        f"{head.words} input words"
                    )
                waiting = presented
            elif not presented.same_outputs(waiting):
                raise ProtocolError(f"result changed while res_ready was low: {waiting} -> {presented}")
            await self._edge
            if take:
                self._retire(waiting)
                waiting = None

    def _sample_result(self) -> Result:
        dut = self._dut
        if not self._in_flight:
            raise ProtocolError("res_valid high with no accepted command")
        head = self._in_flight[0]
        return Result(
            status=dut.res_status.value.to_unsigned(),
            tag=dut.res_tag.value.to_unsigned().to_bytes(TAG_BYTES, "big"),
            counter=dut.res_counter.value.to_unsigned(),
            cycles=round((get_sim_time("ns") - head.accepted_ns) / CLOCK_PERIOD_NS),
        )

    def _retire(self, result: Result) -> None:
        self._in_flight.popleft()
        self._results.append(result)
        if len(self._results) == self._expected:
            self._done.set()


def seed_from_env() -> int:
    """Return TNIC_SEED (to replay a run) if set, else a fresh random 32-bit seed."""
    text = os.environ.get("TNIC_SEED")
    if text is None:
        return random.SystemRandom().getrandbits(32)
    if not text.isdigit() or int(text) >= 2**32:
        raise ValueError(f"TNIC_SEED '{text}' is not an integer in 0..4294967295")
    return int(text)
