"""A slapd of the test's own: Debian's slapd with a cn=config slapadd'ed in a temporary folder (back_mdb, the
ppolicy overlay), its own loopback port, ``-d stats,acl`` logged (so that a canary can be looked for)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def ssha(password: str, salt: bytes = b"handover") -> str:
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 (what slappasswd writes)
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


CONFIG = """dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {root}/slapd.pid

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/nis.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {suffix}
olcRootDN: {admin}
olcRootPW: {rootpw}
olcDbDirectory: {root}/db
olcDbMaxSize: 10485760
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
"""


@dataclass
class Slapd:
    root: Path
    port: int
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def slapd_server(
    *, suffix: str, admin: str, password: str, data: str, default_policy: str = ""
) -> Iterator[Slapd]:
    """A running slapd (cn=config slapadd'ed, back_mdb, ppolicy) with ``data`` loaded, rootDN ``admin``;
    ``default_policy``, a DN in ``data``, is ppolicy's default policy (a lock is enforced only under a policy)."""
    if not Path("/usr/sbin/slapd").exists() or not shutil.which("slapadd"):
        pytest.skip("OpenLDAP is not installed (Debian: slapd ldap-utils; `make test` installs them)")
    root = Path(tempfile.mkdtemp(prefix="handover-slapd-"))
    (root / "conf").mkdir()
    (root / "db").mkdir()
    config = CONFIG.format(root=root, suffix=suffix, admin=admin, rootpw=ssha(password))
    if default_policy:
        config = config.rstrip("\n") + f"\nolcPPolicyDefault: {default_policy}\n"
    (root / "config.ldif").write_text(config)
    (root / "data.ldif").write_text(data)
    subprocess.run(["slapadd", "-n", "0", "-F", str(root / "conf"), "-l", str(root / "config.ldif")],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["slapadd", "-n", "1", "-F", str(root / "conf"), "-l", str(root / "data.ldif")],
                   check=True, capture_output=True)  # fmt: skip
    port, log = _free_port(), root / "slapd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["/usr/sbin/slapd", "-F", str(root / "conf"), "-h", f"ldap://127.0.0.1:{port}/", "-d", "stats,acl"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                pytest.fail("slapd did not start: " + log.read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        yield Slapd(root, port, log)
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(root, ignore_errors=True)
