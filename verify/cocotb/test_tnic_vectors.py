"""cocotb tests of tnic_kernel under random backpressure.

HMAC-SHA256 vectors are re-expressed as attestations, as verify/vectors.ts
does, because the kernel MACs header || msg, never msg alone:
  1. Python's hmac must give the vector's tag on (key, msg) exactly when the
     vector is valid, which shows the reference is right;
  2. the kernel attests msg under the vector key, and alpha must equal
     HMAC(key, header || msg) with header = session u32 || device u32 ||
     counter u64, big-endian;
  3. on the verify path the vector's tag error (its XOR with the true tag,
     zero for a valid vector) is applied to alpha. A valid full-length tag
     must be accepted. An invalid or truncated tag (sent zero-padded) must
     be rejected as bad-tag without advancing recv_cnt, which the true
     alpha, accepted right after, shows.
The negative tests cover replay, gap, unknown session, rejected key loads
and provisioning after lock.

TNIC_SEED replays the backpressure and padding bytes of a run; the seed is
logged at the start of every test.
"""

from __future__ import annotations

import logging
import random
from collections import Counter

import cocotb
from cocotb.handle import HierarchyObject

from hmac_vectors import HmacVector, load_vectors, reference_alpha, reference_tag
from tnic_codes import (
    OP_ATTEST,
    OP_CHECK,
    OP_LOAD_KEY,
    OP_LOCK,
    OP_SET_ID,
    OP_VERIFY,
    STATUS_NAMES,
    ST_BAD_OP,
    ST_BAD_TAG,
    ST_GAP,
    ST_OK,
    ST_REJECTED,
    ST_REPLAYED,
    ST_UNKNOWN_SESSION,
)
from tnic_driver import TAG_BYTES, Backpressure, Command, KernelDriver, Result, seed_from_env

SEED = seed_from_env()
BACKPRESSURE = Backpressure(in_gap_percent=30, res_stall_percent=40)
# verify/vectors.ts attests the vectors with device id 1.
VECTOR_DEVICE = 1
LOG = logging.getLogger("cocotb.tnic")


async def start_kernel(dut: HierarchyObject, test_name: str) -> KernelDriver:
    """Start clock and reset, with a generator seeded from SEED and the test name."""
    LOG.info("%s: seed %d (replay with TNIC_SEED=%d)", test_name, SEED, SEED)
    kernel = KernelDriver(dut, random.Random(f"{SEED}/{test_name}"), BACKPRESSURE)
    await kernel.start()
    return kernel


def session_count(dut: HierarchyObject) -> int:
    """Keystore slots: the N_SESSIONS parameter of the kernel under test."""
    return int(dut.N_SESSIONS.value)


def status_name(code: int) -> str:
    return STATUS_NAMES.get(code, f"code {code}")


def expect(result: Result, status: int, label: str, counter: int | None = None) -> None:
    """Assert the status, and the counter when given, of one result."""
    assert result.status == status, f"{label}: status {status_name(result.status)}, expected {status_name(status)}"
    if counter is not None:
        assert result.counter == counter, f"{label}: res_counter {result.counter}, expected {counter}"


def presented_tag(vector: HmacVector, alpha: bytes) -> bytes:
    """alpha with the vector's tag error applied, zero-padded to 32 bytes."""
    truth = reference_tag(vector.key, vector.msg)
    error = bytes(t ^ r for t, r in zip(vector.tag, truth))
    return bytes(a ^ e for a, e in zip(alpha, error)) + bytes(TAG_BYTES - len(vector.tag))


async def run_vector_chunk(
    kernel: KernelDriver, chunk: list[HmacVector], failures: list[str], counts: Counter[str]
) -> None:
    """Run up to one keystore of vectors, vector i on session i, after a reset.

    Each step is one batch of back-to-back commands, so a kernel that
    overlaps commands must still give the results of running them in order.
    """
    await kernel.reset()

    # Steps 1 and 2: reference check, key loads, then attestations.
    for vector in chunk:
        truth = reference_tag(vector.key, vector.msg)[: len(vector.tag)]
        if (truth == vector.tag) != vector.valid:
            failures.append(f"{vector.source}: Python hmac disagrees with the vector's result")
    setup = [Command(OP_SET_ID, device=VECTOR_DEVICE)]
    setup += [Command(OP_LOAD_KEY, session, vector.key) for session, vector in enumerate(chunk)]
    for vector, loaded in zip(chunk, (await kernel.run_many(setup))[1:]):
        if loaded.status != ST_OK:
            failures.append(f"{vector.source}: load-key returned {status_name(loaded.status)}")

    attests = [Command(OP_ATTEST, session, vector.msg) for session, vector in enumerate(chunk)]
    alphas = [result.tag for result in await kernel.run_many(attests)]
    for session, (vector, alpha) in enumerate(zip(chunk, alphas)):
        expected = reference_alpha(vector.key, session, VECTOR_DEVICE, 0, vector.msg)
        if alpha != expected:
            failures.append(f"{vector.source}: alpha {alpha.hex()}, expected {expected.hex()}")

    # Step 3: the vector's tag error on alpha, then the true alpha, per session.
    checks: list[Command] = []
    for session, (vector, alpha) in enumerate(zip(chunk, alphas)):
        common = dict(session=session, data=vector.msg, device=VECTOR_DEVICE, counter=0)
        checks.append(Command(OP_VERIFY, tag=presented_tag(vector, alpha), **common))
        checks.append(Command(OP_VERIFY, tag=alpha, **common))
    results = await kernel.run_many(checks)

    for session, vector in enumerate(chunk):
        presented, genuine = results[2 * session], results[2 * session + 1]
        if vector.valid and len(vector.tag) == TAG_BYTES:
            counts["valid"] += 1
            expected_results = [(presented, ST_OK, 0, "valid tag"), (genuine, ST_REPLAYED, 1, "second delivery")]
        else:
            counts["invalid" if not vector.valid else "truncated"] += 1
            # recv_cnt still 0 after the rejection: the true alpha with counter 0 is accepted.
            expected_results = [(presented, ST_BAD_TAG, 0, "invalid tag"), (genuine, ST_OK, 0, "true alpha after it")]
        for result, status, counter, label in expected_results:
            if result.status != status or result.counter != counter:
                failures.append(
                    f"{vector.source}: {label}: {status_name(result.status)} with res_counter "
                    f"{result.counter}, expected {status_name(status)} with {counter}"
                )


@cocotb.test()
async def hmac_vectors_as_attestations(dut: HierarchyObject) -> None:
    kernel = await start_kernel(dut, "hmac_vectors_as_attestations")
    vectors = load_vectors()
    sessions = session_count(dut)
    failures: list[str] = []
    counts: Counter[str] = Counter()
    for start in range(0, len(vectors), sessions):
        await run_vector_chunk(kernel, vectors[start : start + sessions], failures, counts)

    assert not failures, f"{len(failures)} vector failures (seed {SEED}):\n" + "\n".join(failures)
    assert sum(counts.values()) == len(vectors)
    assert counts["invalid"] == sum(not v.valid for v in vectors)
    assert counts["truncated"] == sum(v.valid and len(v.tag) < TAG_BYTES for v in vectors)
    LOG.info(
        "%d vectors: %d valid accepted, %d invalid and %d truncated rejected",
        len(vectors),
        counts["valid"],
        counts["invalid"],
        counts["truncated"],
    )


@cocotb.test()
async def attest_lengths_around_block_edges(dut: HierarchyObject) -> None:
    """Messages around SHA-256 block and word boundaries, under short and hashed keys."""
    kernel = await start_kernel(dut, "attest_lengths_around_block_edges")
    rng = random.Random(f"{SEED}/lengths")
    device = rng.getrandbits(32)
    await kernel.run(Command(OP_SET_ID, device=device))
    # 48 and 112 bytes fill a block with the 16-byte header; 55/56 and 119/120 move the padding.
    lengths = [0, 1, 2, 3, 4, 5, 39, 40, 47, 48, 49, 55, 56, 63, 64, 65, 111, 112, 119, 120, 128, 300]
    # Keys of at most 64 bytes are zero-padded; longer keys are hashed first.
    for session, key_len in enumerate([0, 1, 64, 65, 131]):
        key = rng.randbytes(key_len)
        expect(await kernel.run(Command(OP_LOAD_KEY, session, key)), ST_OK, f"{key_len}-byte key")
        messages = [rng.randbytes(length) for length in lengths]
        results = await kernel.run_many([Command(OP_ATTEST, session, msg) for msg in messages])
        for counter, (msg, result) in enumerate(zip(messages, results)):
            label = f"{key_len}-byte key, {len(msg)}-byte message"
            expect(result, ST_OK, label, counter)
            assert result.tag == reference_alpha(key, session, device, counter, msg), f"{label}: wrong alpha"


async def provision_pair(kernel: KernelDriver, key: bytes, device: int) -> None:
    """Load `key` on session 0 with device id `device`."""
    expect(await kernel.run(Command(OP_SET_ID, device=device)), ST_OK, "set-id")
    expect(await kernel.run(Command(OP_LOAD_KEY, 0, key)), ST_OK, "load-key session 0")


def verify_command(key: bytes, counter: int, msg: bytes, device: int = 7, op: int = OP_VERIFY) -> Command:
    """A VERIFY (or CHECK) of `msg` from sender `device`, tagged with the true alpha."""
    return Command(op, 0, msg, device, counter, reference_alpha(key, 0, device, counter, msg))


@cocotb.test()
async def verify_rejects_replay(dut: HierarchyObject) -> None:
    kernel = await start_kernel(dut, "verify_rejects_replay")
    key = bytes(range(32))
    await provision_pair(kernel, key, 1)
    for counter in range(3):
        expect(await kernel.run(verify_command(key, counter, b"m%d" % counter)), ST_OK, f"counter {counter}", counter)

    for counter in (0, 2):
        replay = await kernel.run(verify_command(key, counter, b"m%d" % counter))
        expect(replay, ST_REPLAYED, f"replayed counter {counter}", 3)
    # The replays moved nothing: counter 3 is next.
    expect(await kernel.run(verify_command(key, 3, b"m3")), ST_OK, "counter 3 after the replays", 3)


@cocotb.test()
async def verify_rejects_gap(dut: HierarchyObject) -> None:
    kernel = await start_kernel(dut, "verify_rejects_gap")
    key = b"gap key"
    await provision_pair(kernel, key, 1)
    expect(await kernel.run(verify_command(key, 1, b"second")), ST_GAP, "counter 1 before 0", 0)
    expect(await kernel.run(verify_command(key, 5, b"sixth")), ST_GAP, "counter 5 before 0", 0)
    expect(await kernel.run(verify_command(key, 0, b"first")), ST_OK, "counter 0", 0)
    expect(await kernel.run(verify_command(key, 1, b"second")), ST_OK, "counter 1 in order", 1)


@cocotb.test()
async def verify_rejects_bad_tag_first(dut: HierarchyObject) -> None:
    """A wrong tag is bad-tag whatever the counter, and never moves recv_cnt."""
    kernel = await start_kernel(dut, "verify_rejects_bad_tag_first")
    key = b"\x42" * 32
    await provision_pair(kernel, key, 1)
    for counter in (0, 4):
        cmd = verify_command(key, counter, b"pay 10")
        flipped = bytes([cmd.tag[0] ^ 0x01]) + cmd.tag[1:]
        bad = await kernel.run(Command(OP_VERIFY, 0, cmd.data, cmd.device, counter, flipped))
        expect(bad, ST_BAD_TAG, f"flipped tag bit, counter {counter}", 0)
    expect(await kernel.run(verify_command(key, 0, b"pay 10")), ST_OK, "true tag after rejections", 0)


@cocotb.test()
async def unknown_session_is_rejected(dut: HierarchyObject) -> None:
    kernel = await start_kernel(dut, "unknown_session_is_rejected")
    key = b"known"
    await provision_pair(kernel, key, 1)
    sessions = session_count(dut)
    # Session 1 is in range without a key; the others are out of range.
    for session in (1, sessions - 1, sessions, 70000, 2**32 - 1):
        msg = random.Random(session).randbytes(37)
        for op in (OP_ATTEST, OP_VERIFY, OP_CHECK):
            result = await kernel.run(Command(op, session, msg, 7, 0, bytes(TAG_BYTES)))
            expect(result, ST_UNKNOWN_SESSION, f"op {op} on session {session}")
    # Every rejected command consumed its bytes: session 0 still works.
    expect(await kernel.run(verify_command(key, 0, b"after")), ST_OK, "session 0 afterwards", 0)


@cocotb.test()
async def second_key_load_is_rejected(dut: HierarchyObject) -> None:
    kernel = await start_kernel(dut, "second_key_load_is_rejected")
    first, second = b"first key", b"second key, longer than the first"
    await provision_pair(kernel, first, 9)
    expect(await kernel.run(Command(OP_LOAD_KEY, 0, second)), ST_REJECTED, "second key for session 0")
    expect(await kernel.run(Command(OP_LOAD_KEY, 0, second * 4)), ST_REJECTED, "second 132-byte key")
    expect(await kernel.run(Command(OP_LOAD_KEY, session_count(dut), first)), ST_REJECTED, "key past the keystore")

    attested = await kernel.run(Command(OP_ATTEST, 0, b"still the first"))
    expect(attested, ST_OK, "attest after the rejected loads", 0)
    assert attested.tag == reference_alpha(first, 0, 9, 0, b"still the first"), "the first key was replaced"


@cocotb.test()
async def provisioning_after_lock_is_rejected(dut: HierarchyObject) -> None:
    kernel = await start_kernel(dut, "provisioning_after_lock_is_rejected")
    key = b"locked key"
    await provision_pair(kernel, key, 3)
    expect(await kernel.run(Command(OP_LOCK)), ST_OK, "lock")
    expect(await kernel.run(Command(OP_LOAD_KEY, 1, b"late key")), ST_REJECTED, "load-key after lock")
    expect(await kernel.run(Command(OP_SET_ID, device=4)), ST_REJECTED, "set-id after lock")
    assert dut.locked.value == 1, "locked output is low after LOCK"
    assert dut.device_id.value.to_unsigned() == 3, "device id changed after lock"

    attested = await kernel.run(Command(OP_ATTEST, 0, b"x"))
    expect(attested, ST_OK, "attest after lock", 0)
    assert attested.tag == reference_alpha(key, 0, 3, 0, b"x"), "alpha does not use device id 3"


@cocotb.test()
async def undefined_ops_are_rejected(dut: HierarchyObject) -> None:
    kernel = await start_kernel(dut, "undefined_ops_are_rejected")
    key = b"k"
    await provision_pair(kernel, key, 1)
    for op in (6, 7):
        expect(await kernel.run(Command(op, 0, b"\xff" * 9)), ST_BAD_OP, f"op code {op}")
    expect(await kernel.run(verify_command(key, 0, b"after")), ST_OK, "verify after the bad ops", 0)


@cocotb.test()
async def check_leaves_counters_alone(dut: HierarchyObject) -> None:
    kernel = await start_kernel(dut, "check_leaves_counters_alone")
    key = b"forwarding key"
    await provision_pair(kernel, key, 1)
    for _ in range(2):
        checked = await kernel.run(verify_command(key, 5, b"forwarded", op=OP_CHECK))
        expect(checked, ST_OK, "check of counter 5", 5)
    cmd = verify_command(key, 5, b"forwarded", op=OP_CHECK)
    tampered = Command(OP_CHECK, 0, b"forwardeD", cmd.device, 5, cmd.tag)
    expect(await kernel.run(tampered), ST_BAD_TAG, "check of a changed message", 5)
    expect(await kernel.run(verify_command(key, 0, b"first")), ST_OK, "recv_cnt still 0", 0)
