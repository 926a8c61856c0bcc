"""The Linux connector offline: a folder or tar laid out like a host's root (issue 14)."""

from __future__ import annotations

import json
import subprocess
import tarfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handover.connectors import linux
from handover.connectors.errors import ParseError
from handover.connectors.linux import sudoers as sudo
from handover.connectors.linux.inventory import build
from handover.connectors.linux.source import Source
from handover.connectors.manifest import REGISTRY
from handover.connectors.model import PasswordState
from tests.connectors import linux_hosts


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    return linux_hosts.hosts(tmp_path_factory.mktemp("keys"), "pw")


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    linux_hosts.write(tmp_path, files)
    return tmp_path


def _inv(files: dict[str, bytes]):  # type: ignore[no-untyped-def]
    return build(Source(dict(files), label="t"), target="t")


def test_manifest_is_registered() -> None:
    m = REGISTRY["linux"]
    assert (m.label_zh, m.default_port, m.offline_kinds) == ("Linux 主机", 22, ("linux",))
    assert m.parse is linux.parse and m.gather is linux.gather


def test_second_uid_0_with_nologin_is_a_superuser(files, tmp_path) -> None:
    inv = linux.parse(_folder(tmp_path, files["alpha"]))
    toor = inv.account("toor")
    assert toor is not None and toor.superuser and toor.login_allowed is False
    assert toor.privileges[0].name == "uid 0" and toor.privileges[0].evidence.line == 6


def test_sudo_rights_through_group_alias_gid_and_includedir(files) -> None:
    inv = _inv(files["alpha"])
    via = {
        a.name: {(p.name, p.via, p.superuser, p.nopasswd, p.negated) for p in a.privileges}
        for a in inv.accounts
    }
    assert ("ALL", "group:wheel", True, False, False) in via["alice"]
    assert ("ALL", "alias:ADMINS", True, True, False) in via["bob"]
    assert ("/usr/bin/passwd root", "alias:ADMINS", False, True, True) in via["bob"]
    assert ("ALL", "group:ops,alias:ADMINS", True, True, False) in via["erin"]  # %#1010 inside User_Alias
    assert ("/usr/local/bin/backup.sh", "user", False, True, False) in via["batch"]  # from #includedir
    assert ("/bin/sh", "user", True, False, False) in via["dave"]  # a root shell via Cmnd_Alias
    assert ("/usr/bin/psql", "user", False, False, False) in via["dave"]  # as postgres only
    assert ("group docker", "group:docker", True, False, False) in via["frank"]
    assert ("/usr/bin/docker", "group:docker", False, False, False) in via["frank"]
    assert ("/usr/bin/rsync -a", "user", False, False, False) in via["batch"]  # through Cmnd_Alias BK
    # skipped.conf has a '.' in its name: sudo skips it in an includedir, so carol gets nothing from it.
    assert not any(p.nopasswd for p in inv.account("carol").privileges)
    assert "/etc/sudoers.d/skipped.conf" not in {s.name for s in inv.sources}
    assert ("sudoers.Defaults", "Defaults env_reset (/etc/sudoers:1)") in inv.settings


def test_password_states(files) -> None:
    inv = _inv(files["gamma"])
    state = {a.name: a.password_state for a in inv.accounts}
    assert state["empty"] is PasswordState.EMPTY
    assert state["star"] is PasswordState.DISABLED
    assert state["locked"] is PasswordState.LOCKED and inv.account("locked").locked
    assert state["neverset"] is PasswordState.DISABLED
    assert ("password_never_set", "yes") in inv.account("neverset").attributes
    assert inv.account("expired").account_expires == date(2023, 5, 23)
    assert inv.account("expired").login_allowed is False
    aging = inv.account("aging")
    assert (aging.password_max_days, aging.password_expires) == (90, date(2022, 4, 8))
    assert ("inactive_days", "30") in aging.attributes and ("min_days", "1") in aging.attributes
    assert inv.account("star").password_max_days is None and inv.account("star").password_policy_known
    assert ("must_change_password", "yes") in inv.account("mustchange").attributes
    assert state["inpasswd"] is PasswordState.SET
    assert "$1$" not in inv.account("inpasswd").evidence[0].raw
    assert inv.account("empty").uid == inv.account("dupe").uid == "3000"


def test_no_verifier_in_any_evidence_and_shadow_sealed(files) -> None:
    inv = _inv(files["alpha"])
    texts = json.dumps(
        [str(a.evidence) + str(a.privileges) for a in inv.accounts] + [str(g) for g in inv.groups]
    )
    assert "$6$" not in texts and "<verifier>" in texts
    sources = {s.name: s for s in inv.sources}
    assert sources["/etc/shadow"].sealed and sources["/etc/gshadow"].sealed and sources["/etc/shadow"].backup
    assert sources["/etc/passwd"].backup and not sources["/etc/passwd"].sealed
    assert sources["/etc/sudoers.d/10-batch"].backup
    assert sources["/etc/shadow"].content == files["alpha"]["etc/shadow"]
    assert "$6$" not in repr(sources["/etc/shadow"])


def test_keys_from_every_authorized_keys_file_with_ssh_keygen_fingerprints(files, tmp_path) -> None:
    root = _folder(tmp_path, files["beta"])
    inv = linux.parse(root)
    keys = {a.name: a.keys for a in inv.accounts}
    assert [k.file for k in keys["bob"]] == ["/home/bob/.ssh/authorized_keys2"]
    assert keys["bob"][0].options == ('from="10.1.2.3,10.1.2.4"', "no-agent-forwarding")
    assert (
        keys["svc"][0].file == "/etc/ssh/keys/svc"
        and keys["svc"][0].options[0] == 'command="/usr/bin/rsync --server"'
    )
    assert len(keys["ops"]) == 2 and keys["alice"][0].comment == "alice@laptop"
    assert any("not a key" in w for w in inv.warnings)
    for account in inv.accounts:
        for key in account.keys:
            out = subprocess.run(
                ["ssh-keygen", "-lf", "-"], input=key.evidence.raw, capture_output=True, text=True
            )
            assert out.stdout.split()[1] == key.fingerprint, key


def test_ops_runas_alias_is_not_a_superuser_and_lxd_is(files) -> None:
    inv = _inv(files["beta"])
    ops = inv.account("ops")
    assert ("ALL", False) in {(p.name, p.superuser) for p in ops.privileges if p.name == "ALL"}
    assert ops.superuser  # through lxd
    assert {p.scope for p in ops.privileges if p.name == "ALL"} == {"host=ALL runas=postgres,mysql"}


def test_gbk_gecos_is_read_with_a_warning(files) -> None:
    data = dict(files["alpha"])
    data["etc/passwd"] = data["etc/passwd"].decode().replace("张三", "李四").encode("gbk")
    inv = _inv(data)
    assert inv.account("bob").display_name == "李四"
    assert any("GB18030" in w for w in inv.warnings)


def test_sudoers_syntax_error_names_file_and_line(files) -> None:
    data = dict(files["alpha"])
    data["etc/sudoers.d/10-batch"] = b"batch ALL=(ALL) NOPASSWD: /bin/ok\nbatch ALL = (root) NOTATAG: ls\n"
    with pytest.raises(ParseError) as caught:
        _inv(data)
    assert (caught.value.source, caught.value.line) == ("/etc/sudoers.d/10-batch", 2)
    assert "NOTATAG" in caught.value.reason_en and caught.value.reason_zh


@pytest.mark.parametrize(
    "bad", [b"root ALL ALL\n", b"User_Alias lower = x\n", b"alice ALL = (root NOPASSWD: ALL\n"]
)
def test_more_sudoers_syntax_errors(files, bad) -> None:
    data = dict(files["alpha"], **{"etc/sudoers": b"Defaults env_reset\n" + bad})
    with pytest.raises(ParseError) as caught:
        _inv(data)
    assert caught.value.line == 2


def test_truncated_shadow_is_an_outcome_naming_the_line(files) -> None:
    data = dict(files["gamma"])
    data["etc/shadow"] = data["etc/shadow"][:-20]
    with pytest.raises(ParseError) as caught:
        _inv(data)
    assert caught.value.source == "/etc/shadow" and caught.value.line == 14
    assert "cut off" in caught.value.reason_en and "截断" in caught.value.reason_zh
    assert "$6$" not in str(caught.value)


def test_non_numeric_uid_and_missing_passwd(files, tmp_path) -> None:
    data = dict(files["gamma"])
    data["etc/passwd"] += b"evil:x:abc:0::/:/bin/sh\n"
    with pytest.raises(ParseError, match="etc/passwd:15"):
        _inv(data)
    with pytest.raises(ParseError, match="missing"):
        _inv({"etc/group": b"root:x:0:\n"})


def test_tar_and_folder_give_the_same_inventory(files, tmp_path) -> None:
    root = _folder(tmp_path / "root", files["beta"])
    archive = tmp_path / "beta.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="collected")
    from_folder, from_tar = linux.parse(root), linux.parse(archive)
    assert from_tar.accounts == from_folder.accounts and from_tar.sources == from_folder.sources


def test_a_file_that_is_neither_folder_nor_tar(tmp_path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ParseError, match="neither"):
        linux.parse(tmp_path / "x.txt")


def _rules(files: dict[str, bytes]) -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]]:
    """Our parse of sudoers, one row per rule: users, runas users, commands, NOPASSWD."""
    parsed = sudo.parse(
        "/etc/sudoers", lambda p: files.get(p.lstrip("/")),
        lambda d: sorted(n for n in files if n.startswith(d.lstrip("/") + "/")), lambda p, b: b.decode(),
    )  # fmt: skip
    rows = []
    for rule in parsed.rules:
        for command in rule.commands:
            users = tuple(("!" if u.negated else "") + u.text for u in rule.users)
            runas = tuple(("!" if r.negated else "") + r.text for r in (command.runas_users or ()))
            rows.append(
                (users, runas, (("!" if command.item.negated else "") + command.item.text,), command.nopasswd)
            )
    return rows


def _cvtsudoers_rules(folder: Path) -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]]:
    text = subprocess.run(
        ["cvtsudoers", "-f", "json", "-l", "/dev/null", str(folder / "etc/sudoers")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    data = json.loads(text)

    def name(entry: dict) -> str:  # type: ignore[type-arg]
        neg = "!" if entry.get("negated") else ""
        for key, prefix in (("username", ""), ("usergroup", "%"), ("userid", "#"), ("usergid", "%#"),
                            ("useralias", ""), ("runasalias", ""), ("command", ""), ("cmndalias", "")):  # fmt: skip
            if key in entry:
                value = entry[key]
                if isinstance(value, dict):
                    return neg + value.get("command", "") + (" " + value["args"] if value.get("args") else "")
                return neg + prefix + str(value)
        return neg + "?"

    rows = []
    for spec in data.get("User_Specs", []):
        users = tuple(name(u) for u in spec["User_List"])
        for cmnd in spec["Cmnd_Specs"]:
            runas = tuple(name(r) for r in cmnd.get("runasusers", []))
            nopasswd = any(o.get("authenticate") is False for o in cmnd.get("Options", []))
            for command in cmnd["Commands"]:
                rows.append((users, runas, (name(command),), nopasswd))
    return rows


@pytest.mark.parametrize("host", ["alpha", "beta", "gamma"])
def test_our_sudoers_parse_matches_cvtsudoers(files, tmp_path, host) -> None:
    """Debian's cvtsudoers reads the same files the same way (includes resolved against the fixture root)."""
    data = {k: v for k, v in files[host].items() if k.startswith("etc/sudoers")}
    root = tmp_path / "r"
    linux_hosts.write(root, data)
    # cvtsudoers resolves includes on the real /etc: point them at the fixture copy.
    sudoers = (
        (root / "etc/sudoers")
        .read_bytes()
        .replace(b" /etc/sudoers.d", b" " + str(root / "etc/sudoers.d").encode())
    )
    (root / "etc/sudoers").chmod(0o640)
    (root / "etc/sudoers").write_bytes(sudoers)
    theirs = sorted(_cvtsudoers_rules(root))
    ours = sorted(_rules(data))
    assert ours == theirs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_reordering_lines_never_changes_accounts_or_privileges(files, rnd) -> None:
    base = _inv(files["alpha"])
    shuffled = dict(files["alpha"])
    for name in ("etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/sudoers.d/10-batch"):
        lines = shuffled[name].decode().splitlines()
        rnd.shuffle(lines)
        shuffled[name] = ("\n".join(lines) + "\n").encode()
    inv = _inv(shuffled)

    def facts(i):  # type: ignore[no-untyped-def]
        return {
            (a.name, a.uid, a.superuser, frozenset(a.groups[1:]), a.groups[0],
             frozenset((p.name, p.scope, p.via, p.nopasswd, p.negated, p.superuser) for p in a.privileges))
            for a in i.accounts
        }  # fmt: skip

    assert facts(inv) == facts(base)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=st.sampled_from(["alpha", "beta", "gamma"]), which=st.integers(0, 100), cut=st.floats(0, 1))
def test_any_truncated_file_is_an_outcome_never_a_crash(files, host, which, cut) -> None:
    """A file cut anywhere (a copy interrupted, a full disk) gives an inventory or a ParseError naming it."""
    data = dict(files[host])
    name = sorted(data)[which % len(data)]
    data[name] = data[name][: int(len(data[name]) * cut)]
    try:
        inv = _inv(data)
    except ParseError as exc:
        assert exc.source.startswith("/") and exc.reason_zh
    else:
        assert inv.accounts or name == "etc/passwd"


GARBAGE_TARGETS = [
    "etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/sudoers", "etc/ssh/sshd_config",
    "home/alice/.ssh/authorized_keys", "etc/cron.d/x", "etc/systemd/system/x.service", "handover/lastlog.txt",
    "handover/wtmp.txt", "handover/faillock.txt", "handover/sshd-T.txt",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(GARBAGE_TARGETS),
    blob=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
)
def test_garbage_in_any_file_is_a_parse_error_or_facts_never_a_crash(files, name, blob) -> None:
    data = dict(files["beta"])
    data[name] = blob
    try:
        _inv(data)
    except ParseError as exc:
        assert exc.source == "/" + name and exc.reason_zh


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_stream_is_refused_never_a_crash(blob) -> None:
    from handover.connectors.linux import from_stream

    try:
        from_stream(b"==> HANDOVER FILE b64 etc/passwd\n" + blob + b"\n==> HANDOVER DONE\n", label="h:22")
    except ParseError as exc:
        assert exc.source == "h:22"


def test_a_tar_cannot_reach_outside_its_root_or_follow_links(files, tmp_path) -> None:
    import io

    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        for name, data in (
            ("../../etc/passwd", files["gamma"]["etc/passwd"]),
            ("etc/shadow", b"root:*:1:0:1:1:::\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("etc/sudoers")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/sudoers"  # the machine's own sudoers
        tar.addfile(link)
    inv = linux.parse(archive)
    assert inv.account("empty") is not None  # ../../etc/passwd is read as etc/passwd, inside the root
    assert "/etc/sudoers" not in {s.name for s in inv.sources}  # a link is not followed
