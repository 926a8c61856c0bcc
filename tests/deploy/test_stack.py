"""Issue 18: the production deployment of deploy/, brought up on loopback and used as a browser would.

Debian's nginx runs the committed site file (deploy/nginx/handover.conf, only its ports and paths replaced) with a
certificate made here; gunicorn and the vault's key keeper run the ExecStart lines of their units
(deploy/systemd/), on the production settings from deploy/handover.env. A login with a TOTP code goes through
HTTPS; the responses carry the security headers and only Secure cookies; plain HTTP is sent to HTTPS; a wrong
Host is refused; the audit trail records the client's address as nginx saw it, not what the client wrote, and
believes X-Forwarded-For from nginx only. The checkpoint signer's and the backup's units run as their timers
start them. The units parse (systemd-analyze verify), name only existing `handover` commands, and logrotate
takes the rotation file. SQLite pass only: one stack is enough (it uses no suite database)."""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
import urllib.parse
from pathlib import Path

import pyotp
import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import SystemCheckError
from django.utils import translation

from handover.audit import checkpoint
from handover.vault.keeper import secret as keeper_secret
from tests.deploy.conftest import BIN, CLIENT, CSRF, DEPLOY, HOST, Stack, env_file, unit_commands

pytestmark = pytest.mark.sqlite_pass

PASSWORD = "deploy-stack-password-7Qp"


class Browser:
    """Cookies kept between requests, the Origin and Referer a browser sends with a form."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []
        self.origin = f"https://{HOST}:{stack.https}"

    def go(self, method: str, path: str, form: dict[str, str] | None = None, **options):  # type: ignore[no-untyped-def]
        headers = dict(options.pop("headers", {}))
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            headers.update(Origin=self.origin, Referer=f"{self.origin}{path}")
        body = urllib.parse.urlencode(form) if form is not None else ""
        response = self.stack.request(method, path, body=body, headers=headers, **options)
        for line in response.msg.get_all("Set-Cookie") or []:
            self.set_cookies.append(line)
            name, _, rest = line.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response

    def token(self, path: str) -> str:
        """GET a page with a form; its CSRF token (the cookie is HttpOnly, so the form is where it is read)."""
        self.last = self.go("GET", path)
        assert self.last.status == 200, self.last.status
        found = CSRF.search(self.last.text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)


def _trail(stack: Stack, action: str) -> list[str]:
    with sqlite3.connect(f"file:{stack.data / 'handover.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT client_addr FROM audit_event WHERE action = ? ORDER BY seq", [action])
        return [row[0] for row in rows]


@pytest.fixture(scope="module")
def login(stack: Stack) -> dict[str, str]:
    """A 技术组-style login with a confirmed TOTP factor, made in the deployment's own data folder (its sealed
    seed needs the data folder's local key); the script goes by standard input, the seed never in arguments."""
    secret = pyotp.random_base32()
    script = (
        "from django.utils import timezone\n"
        "from handover.accounts.models import User\n"
        "from handover.core import localkey\n"
        "now = timezone.now()\n"
        f"user = User(username='deploy-tech', enrolled_at=now, totp_secret_sealed=localkey.seal('{secret}'),"
        " totp_confirmed_at=now)\n"
        f"user.set_password('{PASSWORD}')\n"
        "user.save()\n"
    )
    done = subprocess.run(
        [str(BIN / "handover"), "shell"],
        input=script,
        env=stack.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {"username": "deploy-tech", "totp": secret}


def test_a_login_with_its_totp_code_over_https_with_the_security_headers_and_secure_cookies(stack, login):
    browser = Browser(stack)
    token = browser.token("/accounts/login/")
    page = browser.last
    switched = browser.go(
        "POST", "/i18n/setlang/", {"language": "en", "next": "/", "csrfmiddlewaretoken": token}
    )
    assert switched.status == 302
    assert page.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
    csp = page.getheader("Content-Security-Policy") or ""
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.getheader("X-Content-Type-Options") == "nosniff"
    assert page.getheader("Referrer-Policy") == "same-origin"
    assert page.getheader("X-Frame-Options") == "DENY"
    assert page.getheader("Server") == "nginx"  # no version (server_tokens off)
    # The client writes an address of its own: nginx replaces it with the one it sees.
    forged = {"X-Forwarded-For": "10.9.9.9"}
    step = browser.go(
        "POST", "/accounts/login/", {"username": login["username"], "password": PASSWORD,
                                      "csrfmiddlewaretoken": token}, headers=forged,
    )  # fmt: skip
    assert (step.status, step.getheader("Location")) == (302, "/accounts/login/code/")
    code = pyotp.TOTP(login["totp"]).now()
    done = browser.go(
        "POST", "/accounts/login/code/", {"code": code, "csrfmiddlewaretoken": token}, headers=forged
    )
    assert done.status == 302 and "/accounts/login" not in (done.getheader("Location") or "")
    home = browser.go("GET", "/")  # a login of no engagement is sent to the list of engagements
    assert home.status == 302 and "/accounts/login" not in (home.getheader("Location") or "")
    assert browser.go("GET", home.getheader("Location") or "").status == 200
    names = {line.split("=", 1)[0] for line in browser.set_cookies}
    assert {"csrftoken", "sessionid", "django_language"} <= names, names
    for line in browser.set_cookies:
        attributes = {part.strip().split("=")[0].lower() for part in line.split(";")[1:]}
        assert "secure" in attributes, line
        if not line.startswith("csrftoken="):
            assert "httponly" in attributes, line
    assert _trail(stack, "accounts.login") == [CLIENT]


def test_the_client_header_is_believed_from_nginx_only(stack, login):
    """Straight to gunicorn (past nginx), X-Forwarded-For and X-Forwarded-Proto are the client's own words: the
    trail records the socket's address. Through nginx the forged header is replaced."""
    browser = Browser(stack)
    token = browser.token("/accounts/login/")
    forged = {"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https"}
    wrong = {"username": login["username"], "password": "not-the-password", "csrfmiddlewaretoken": token}
    direct = browser.go("POST", "/accounts/login/", wrong, port=stack.app, tls=False, headers=forged,
                        host=f"{HOST}:{stack.https}")  # fmt: skip
    assert direct.status == 200  # the login page again, with its error
    through = browser.go("POST", "/accounts/login/", wrong, headers={"X-Forwarded-For": "10.9.9.9"})
    assert through.status == 200
    assert _trail(stack, "accounts.login.failed")[-2:] == [CLIENT, CLIENT]
    assert "10.9.9.9" not in _trail(stack, "accounts.login.failed")


def test_plain_http_is_sent_to_https(stack):
    response = stack.request("GET", "/accounts/login/?next=/w/", tls=False, host=HOST)
    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/accounts/login/?next=/w/"


@pytest.mark.parametrize("host", ["evil.example", f"{HOST}.evil.example", "127.0.0.1"])
def test_a_wrong_host_is_refused(stack, host):
    response = stack.request("GET", "/accounts/login/", host=host)
    assert response.status == 400


def test_the_worker_runs_what_is_due_and_leaves_the_checkpoint_to_the_signer(stack):
    """The worker unit's command, once through what is due (``--batch``): with HANDOVER_CHECKPOINT_INTERVAL=0 of
    handover.env it signs no checkpoint (the timer's signer does), and it runs the other periodic jobs."""
    [worker] = unit_commands(DEPLOY / "systemd" / "handover-worker@.service")
    done = subprocess.run(
        [*(stack.local(a) for a in worker), "--batch"],
        env=stack.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(f"file:{stack.data / 'handover.sqlite3'}?mode=ro", uri=True) as db:
        ran = {row[0] for row in db.execute("SELECT args_kwargs FROM django_tasks_database_dbtaskresult")}
    assert any("workflow.escalation" in text for text in ran), ran
    assert not any("audit.checkpoint" in text for text in ran), ran
    assert _trail(stack, "audit.checkpoint.write") == []


def test_the_checkpoint_signer_and_the_backup_run_as_their_units_start_them(stack):
    units = DEPLOY / "systemd"
    [sign] = unit_commands(units / "handover-checkpoint.service")
    done = subprocess.run([stack.local(a) for a in sign], env=stack.env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shipped = list((stack.root / "shipped").glob("checkpoint-*.json"))
    assert len(shipped) == 1, "the checkpoint was not shipped to HANDOVER_CHECKPOINT_SHIP_DIR"
    trusted = checkpoint.load_public_key(Path(stack.env["HANDOVER_AUDIT_PUBLIC_KEY"]))
    signed = checkpoint.read(shipped[0], trusted)  # refused (CheckpointError) if signed by another key
    with sqlite3.connect(f"file:{stack.data / 'handover.sqlite3'}?mode=ro", uri=True) as db:
        [(head,)] = db.execute("SELECT hash FROM audit_event WHERE seq = ?", [signed.seq]).fetchall()
    assert signed.head_hash == head  # the head it signed is the trail's
    [backup] = unit_commands(units / "handover-backup.service")
    done = subprocess.run([stack.local(a) for a in backup], env=stack.env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    [archive] = list((stack.root / "backups").glob("handover-*Z.tar"))
    assert "intact" in done.stdout.lower(), done.stdout
    [prune] = unit_commands(units / "handover-backup.service", "ExecStartPost")
    subprocess.run([stack.local(a) for a in prune], check=True)
    assert archive.exists()  # a new archive is kept


def test_the_deploy_check_passes_with_the_production_settings(stack):
    from handover.core import sqlitesafety

    done = stack.handover("check", "--deploy", "--fail-level", "WARNING", check=False)
    said = done.stdout + done.stderr
    if sqlitesafety.wal_reset_bug():  # Debian's SQLite: the one warning due (docs/deployment.md)
        assert "handover.W001" in said and "identified 1 issue" in said, said
    else:
        assert done.returncode == 0 and "no issues" in said, said


def test_the_deploy_check_names_what_is_wrong_in_a_misconfigured_production(settings, tmp_path):
    """The same command in this process, with handover.env's settings spoiled three ways."""
    settings.ALLOWED_HOSTS = ["*"]
    settings.HANDOVER_PROXY_CLIENT_HEADER = "X-Forwarded-For"
    settings.HANDOVER_TRUSTED_PROXIES = []
    settings.HANDOVER_CHECKPOINT_KEY = settings.DATA_DIR / "keys" / "checkpoint.key"
    # In English, whatever language an earlier request in this process left the thread in.
    with translation.override("en"), pytest.raises(SystemCheckError) as refused:
        call_command("check", deploy=True, stdout=io.StringIO(), stderr=io.StringIO())
    said = str(refused.value)
    assert "(handover.E002) HANDOVER_ALLOWED_HOSTS contains '*'" in said
    assert f"(handover.E004) HANDOVER_CHECKPOINT_KEY ({settings.DATA_DIR}/keys/checkpoint.key)" in said
    assert "(handover.W005) HANDOVER_PROXY_CLIENT_HEADER is set but HANDOVER_TRUSTED_PROXIES is empty" in said
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]  # the default, left unset
    settings.HANDOVER_PROXY_CLIENT_HEADER = ""
    settings.HANDOVER_TRUSTED_PROXIES = ["127.0.0.1"]
    with translation.override("en"), pytest.raises(SystemCheckError) as refused:
        call_command("check", deploy=True, fail_level="WARNING", stdout=io.StringIO(), stderr=io.StringIO())
    said = str(refused.value)
    assert "(handover.W003) HANDOVER_ALLOWED_HOSTS names only loopback (127.0.0.1, localhost)" in said
    assert "(handover.W005) HANDOVER_TRUSTED_PROXIES is set but HANDOVER_PROXY_CLIENT_HEADER is empty" in said


def test_the_units_parse_and_name_existing_handover_commands(tmp_path):
    units = sorted((DEPLOY / "systemd").glob("handover-*"))
    assert {u.name for u in units} >= {
        "handover-keeper.service", "handover-web.service", "handover-worker@.service",
        "handover-checkpoint.service", "handover-checkpoint.timer", "handover-backup.service", "handover-backup.timer",
    }  # fmt: skip
    known = get_commands()
    for unit in units:
        for key in ("ExecStart", "ExecStartPre"):
            for command in unit_commands(unit, key):
                if command[0] != "/opt/handover/venv/bin/handover":
                    continue
                name, *args = command[1:]
                assert name in known, f"{unit.name}: handover {name} is not a command"
                parser = load_command_class(known[name], name).create_parser("handover", name)
                parser.parse_args(args)  # exits (SystemExit) on an unknown sub-command or option
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    # verify needs each ExecStart to exist: the venv's handover and python stand in for /opt/handover's.
    # The worker's template is verified as its first instance; each timer with the service it starts.
    for unit in units:
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(unit.read_text().replace("/opt/handover/venv/bin/", f"{BIN}/"))
    done = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    problems = [line for line in done.stderr.splitlines() if "Unknown" in line or "ignoring" in line]
    assert done.returncode == 0 and not problems, done.stderr


def test_the_env_file_names_only_documented_variables_and_no_secret():
    from handover.settings import env

    declared = {v.name for v in env.VARIABLES} | {"DJANGO_SETTINGS_MODULE", keeper_secret.ENV_TOKEN}
    for name in ("handover.env", "secrets.env"):
        values = env_file(DEPLOY / name)
        assert set(values) <= declared, set(values) - declared
    assert not any(env_file(DEPLOY / "secrets.env").values())
    public = env_file(DEPLOY / "handover.env")
    assert not {"HANDOVER_SECRET_KEY", "HANDOVER_DATABASE_URL", "HANDOVER_VAULT_KEEPER_TOKEN"} & set(public)


def test_logrotate_takes_the_rotation_file_and_rotates_the_log(tmp_path):
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(logrotate).exists():
        pytest.fail("logrotate is missing: run `make install-test` (it installs it)")
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / "handover.log").write_text("2026-12-06 02:00:00 INFO handover a line\n")
    import getpass
    import grp
    import os

    me, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    config = (DEPLOY / "logrotate" / "handover").read_text()
    config = config.replace("/var/lib/handover/logs/", f"{logs}/").replace(
        "handover handover", f"{me} {group}"
    )
    (tmp_path / "handover.logrotate").write_text(config)
    done = subprocess.run(
        [logrotate, "--force", "--state", str(tmp_path / "state"), str(tmp_path / "handover.logrotate")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rotated = sorted(p.name for p in logs.iterdir())
    assert len(rotated) == 2 and (logs / "handover.log").stat().st_size == 0, rotated
    assert oct((logs / "handover.log").stat().st_mode & 0o777) == "0o600"
