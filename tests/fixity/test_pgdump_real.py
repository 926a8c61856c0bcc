"""pg_dump archives made by the real pg_dump, read by the agent and by the real ``pg_restore -l``.

The interop review (2026-12, §3) found tables of contents that pg_restore refused and the agent passed: its
integer reader did not read a number into a C int as pg_restore does. Here the TOC of a real ``-Fc`` dump is
damaged at sampled integers (sign byte set, top byte flipped, both: the review's ``01 | 01 00 ff ff``) and
at sampled single bytes, and every copy that ``pg_restore -l`` refuses must be a finding of the agent.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import BinaryIO

import pytest

from handover.fixity import pgdump
from handover.fixity.readable import check_readable
from tests.connectors.pg_cluster import pg_cluster

FIXTURE = """
CREATE TABLE clients (id int PRIMARY KEY, name text, opened date);
INSERT INTO clients SELECT g, '客户' || g, date '2020-01-01' + g FROM generate_series(1, 500) g;
CREATE INDEX clients_name ON clients (name);
CREATE VIEW recent AS SELECT * FROM clients WHERE opened > date '2021-01-01';
COMMENT ON TABLE clients IS '清算客户';
"""
FORMATS = {"clients.pgdump": ["-Fc"], "clients-z0.dump": ["-Fc", "-Z0"], "clients.tar": ["-Ft"],
           "clients.sql": ["-Fp"]}  # fmt: skip


def _binary(name: str) -> str:
    from handover.core import pgcluster

    try:
        return pgcluster.binary(name)
    except RuntimeError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder with the same database dumped by the real pg_dump in its four formats."""
    folder = tmp_path_factory.mktemp("pgdumps")
    pg_dump = _binary("pg_dump")
    with pg_cluster("not-a-secret", FIXTURE) as cluster:
        for name, args in FORMATS.items():
            subprocess.run(
                [pg_dump, "-h", str(cluster.root), "-p", str(cluster.port), "-U", "gatherer", "-d",
                 "postgres", *args, "-f", str(folder / name)],
                check=True, capture_output=True,
            )  # fmt: skip
    return folder


def test_real_dumps_in_every_format_read(dumps: Path) -> None:
    report = check_readable(str(dumps))
    assert report.ok, report.problems
    assert report.extra["types"] == {"pgdump": 2, "tar": 1, "text": 1}


class _Recording(pgdump._Reader):
    """Notes where each integer of the table of contents starts."""

    def __init__(self, raw: BinaryIO, size: int) -> None:
        super().__init__(raw, size)
        self.starts: list[int] = []

    def integer(self) -> int:
        self.starts.append(self.raw.tell())
        return super().integer()


def _toc_integers(path: Path) -> list[int]:
    data = path.read_bytes()
    with path.open("rb") as raw:
        reader = _Recording(raw, len(data))
        version, _ = pgdump._header(reader, {})
        reader.starts = []
        pgdump._toc(reader, version, {})
    return reader.starts


def _mutants(path: Path) -> list[tuple[str, bytes]]:
    data = path.read_bytes()
    rng = random.Random(18)
    integers = _toc_integers(path)
    mutants: list[tuple[str, bytes]] = []
    for at in sorted(rng.sample(integers, 40)):
        top = at + 4  # the sign byte, then four bytes little-endian
        for label, changes in (("sign 1", {at: 1}), ("top ^ff", {top: data[top] ^ 0xFF}),
                               ("sign 1, top ^ff", {at: 1, top: data[top] ^ 0xFF})):  # fmt: skip
            mutant = bytearray(data)
            for offset, value in changes.items():
                mutant[offset] = value
            mutants.append((f"integer at {at}: {label}", bytes(mutant)))
    for at in sorted(rng.sample(range(integers[-1] + 5), 60)):
        mutant = bytearray(data)
        mutant[at] ^= 0xFF
        mutants.append((f"byte {at} ^ff", bytes(mutant)))
    return mutants


def test_every_toc_pg_restore_refuses_is_a_finding(dumps: Path, tmp_path: Path) -> None:
    pg_restore = _binary("pg_restore")
    refused, passed = 0, []
    for label, mutant in _mutants(dumps / "clients.pgdump"):
        copy = tmp_path / "mutant.pgdump"
        copy.write_bytes(mutant)
        if subprocess.run([pg_restore, "-l", str(copy)], capture_output=True).returncode == 0:
            continue
        refused += 1
        if not pgdump.check_pgdump(bytes(copy), len(mutant))[0]:
            passed.append(label)
    assert refused > 50  # the sample does reach pg_restore's checks
    assert passed == []


def test_a_length_past_the_end_is_refused_without_reading_it(dumps: Path, tmp_path: Path) -> None:
    """A TOC string length damaged to nearly 2 GiB: the reader says where, before it reads."""
    data = bytearray((dumps / "clients.pgdump").read_bytes())
    at = _toc_integers(dumps / "clients.pgdump")[3]  # the first entry's tableoid length
    data[at : at + 5] = b"\x00\xf0\xff\xff\x7f"
    copy = tmp_path / "long.pgdump"
    copy.write_bytes(data)
    reasons, _ = pgdump.check_pgdump(bytes(copy), len(data))
    assert reasons and "cut short" in reasons[0]
