"""MySQL 8's caching_sha2_password (issue 15): its stored form computed here against vectors from outside Handover,
and the statement chosen by the server's version and the account's plugin. No MySQL 8 runs here (MariaDB has no
caching_sha2_password): the live rotation tests stay on MariaDB (test_rotation_mariadb.py)."""

from __future__ import annotations

import pytest

from handover.connectors.change import caching_sha2
from handover.connectors.change import mariadb as changer

# An authentication_string a MySQL 8 server stored for `CREATE USER 'foo'@'%' IDENTIFIED BY 'foobar'`, as TiDB
# quotes it (pkg/parser/auth/caching_sha2.go): "$A$005$", 20 raw salt bytes (some unprintable), 43 characters.
FOOBAR = bytes.fromhex(
    "24412430303524031A69251C34295C4B35167C7F1E5A7B63091349503974624D34504B5A424679354856336868686F52485A736E4A"
    "733368786E427575516C73446469496537"
)


@pytest.mark.parametrize(
    ("password", "salt", "rounds", "expected"),
    [  # Ulrich Drepper's SHA-crypt specification, the $5$ test vectors (salt cut to 16 there: given cut here)
        ("Hello world!", b"saltstring", 5000, "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
        ("Hello world!", b"saltstringsaltst", 10000, "3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"),
        ("This is just a test", b"toolongsaltstrin", 5000, "Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"),
    ],
)
def test_the_sha256_crypt_core_matches_drepper(
    password: str, salt: bytes, rounds: int, expected: str
) -> None:
    assert caching_sha2.sha256_crypt_text(password.encode(), salt, rounds) == expected


def test_a_form_mysql_stored_is_recognised() -> None:
    assert caching_sha2.stored_form("foobar", FOOBAR[7:27]) == FOOBAR  # the 20-byte salt used whole
    assert caching_sha2.matches(FOOBAR, "foobar")
    assert not caching_sha2.matches(FOOBAR, "not_foobar") and not caching_sha2.matches(FOOBAR, "Foobar")
    assert caching_sha2.matches(FOOBAR.decode("latin-1"), "foobar")  # as a driver may hand it over
    assert not caching_sha2.matches(changer.native_hash("foobar"), "foobar")


def test_a_fresh_form_is_ascii_and_salted_each_time() -> None:
    one, two = caching_sha2.stored_form("Canary-pw-1"), caching_sha2.stored_form("Canary-pw-1")
    assert one != two and one.startswith(b"$A$005$") and len(one) == 70
    assert one.decode("ascii") and b"Canary" not in one and b"'" not in one and b"\\" not in one
    assert caching_sha2.matches(one, "Canary-pw-1") and caching_sha2.matches(two, "Canary-pw-1")
    with pytest.raises(ValueError):
        caching_sha2.stored_form("x", b"short")


@pytest.mark.parametrize(
    ("version", "plugin", "clause", "form"),
    [
        ("10.11.6-MariaDB-0+deb12u1", "mysql_native_password", "IDENTIFIED BY PASSWORD", "native"),
        ("11.4.2-MariaDB", "", "IDENTIFIED BY PASSWORD", "native"),
        ("5.7.44-log", "mysql_native_password", "IDENTIFIED BY PASSWORD", "native"),
        ("8.0.36", "caching_sha2_password", "IDENTIFIED WITH caching_sha2_password AS", "caching_sha2"),
        (
            "8.4.0-commercial",
            "caching_sha2_password",
            "IDENTIFIED WITH caching_sha2_password AS",
            "caching_sha2",
        ),
        ("8.0.36", "mysql_native_password", "IDENTIFIED WITH mysql_native_password AS", "native"),
        ("9.1.0", "caching_sha2_password", "IDENTIFIED WITH caching_sha2_password AS", "caching_sha2"),
    ],
)
def test_the_statement_follows_the_server_and_the_plugin(
    version: str, plugin: str, clause: str, form: str
) -> None:
    statement, chosen = changer.statement_for(version, plugin)
    assert clause in statement and chosen == form and statement.endswith("%s")  # the verifier is a parameter
