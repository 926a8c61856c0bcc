"""Hypothesis for the parsers (issue 18): how many examples, and the mutations of a valid file.

`make test` runs the short profile: 30 examples per property, derandomized, so CI is deterministic and cheap.
``HANDOVER_FUZZ=long`` (`make fuzz`, part of `make bench`) runs 2,000 random examples per property, to look for
new crashes; ``HANDOVER_FUZZ_EXAMPLES=N`` sets the count directly. A crash found is fixed and its input kept as an
``@example``, so the short profile replays it for ever.
"""

from __future__ import annotations

import os
import zipfile
from io import BytesIO
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def _examples() -> tuple[int, bool]:
    if os.environ.get("HANDOVER_FUZZ_EXAMPLES"):
        return int(os.environ["HANDOVER_FUZZ_EXAMPLES"]), False
    if os.environ.get("HANDOVER_FUZZ") == "long":
        return 2000, False
    return 30, True


def fuzz_settings(scale: float = 1.0) -> settings:
    """The settings of a parser property; ``scale`` shrinks the count for a parser that is slow per call."""
    count, derandomize = _examples()
    return settings(
        max_examples=max(5, int(count * scale)),
        derandomize=derandomize,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


_ENCODINGS = ("gb18030", "utf-16", "utf-16-le", "latin-1", "utf-8-sig")


def _reencode(seed: bytes, encoding: str) -> bytes:
    for source in ("utf-8-sig", "gb18030"):
        try:
            text = seed.decode(source)
        except UnicodeDecodeError:
            continue
        return text.encode(encoding, errors="replace")
    return seed


@st.composite
def mutated(draw: Any, seed: bytes) -> bytes:
    """A structured mutation of ``seed``: cut short, bytes flipped, inserted or removed, a slice repeated,
    the whole re-encoded (GB18030, UTF-16…), or huge / formula-like text spliced in."""
    n = len(seed)
    kind = draw(
        st.sampled_from(("truncate", "flip", "insert", "delete", "repeat", "encode", "splice", "same"))
    )
    at = draw(st.integers(0, n))
    if kind == "truncate":
        return seed[:at]
    if kind == "flip" and n:
        data = bytearray(seed)
        for pos in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)):
            data[pos] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "insert":
        return seed[:at] + draw(st.binary(min_size=1, max_size=64)) + seed[at:]
    if kind == "delete":
        return seed[:at] + seed[at + draw(st.integers(1, 64)) :]
    if kind == "repeat":
        end = draw(st.integers(at, min(n, at + 200)))
        return seed[:end] + seed[at:end] * draw(st.integers(1, 50)) + seed[end:]
    if kind == "encode":
        return _reencode(seed, draw(st.sampled_from(_ENCODINGS)))
    if kind == "splice":
        piece = draw(
            st.sampled_from(
                (
                    '=HYPERLINK("http://x","y")',
                    "=1+1",
                    "@SUM(A1)",
                    "-2+3",
                    '"',
                    "\x00",
                    "\r",
                    "\n\n",
                    "，",
                    "x" * 70_000,
                )
            )
        )
        return seed[:at] + piece.encode() + seed[at:]
    return seed


@st.composite
def mutated_zip(draw: Any, seed: bytes) -> bytes:
    """A mutation of a zip (xlsx, bundle): of its bytes, or of one member's content, rewritten validly."""
    if draw(st.booleans()):
        return draw(mutated(seed))
    with zipfile.ZipFile(BytesIO(seed)) as source:
        members = [(info, source.read(info.filename)) for info in source.infolist()]
    pick = draw(st.integers(0, len(members) - 1))
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for index, (info, content) in enumerate(members):
            if index == pick:
                if draw(st.booleans()):
                    continue  # a member missing
                content = draw(mutated(content))
            target.writestr(info.filename, content)
    return out.getvalue()


def zip_bomb(name: str, size: int) -> bytes:
    """A zip whose member ``name`` inflates ``size`` zero bytes from a few KB."""
    out = BytesIO()
    archive = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED)
    with archive, archive.open(name, "w", force_zip64=True) as member:
        chunk = b"\x00" * (1 << 20)
        for _ in range(size >> 20):
            member.write(chunk)
    return out.getvalue()


def damaged_deflate(xlsx: bytes, member: str) -> bytes:
    """``xlsx`` with the deflate stream of ``member`` starting with an invalid block type (zlib.error)."""
    data = bytearray(xlsx)
    with zipfile.ZipFile(BytesIO(xlsx)) as archive:
        info = archive.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start] = 0xFF  # BFINAL=1, BTYPE=11: reserved
    return bytes(data)


def unknown_zip_version(xlsx: bytes, member: str) -> bytes:
    """``xlsx`` whose central directory says ``member`` needs zip version 8.4 (zipfile: NotImplementedError)."""
    data = bytearray(xlsx)
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0 and data[at + 46 : at + 46 + len(name)] != name:
        at = data.find(b"PK\x01\x02", at + 4)
    data[at + 6] = 84  # "version needed to extract"
    return bytes(data)
