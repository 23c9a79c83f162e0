"""HMAC-SHA256 vectors (RFC 4231, Wycheproof) from test/data/vectors/.

The same files and reading as verify/vectors.ts: RFC 4231 cases are all
valid (case 5 carries a tag truncated to 16 bytes), Wycheproof cases are
valid or invalid by their `result` field.
"""

from __future__ import annotations

import hmac
import json
import struct
from dataclasses import dataclass
from hashlib import sha256

from tnic_codes import REPO_ROOT

VECTOR_DIR = REPO_ROOT / "test" / "data" / "vectors"
RFC4231_FILE = VECTOR_DIR / "rfc4231_hmac_sha256.json"
WYCHEPROOF_FILE = VECTOR_DIR / "wycheproof_hmac_sha256_test.json"


@dataclass(frozen=True)
class HmacVector:
    source: str
    key: bytes
    msg: bytes
    tag: bytes
    valid: bool


def load_vectors() -> list[HmacVector]:
    """Read every RFC 4231 case, then every Wycheproof test, in file order."""
    rfc = json.loads(RFC4231_FILE.read_text())
    wycheproof = json.loads(WYCHEPROOF_FILE.read_text())
    vectors = [
        HmacVector(
            source=f"RFC 4231 case {case['case']}",
            key=bytes.fromhex(case["key"]),
            msg=bytes.fromhex(case["data"]),
            tag=bytes.fromhex(case["hmacSha256"]),
            valid=True,
        )
        for case in rfc["cases"]
    ]
    for group in wycheproof["testGroups"]:
        for test in group["tests"]:
            vectors.append(
                HmacVector(
                    source=f"Wycheproof tcId {test['tcId']}",
                    key=bytes.fromhex(test["key"]),
                    msg=bytes.fromhex(test["msg"]),
                    tag=bytes.fromhex(test["tag"]),
                    valid=test["result"] == "valid",
                )
            )
    expected = len(rfc["cases"]) + wycheproof["numberOfTests"]
    if len(vectors) != expected:
        raise ValueError(f"read {len(vectors)} vectors, but the files declare {expected}")
    return vectors


def encode_header(session: int, device: int, counter: int) -> bytes:
    """Header of an attested message: session u32 || device u32 || counter u64, big-endian."""
    return struct.pack(">IIQ", session, device, counter)


def reference_alpha(key: bytes, session: int, device: int, counter: int, msg: bytes) -> bytes:
    """alpha = HMAC-SHA256(key, header || msg), computed by Python's hmac module."""
    return hmac.new(key, encode_header(session, device, counter) + msg, sha256).digest()


def reference_tag(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA256(key, msg): what the vector's tag is checked against."""
    return hmac.new(key, msg, sha256).digest()
