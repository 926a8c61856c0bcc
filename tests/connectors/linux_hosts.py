"""Fixture hosts for the Linux connector: each a dict of files laid out like a root, with the edge cases
the issue names (second uid 0 with nologin, %wheel, User_Alias, #includedir, authorized_keys2, from=/command=
keys, locked vs empty vs '*' vs '!!', expired, GBK GECOS) spread over three hosts with distinct accounts."""

from __future__ import annotations

import subprocess
from pathlib import Path

# A SHA-512 crypt of "gather-pw", made once with `openssl passwd -6 -salt handover gather-pw`.
ROOT_HASH = "$6$handover$" + "x"  # replaced at build time by the real hash (see root_hash())
BASE_PASSWD = [
    "root:x:0:0:root:/root:/bin/bash",
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
    "bin:x:2:2:bin:/bin:/usr/sbin/nologin",
    "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
]
BASE_GROUP = ["root:x:0:", "daemon:x:1:", "bin:x:2:", "nogroup:x:65534:"]


def root_hash(password: str) -> str:
    out = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", "handoverfixture", "-stdin"],
        input=password, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def keypair(folder: Path, name: str, comment: str) -> str:
    """A fresh ed25519 public key line (the private half stays in ``folder``)."""
    path = folder / name
    if not path.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
        )
    return (folder / (name + ".pub")).read_text().strip()


def shadow_line(name: str, verifier: str, rest: str = "19000:0:99999:7:::") -> str:
    return f"{name}:{verifier}:{rest}"


def hosts(keys: Path, password: str) -> dict[str, dict[str, bytes]]:
    """Three hosts: ``alpha`` (sudo and uid edge cases), ``beta`` (keys), ``gamma`` (password states)."""
    root = root_hash(password)
    k = {n: keypair(keys, n, c) for n, c in (
        ("alice", "alice@laptop"), ("bob", "zhangsan@corp"), ("ops", "ops-batch"), ("old", "wangwu@old"),
        ("root", "root@jump"),
    )}  # fmt: skip
    base_shadow = [
        shadow_line("root", root, "20000:0:99999:7:::"),
        *(shadow_line(n, "*") for n in ("daemon", "bin", "sshd", "nobody")),
    ]
    sshd_config = (
        "PermitRootLogin yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\nLogLevel DEBUG3\n"
        "AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 /etc/ssh/keys/%u\n"
    )
    alpha = {
        "etc/passwd": [
            *BASE_PASSWD,
            "toor:x:0:0:second root:/root:/usr/sbin/nologin",  # 第二十二条: a second uid 0, hidden by nologin
            "alice:x:1000:1000:Alice Admin,,,:/home/alice:/bin/bash",
            "bob:x:1001:1001:张三,,,:/home/bob:/bin/bash",
            "carol:x:1002:1002:Carol:/home/carol:/bin/bash",
            "dave:x:1003:1003:Dave:/home/dave:/bin/sh",
            "erin:x:1004:1004:Erin:/home/erin:/bin/bash",
            "frank:x:1005:1005:Frank:/home/frank:/bin/bash",
            "batch:x:1006:1006:batch jobs:/home/batch:/bin/bash",
            "gather:x:1007:1007:collector:/home/gather:/bin/bash",
        ],
        "etc/shadow": [
            *base_shadow,
            shadow_line("toor", "*"),
            shadow_line("alice", "$6$a$b"),
            shadow_line("bob", "$6$a$b"),
            shadow_line("carol", "$6$a$b"),
            shadow_line("dave", "$6$a$b"),
            shadow_line("erin", "$6$a$b"),
            shadow_line("frank", "$6$a$b"),
            shadow_line("batch", "$6$a$b"),
            shadow_line("gather", root),
        ],
        "etc/group": [
            *BASE_GROUP,
            "wheel:x:10:alice,carol",
            "docker:x:998:frank",
            "alice:x:1000:",
            "bob:x:1001:",
            "carol:x:1002:",
            "dave:x:1003:",
            "erin:x:1004:",
            "frank:x:1005:",
            "batch:x:1006:",
            "gather:x:1007:",
            "ops:x:1010:erin",
        ],
        "etc/gshadow": ["root:*::", "wheel:!:alice:alice,carol", "docker:!::frank", "ops:!:dave:erin"],
        "etc/sudoers": [
            "Defaults env_reset",
            "Defaults:dave !requiretty",
            "User_Alias ADMINS = bob, \\",
            "    %#1010",
            "Cmnd_Alias SHELLS = /bin/sh, /bin/bash",
            "root ALL=(ALL:ALL) ALL",
            "%wheel ALL=(ALL) ALL",
            "ADMINS ALL = (root) NOPASSWD: ALL, !/usr/bin/passwd root",
            "dave ALL=(postgres) /usr/bin/psql, (root) SHELLS",
            "gather ALL=(root) NOPASSWD: ALL",
            "#includedir /etc/sudoers.d",
        ],
        "etc/sudoers.d/10-batch": [
            "batch ALL=(ALL) NOPASSWD: /usr/local/bin/backup.sh # a job",
            "Cmnd_Alias BK = /usr/bin/rsync -a, /usr/bin/tar",
            "batch ALL=(root) BK",
            "%docker ALL=(ALL) /usr/bin/docker",
        ],
        "etc/sudoers.d/skipped.conf": ["carol ALL=(ALL) NOPASSWD: ALL"],  # has a '.': sudo skips it
        "etc/ssh/sshd_config": sshd_config.splitlines(),
        "etc/cron.d/backup": [
            "SHELL=/bin/sh",
            "30 2 * * * root /usr/local/bin/backup.sh",
            "@reboot batch /bin/true",
        ],
        "etc/systemd/system/quote.service": [
            "[Unit]",
            "Description=quotes",
            "[Service]",
            "ExecStart=/opt/q/run",
        ],
        "etc/systemd/system/feed.service": ["[Service]", "User=batch", "ExecStart=/opt/feed/run --all"],
        "root/.ssh/authorized_keys": [k["root"]],
    }
    beta = {
        "etc/passwd": [
            *BASE_PASSWD,
            "alice:x:2000:2000:Alice:/home/alice:/bin/bash",
            "bob:x:2001:2001:Bob:/home/bob:/bin/bash",
            "ops:x:2002:2002:shared ops:/home/ops:/bin/bash",
            "old:x:2003:2003:Wang Wu:/home/old:/bin/bash",
            "svc:x:2004:2004:svc:/srv/svc:/usr/sbin/nologin",
        ],
        "etc/shadow": [
            *base_shadow,
            *(shadow_line(n, "$6$a$b") for n in ("alice", "bob", "ops", "old", "svc")),
        ],
        "etc/group": [
            *BASE_GROUP,
            "sudo:x:27:alice",
            "lxd:x:997:ops",
            "alice:x:2000:",
            "bob:x:2001:",
            "ops:x:2002:",
            "old:x:2003:",
            "svc:x:2004:",
        ],
        "etc/gshadow": ["root:*::", "sudo:!::alice"],
        "etc/sudoers": ["root ALL=(ALL:ALL) ALL", "%sudo ALL=(ALL:ALL) ALL", "@includedir /etc/sudoers.d"],
        "etc/sudoers.d/ops": ["Runas_Alias DBA = postgres, mysql", "ops ALL = (DBA) NOPASSWD: ALL"],
        "etc/ssh/sshd_config": sshd_config.splitlines(),
        "etc/ssh/keys/svc": ['command="/usr/bin/rsync --server",no-pty,no-port-forwarding ' + k["ops"]],
        "home/alice/.ssh/authorized_keys": [k["alice"], "# a comment", "", "not-a-key AAAA"],
        "home/bob/.ssh/authorized_keys2": ['from="10.1.2.3,10.1.2.4",no-agent-forwarding ' + k["bob"]],
        "home/ops/.ssh/authorized_keys": [k["ops"], k["alice"]],
        "home/old/.ssh/authorized_keys": [k["old"]],
        "root/.ssh/authorized_keys": [k["root"], 'restrict,command="echo hi" ' + k["bob"]],
    }
    gamma = {
        "etc/passwd": [
            *BASE_PASSWD,
            "empty:x:3000:3000:empty password:/home/empty:/bin/bash",
            "star:x:3001:3001:star:/home/star:/bin/bash",
            "locked:x:3002:3002:locked:/home/locked:/bin/bash",
            "neverset:x:3003:3003:never set:/home/neverset:/bin/bash",
            "expired:x:3004:3004:expired:/home/expired:/bin/bash",
            "aging:x:3005:3005:aging:/home/aging:/bin/bash",
            "mustchange:x:3006:3006:must change:/home/mustchange:/bin/bash",
            "inpasswd:$1$legacy$hash:3007:3007:hash in passwd:/home/inpasswd:/bin/bash",
            "dupe:x:3000:3000:same uid as empty:/home/dupe:/bin/bash",
        ],
        "etc/shadow": [
            *base_shadow,
            shadow_line("empty", ""),
            shadow_line("star", "*"),
            shadow_line("locked", "!$6$a$b"),
            shadow_line("neverset", "!!"),
            shadow_line("expired", "$6$a$b", "19000:0:99999:7::19500:"),
            shadow_line("aging", "$6$a$b", "19000:1:90:7:30::"),
            shadow_line("mustchange", "$6$a$b", "0:0:99999:7:::"),
            shadow_line("inpasswd", "x"),
            shadow_line("dupe", "$6$a$b"),
        ],
        "etc/group": [*BASE_GROUP, "disk:x:6:aging", "empty:x:3000:"],
        "etc/gshadow": ["root:*::", "disk:!::aging"],
        "etc/sudoers": ["root ALL=(ALL:ALL) ALL", "%disk ALL=(:ALL) /bin/dd"],
        "etc/ssh/sshd_config": sshd_config.splitlines(),
    }
    out = {}
    for name, files in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        out[name] = {path: ("\n".join(lines) + "\n").encode() for path, lines in files.items()}
    return out


def write(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    # Modes as on a real host, whatever the umask of the test run (pytest's folders are 0700).
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    for name in ("etc/shadow", "etc/gshadow"):
        if name in files:
            (root / name).chmod(0o640)
    for path in files:
        if path.startswith("etc/sudoers"):
            (root / path).chmod(0o440)
