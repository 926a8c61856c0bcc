"""Trees for the fixity tests: a clean backup tree with one file of every checked type, and the faults."""

from __future__ import annotations

import functools
import gzip
import io
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path

import psycopg

from handover.core import pgcluster

DBF_FIELDS = (("NAME", "C", 20), ("AMOUNT", "N", 12), ("DAY", "D", 8))


def dbf_bytes(rows: list[tuple[str, float, str]], *, header_records: int | None = None) -> bytes:
    """A dBase III file as the exchanges write them; ``header_records`` makes the header lie."""
    header_len = 32 + 32 * len(DBF_FIELDS) + 1
    record_len = 1 + sum(length for _, _, length in DBF_FIELDS)
    count = len(rows) if header_records is None else header_records
    out = bytearray(struct.pack("<BBBBIHH20x", 0x03, 124, 10, 8, count, header_len, record_len))
    for name, kind, length in DBF_FIELDS:
        out += name.encode().ljust(11, b"\0") + kind.encode() + b"\0" * 4 + bytes([length, 0]) + b"\0" * 14
    out += b"\r"
    for name, amount, day in rows:
        out += b" " + name.encode("gbk").ljust(20) + f"{amount:>12.2f}".encode() + day.encode()
    return bytes(out + b"\x1a")


DBF_ROWS = [
    ("上海证券账户", 1024.5, "20241008"),
    ("深圳证券账户", 3.25, "20241008"),
    ("客户资金", 0.0, "        "),
]


def tar_gz_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sqlite_file(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO t (name) VALUES (?)", [(f"客户{i}" * 20,) for i in range(400)])
    conn.commit()
    conn.close()


@functools.cache
def pg_custom_dump() -> bytes:
    """A real ``pg_dump -Fc`` of a small database with data, from Debian's PostgreSQL (installed by make test).

    The postgres pass reuses its throwaway cluster; the SQLite pass starts one of its own.
    """
    url = os.environ.get("HANDOVER_DATABASE_URL", "") or pgcluster.start()
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS fixity_dump")
        conn.execute("CREATE DATABASE fixity_dump")
    with psycopg.connect(f"{server}/fixity_dump", autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, account text, amount numeric(14, 2))")
        conn.execute("INSERT INTO ledger SELECT g, '账户' || g, g * 1.5 FROM generate_series(1, 3000) g")
        conn.execute("CREATE TABLE clients (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO clients SELECT g, repeat('客户', 10) || g FROM generate_series(1, 500) g")
    done = subprocess.run(
        [pgcluster.binary("pg_dump"), "-Fc", "-d", f"{server}/fixity_dump"], capture_output=True, check=True
    )
    return done.stdout


def clean_tree(root: Path) -> Path:
    """One good file of every type the readability check opens, plus plain data files."""
    payload = b"".join(b"%06d,trade,100.00\n" % i for i in range(2000))
    files = {
        "counter/20241008/clearing.dbf": dbf_bytes(DBF_ROWS),
        "counter/20241008/trades.csv": "账号,名称,金额\n1,张三,1.00\n2,李四,2.50\n".encode("gbk"),
        "counter/20241008/notes.txt": "交接日备份说明\n".encode(),
        "counter/20241008/db.tar.gz": tar_gz_bytes({"a.sql": payload, "b.sql": payload[::-1]}),
        "counter/20241008/log.gz": gzip.compress(payload),
        "counter/20241008/files.zip": zip_bytes({"a.txt": payload, "b.txt": b"x" * 5000}),
        "counter/20241008/data.bin": bytes(range(256)) * 64,
        "counter/20241008/empty.log": b"",
        "ta/20241008/ledger.dump": pg_custom_dump(),
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    sqlite_file(root / "ta/20241008/ta.sqlite")
    plain = root / "counter/20241008/plain.tar"
    with tarfile.open(plain, "w") as archive:
        archive.add(root / "counter/20241008/notes.txt", arcname="notes.txt")
    return root


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, copy_function=shutil.copy2)
    return dst
