"""Edge cases of the Linux connector's parse, each on a small host built in memory."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handover.connectors.errors import ParseError
from handover.connectors.linux import build, from_stream
from handover.connectors.linux.source import Source
from handover.connectors.model import Inventory, PasswordState

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
    "bob:x:1001:1001:Bob:/home/bob:/bin/bash\n"
)
SHADOW = "root:*:19000:0:99999:7:::\nalice:$6$a$b:19000:0:99999:7:::\nbob:$6$a$b:19000:0:99999:7:::\n"
GROUP = "root:x:0:\nwheel:x:10:alice\nalice:x:1000:\nbob:x:1001:\n"


def _path(word: str) -> str:
    """``home__alice__dot_ssh__authorized_keys`` → ``home/alice/.ssh/authorized_keys`` (kept as is with a '/')."""
    if "/" in word:
        return word
    parts = [p.replace("_dot_", ".") for p in word.split("__")]
    return "/".join("." + p[4:] if p.startswith("dot_") else p.replace("sshd_T", "sshd-T") for p in parts)


def host(**files: str | bytes) -> Inventory:
    base: dict[str, str | bytes] = {"etc/passwd": PASSWD, "etc/shadow": SHADOW, "etc/group": GROUP}
    base.update({_path(k): v for k, v in files.items()})
    data = {k: v.encode() if isinstance(v, str) else v for k, v in base.items()}
    return build(Source(data, label="t"), target="t")


def sudo_of(inventory: Inventory, name: str) -> set[tuple[str, bool, bool]]:
    account = inventory.account(name)
    assert account is not None
    return {
        (p.name, p.superuser, p.nopasswd)
        for p in account.privileges
        if not p.name.startswith(("uid 0", "group "))
    }


def test_include_relative_and_at_include_absolute() -> None:
    inv = host(
        etc__sudoers="#include sudoers.local\n@include /etc/extra/rules\n",
        etc__sudoers_dot_local="alice ALL=(ALL) ALL\n",
        etc__extra__rules="bob ALL=(ALL) NOPASSWD: /bin/ls\n",
    )
    assert ("ALL", True, False) in sudo_of(inv, "alice") and ("/bin/ls", False, True) in sudo_of(inv, "bob")
    assert {"/etc/sudoers.local", "/etc/extra/rules"} <= {s.name for s in inv.sources if s.backup}


def test_missing_include_is_a_warning_and_a_loop_an_error() -> None:
    inv = host(etc__sudoers="@include /etc/nothere\nalice ALL=(ALL) ALL\n")
    assert any("nothere" in w for w in inv.warnings)
    with pytest.raises(ParseError, match="nested too deep"):
        host(etc__sudoers="@include /etc/sudoers\n")


def test_negated_user_last_match_wins() -> None:
    inv = host(etc__sudoers="ALL, !alice ALL=(ALL) ALL\n")
    assert sudo_of(inv, "alice") == set() and ("ALL", True, False) in sudo_of(inv, "bob")
    inv = host(etc__sudoers="!alice, ALL ALL=(ALL) ALL\n")  # ALL comes last and matches alice too
    assert ("ALL", True, False) in sudo_of(inv, "alice")


def test_negated_group_inside_a_user_alias() -> None:
    inv = host(etc__sudoers="User_Alias A = ALL, !%wheel\nA ALL=(ALL) ALL\n")
    assert sudo_of(inv, "alice") == set() and ("ALL", True, False) in sudo_of(inv, "bob")


def test_uid_user_and_host_alias_scope() -> None:
    inv = host(etc__sudoers="Host_Alias DB = db1, db2\n#1001 DB = (root) /bin/cat  # trailing comment\n")
    bob = inv.account("bob")
    assert [(p.name, p.scope, p.via) for p in bob.privileges] == [("/bin/cat", "host=DB runas=root", "user")]


def test_continued_lines_and_tag_carry_over() -> None:
    inv = host(etc__sudoers="alice ALL = (root) NOPASSWD: /bin/a, \\\n   /bin/b, PASSWD: /bin/c\n")
    assert sudo_of(inv, "alice") == {
        ("/bin/a", False, True),
        ("/bin/b", False, True),
        ("/bin/c", False, False),
    }
    assert inv.account("alice").privileges[-1].evidence.line == 1


@pytest.mark.parametrize(
    "rule",
    [
        "alice ALL=(:ALL) ALL",
        "alice ALL=(ALL, !root) ALL",
        "alice ALL=(www-data) ALL",
        "alice ALL=(ALL) !ALL",
    ],
)
def test_all_that_is_not_root(rule: str) -> None:
    assert not any(s for _, s, _ in sudo_of(host(etc__sudoers=rule + "\n"), "alice"))


def test_runas_alias_with_root_and_a_root_shell() -> None:
    inv = host(etc__sudoers="Runas_Alias R = root, operator\nalice ALL=(R) /usr/bin/su, /bin/ls\n")
    assert sudo_of(inv, "alice") == {("/usr/bin/su", True, False), ("/bin/ls", False, False)}


def test_defaults_kept_as_settings_not_rules() -> None:
    inv = host(
        etc__sudoers='Defaults   secure_path="/usr/bin"\nDefaults:alice !authenticate\nDefaults>root !lecture\n'
    )
    assert next(v for k, v in inv.settings if k == "sudoers.Defaults").startswith("Defaults   secure_path")
    assert len([k for k, _ in inv.settings if k == "sudoers.Defaults"]) == 3


def test_gbk_sudoers_comment() -> None:
    inv = host(etc__sudoers="# 运维组\nalice ALL=(ALL) ALL\n".encode("gbk"))
    assert ("ALL", True, False) in sudo_of(inv, "alice") and any("GB18030" in w for w in inv.warnings)


def _key(tmp_path: Path, kind: str = "ed25519") -> str:
    path = tmp_path / f"k-{kind}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "c@d", "-f", str(path)], check=True)
    return (tmp_path / f"k-{kind}.pub").read_text().strip()


def test_key_options_with_quotes_commas_and_spaces(tmp_path) -> None:
    line = 'restrict,from="10.0.0.1,10.0.0.2",command="/bin/echo a, b",environment="A=1" ' + _key(tmp_path)
    inv = host(home__alice__dot_ssh__authorized_keys=line + "\n")
    key = inv.account("alice").keys[0]
    assert key.options == (
        "restrict",
        'from="10.0.0.1,10.0.0.2"',
        'command="/bin/echo a, b"',
        'environment="A=1"',
    )
    assert key.comment == "c@d" and key.algorithm == "ssh-ed25519"


def test_ecdsa_and_rsa_fingerprints_match_ssh_keygen(tmp_path) -> None:
    lines = [_key(tmp_path, "ecdsa"), _key(tmp_path, "rsa")]
    inv = host(home__alice__dot_ssh__authorized_keys="\n".join(lines) + "\n")
    for key, line in zip(inv.account("alice").keys, lines, strict=True):
        out = subprocess.run(
            ["ssh-keygen", "-lf", "-"], input=line, capture_output=True, text=True, check=True
        )
        assert out.stdout.split()[1] == key.fingerprint


def test_broken_keys_are_warnings(tmp_path) -> None:
    good = _key(tmp_path)
    wrong_type = good.replace("ssh-ed25519", "ssh-rsa", 1)
    inv = host(
        home__alice__dot_ssh__authorized_keys=f"ssh-ed25519 !!!notbase64\n{wrong_type}\nno-pty\n{good}\n"
    )
    assert len(inv.account("alice").keys) == 1
    assert sum("not a key" in w for w in inv.warnings) == 3


def test_authorized_keys_file_tokens_and_none(tmp_path) -> None:
    key = _key(tmp_path)
    inv = host(
        etc__ssh__sshd_config="AuthorizedKeysFile /etc/ssh/keys/%u.%%  %h/.ssh/k_%U none\n",
        etc__ssh__keys__alice_dot_x="",
        **{"etc/ssh/keys/bob.%": key + "\n", "home/alice/.ssh/k_1000": key + "\n"},
    )
    assert [k.file for k in inv.account("alice").keys] == ["/home/alice/.ssh/k_1000"]
    assert [k.file for k in inv.account("bob").keys] == ["/etc/ssh/keys/bob.%"]


def test_sshd_config_include_match_and_first_value_wins() -> None:
    inv = host(
        etc__ssh__sshd_config=(
            "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nMatch User bob\n  PasswordAuthentication no\n"
        ),
        etc__ssh__sshd_config_dot_d__10_dot_conf="PermitRootLogin no\nPasswordAuthentication yes\n",
    )
    settings = dict(inv.settings)
    assert settings["sshd.permitrootlogin"] == "no" and settings["sshd.passwordauthentication"] == "yes"
    assert any("sshd -T not collected" in w for w in inv.warnings)


def test_sshd_t_output_is_preferred() -> None:
    inv = host(
        etc__ssh__sshd_config="PermitRootLogin yes\n",
        handover__sshd_T_dot_txt="permitrootlogin prohibit-password\n",
    )
    assert dict(inv.settings)["sshd.permitrootlogin"] == "prohibit-password"


def test_last_logins_from_lastlog_wtmp_btmp_faillock() -> None:
    inv = host(
        handover__lastlog_dot_txt=(
            "Username         Port     From             Latest\n"
            "root             pts/0    10.0.0.1         Fri Dec  4 10:00:00 +0800 2026\n"
            "alice                                      **Never logged in**\n"
        ),
        handover__wtmp_dot_txt=(
            "alice    pts/1        10.0.0.9         2026-12-04T11:00:00+08:00 - 2026-12-04T12:00:00+08:00  (01:00)\n"
            "reboot   system boot  6.1.0            2026-12-01T09:00:00+08:00   still running\n"
            "\nwtmp begins 2026-11-01T00:00:00+08:00\n"
        ),
        handover__btmp_dot_txt="bob ssh:notty 10.9.9.9 2026-12-04T01:00:00+08:00 - 2026-12-04T01:00:00+08:00 (00:00)\n"
        * 3,
        handover__faillock_dot_txt=(
            "bob:\nWhen                Type  Source                                           Valid\n"
            "2026-12-04 01:00:00 RHOST 10.9.9.9                                             V\n"
            "2026-12-04 01:01:00 RHOST 10.9.9.9                                             I\n"
        ),
    )
    root, alice, bob = inv.account("root"), inv.account("alice"), inv.account("bob")
    assert root.last_login == datetime(2026, 12, 4, 2, 0, tzinfo=UTC) and root.last_login_known
    assert alice.last_login == datetime(2026, 12, 4, 3, 0, tzinfo=UTC) and alice.last_login_known
    assert bob.last_login is None and not bob.last_login_known
    assert ("failed_logins_btmp", "3") in bob.attributes and ("faillock_failures", "1") in bob.attributes


def test_last_without_iso_times_and_lastlog_without_a_zone() -> None:
    inv = host(
        handover__wtmp_dot_txt="alice pts/2 10.0.0.8 Thu Dec  3 09:00:00 2026 - Thu Dec  3 10:00:00 2026  (01:00)\n",
        handover__lastlog_dot_txt="Username Port From Latest\nbob pts/0 10.0.0.1 Wed Dec  2 08:00:00 2026\n",
    )
    assert inv.account("alice").last_login == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert inv.account("bob").last_login == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert inv.account("alice").last_login_known and not inv.account("root").last_login_known  # in no output


def test_jobs_from_user_crontabs_and_units_without_user() -> None:
    inv = host(
        var__spool__cron__crontabs__alice="MAILTO=x\n# c\n*/5 * * * * /home/alice/sync.sh\n",
        etc__systemd__system__a_dot_service="[Service]\nExecStart=/opt/a\n",
        etc__systemd__system__b_dot_timer="[Timer]\n",
    )
    assert {(j.runs_as, j.command, j.schedule) for j in inv.jobs} == {
        ("alice", "/home/alice/sync.sh", "*/5 * * * *"), ("root", "/opt/a", "systemd"),
    }  # fmt: skip


def test_nis_lines_crlf_and_duplicate_names() -> None:
    inv = host(etc__passwd=PASSWD.replace("\n", "\r\n") + "+::::::\r\nalice:x:1002:1002::/tmp:/bin/sh\r\n")
    assert [a.name for a in inv.accounts].count("alice") == 2
    assert inv.account("bob").shell == "/bin/bash"
    assert any("NIS" in w for w in inv.warnings) and any("listed twice" in w for w in inv.warnings)


def test_no_shadow_means_unknown_not_empty() -> None:
    data = {"etc/passwd": PASSWD.encode(), "etc/group": GROUP.encode()}
    inv = build(Source(data, label="t"), target="t")
    assert {a.password_state for a in inv.accounts} == {PasswordState.UNKNOWN}
    assert not any(a.password_policy_known for a in inv.accounts)
    assert any("/etc/shadow: not collected" in w for w in inv.warnings)


def test_gshadow_group_password_is_masked() -> None:
    inv = host(etc__gshadow="wheel:$6$grouphash:alice:alice\n")
    wheel = next(g for g in inv.groups if g.name == "wheel")
    assert (
        wheel.admins == ("alice",)
        and "<verifier>" in wheel.evidence[1].raw
        and "$6$" not in wheel.evidence[1].raw
    )


def _stream(files: dict[str, bytes], *, end: bool = True, digest: str = "") -> bytes:
    out = b""
    for name, data in files.items():
        out += f"==> HANDOVER FILE b64 {name}\n".encode() + base64.encodebytes(data)
        out += f"==> HANDOVER END {digest or hashlib.sha256(data).hexdigest()}\n".encode()
    return out + (b"==> HANDOVER DONE\n" if end else b"")


def test_stream_cut_off_or_altered_is_refused() -> None:
    files = {"etc/passwd": PASSWD.encode(), "etc/shadow": SHADOW.encode()}
    assert build(from_stream(_stream(files), label="h:22"), target="h").account("alice") is not None
    with pytest.raises(ParseError, match="cut off"):
        from_stream(_stream(files, end=False), label="h:22")
    with pytest.raises(ParseError, match="digest differs"):
        from_stream(_stream(files, digest="0" * 64), label="h:22")
    with pytest.raises(ParseError, match="cut off"):
        from_stream(_stream(files)[:-60], label="h:22")


def test_hex_encoding_without_base64_on_the_host() -> None:
    data = PASSWD.encode()
    text = f"==> HANDOVER FILE hex etc/passwd\n{data.hex()}\n==> HANDOVER END -\n==> HANDOVER DONE\n"
    assert len(build(from_stream(text.encode(), label="h"), target="h").accounts) == 3


def test_paths_never_escape_the_root() -> None:
    inv = host(etc__sudoers="@include ../../../../etc/x\n", etc__x="alice ALL=(ALL) ALL\n")
    assert ("ALL", True, False) in sudo_of(inv, "alice")  # /etc/x, not a file above the root
