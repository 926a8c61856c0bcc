"""The security review's attacks on the key keeper (M1, M2, L8), performed again and refused: the keeper_extract
script (status, then split over the socket), a caller of the right UID without the per-start secret, a rekey
or rotation without a quorum of current shares, an unwrap that names no record, a deployment whose keeper is
gone, and ``handover serve`` with its keeper killed (real processes on loopback)."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.org.models import Role
from handover.vault import events, lifecycle, services
from handover.vault.crypto import shamir
from handover.vault.crypto.envelope import SealedSecret
from handover.vault.keeper import KeeperError, LocalKeeper, RemoteKeeper, Unauthenticated
from handover.vault.models import SecretVersion, VaultConfig
from tests.shared_static import link_static
from tests.vault.helpers import STRONG, put
from tests.vault.test_keeper import TOKEN, keeper_socket  # noqa: F401 (the fixture)

ACTOR = system("test")
ROOT = Path(__file__).resolve().parents[2]
HANDOVER = str(Path(sys.executable).parent / "handover")
# How long to wait for a process to come up or go away before giving up (a hang guard, not an assertion).
GUARD_SECONDS = 120

# The review's keeper_extract.py, as a separate process of the same user: status, then split(2, 2), then the
# other ways to shares or data keys, on the raw socket.
EXTRACT = r"""
import json, socket, sys
def ask(op, **args):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(sys.argv[1])
        s.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
        return json.loads(s.makefile("rb").readline())
status = ask("status")["result"]
check = status["check_value"]
params = json.loads(sys.argv[2])
print(json.dumps({
    "status": status,
    "split": ask("split", shares=2, threshold=2, check_value=check),
    "rotate_begin": ask("rotate_begin", shares=2, threshold=2, cipher_name="aes-256-gcm", check_value=check),
    "unwrap": ask("unwrap", sealed=sys.argv[3], record_id=sys.argv[4], check_value=check),
    "rewrap": ask("rewrap", sealed=sys.argv[3], record_id=sys.argv[4], check_value=check, session=""),
}))
"""


def enter(shares: list[str]) -> None:
    result: dict = {"nonce": ""}
    for share in shares:
        result = lifecycle.vault_share_enter(actor=ACTOR, share_text=share, nonce=result["nonce"])
    assert result["unsealed"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HANDOVER_VAULT_KEEPER_TOKEN"}
    return {**env, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


# -- M1: the socket gives nothing usable without shares or the per-start secret -------------------------------
def test_keeper_extract_gets_no_share_and_no_data_key(db, world, keeper_socket):  # noqa: F811
    path, _ = keeper_socket
    shares = lifecycle.vault_init(actor=ACTOR, shares=5, threshold=3).shares
    enter(shares[:3])
    entry = put(world.login_with(Role.FIRM_IT, site=world.branch_a), world, world.branch_a)
    version = SecretVersion.objects.get(entry=entry)
    config = lifecycle.params_of(VaultConfig.objects.get())
    sealed = base64.b64encode(bytes(version.sealed)).decode()
    done = subprocess.run(
        [sys.executable, "-c", EXTRACT, str(path), json.dumps(config.__dict__), sealed, version.record_id],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    answers = json.loads(done.stdout)
    assert answers["status"]["sealed"] is False  # the attack ran against an unsealed keeper
    for op in ("split", "rotate_begin", "unwrap", "rewrap"):
        assert answers[op]["ok"] is False and "result" not in answers[op], op
    assert answers["unwrap"]["code"] == "unauthenticated" and "result" not in answers["unwrap"]
    assert answers["rewrap"]["code"] == "unauthenticated"
    assert "HOV1-" not in done.stdout
    # The same request from a process holding the per-start secret is served: the refusal is the secret's.
    with_secret = (
        "import sys; from handover.vault.keeper import RemoteKeeper, Params;"
        "from handover.vault.crypto.envelope import SealedSecret; import base64;"
        "s = SealedSecret.from_bytes(base64.b64decode(sys.argv[2]));"
        "k = RemoteKeeper(sys.argv[1]); print(len(k.unwrap(s, record_id=sys.argv[3], check_value=sys.argv[4])));"
        "from handover.vault.keeper import KeeperError\n"
        "for op in ('split', 'rotate_begin'):\n"
        "    try: k._request(op, shares=2, threshold=2, check_value=sys.argv[4])\n"
        "    except KeeperError as e: print(e.code)"
    )
    served = subprocess.run(
        [sys.executable, "-c", with_secret, str(path), sealed, version.record_id, config.check_value],
        env=_env(HANDOVER_VAULT_KEEPER_TOKEN=TOKEN),
        capture_output=True,
        text=True,
        check=True,
    )
    # ... and even it gets no shares: split and rotate_begin are gone from the socket.
    assert served.stdout.split() == ["32", "bad_request", "bad_request"]


def test_a_caller_of_the_right_uid_without_the_secret_is_refused(db, world, keeper_socket, monkeypatch):  # noqa: F811
    path, _ = keeper_socket
    lifecycle.vault_init(actor=ACTOR, shares=3, threshold=2)
    monkeypatch.setattr("handover.vault.keeper.secret._cached", "")
    with pytest.raises(Unauthenticated):
        RemoteKeeper(path).wrap(
            b"k" * 32, record_id="vault-entry:0:v1", cipher_name="aes-256-gcm", check_value=""
        )
    monkeypatch.setattr("handover.vault.keeper.secret._cached", "x" * 64)  # a guessed secret
    with pytest.raises(Unauthenticated):
        RemoteKeeper(path).wrap(
            b"k" * 32, record_id="vault-entry:0:v1", cipher_name="aes-256-gcm", check_value=""
        )


def test_a_keeper_without_a_caller_secret_does_not_start(tmp_path):
    path = Path(tempfile.mkdtemp(prefix="hv-")) / "k.sock"
    done = subprocess.run(
        [sys.executable, "-m", "handover.vault.keeper", "--socket", str(path)],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "caller secret" in done.stderr
    assert not path.exists()


# -- M1: rekey and rotation need the threshold of current shares -------------------------------------------
def test_rekey_without_a_quorum_of_current_shares_gives_no_share(vault):
    before = VaultConfig.objects.get()
    progress = lifecycle.QuorumProgress(index=0, nonce="", entered=[], threshold=0)
    for share in vault.shares[:2]:  # two of the three needed
        progress = lifecycle.vault_rekey(
            actor=ACTOR, share_text=share, nonce=progress.nonce, shares=2, threshold=2
        )
    assert not progress.done and progress.shares == [] and progress.entered == [1, 2]
    assert VaultConfig.objects.get().set_id == before.set_id
    assert not Event.objects.filter(action=events.REKEY).exists()
    assert Event.objects.filter(action=events.QUORUM_SHARE).count() == 2
    # A second rekey started at another desk cannot join or restart it.
    with pytest.raises(DomainError) as other:
        lifecycle.vault_rekey(actor=ACTOR, share_text=vault.shares[2], nonce="", shares=2, threshold=2)
    assert other.value.code == "ceremony_mismatch"
    # Joining with other terms (2 of 2 asked, 5 of 5 now) is refused too.
    with pytest.raises(DomainError) as terms:
        lifecycle.vault_rekey(
            actor=ACTOR, share_text=vault.shares[2], nonce=progress.nonce, shares=5, threshold=5
        )
    assert terms.value.code == "ceremony_mismatch"


def test_shares_of_another_vault_do_not_make_a_quorum(vault):
    foreign = [s.encode() for s in shamir.split(b"x" * 32, shares=5, threshold=3)]
    with pytest.raises(DomainError) as refused:
        lifecycle.vault_rekey(actor=ACTOR, share_text=foreign[0], nonce="", shares=3, threshold=2)
    assert refused.value.code == "share_other_set"
    assert lifecycle.local_keeper().status()["quorum"] == {}


def test_rotation_without_a_quorum_changes_nothing(vault, world):
    entry = put(world.login_with(Role.FIRM_IT, site=world.branch_a), world, world.branch_a)
    sealed_before = bytes(SecretVersion.objects.get(entry=entry).sealed)
    progress = lifecycle.vault_rotate_master(actor=ACTOR, share_text=vault.shares[4], nonce="")
    assert not progress.done and progress.shares == []
    assert VaultConfig.objects.get().key_version == 1
    assert bytes(SecretVersion.objects.get(entry=entry).sealed) == sealed_before
    with pytest.raises(KeeperError):
        lifecycle.local_keeper().rewrap(
            SealedSecret.from_bytes(sealed_before),
            record_id=SecretVersion.objects.get(entry=entry).record_id,
            check_value=VaultConfig.objects.get().check_value,
            session="",
        )


# -- every unwrap is reported, with its record ---------------------------------------------------------------
def test_an_unwrap_writes_an_audit_event_naming_its_record(vault, world):
    entry = put(world.login_with(Role.FIRM_IT, site=world.branch_a), world, world.branch_a)
    version = SecretVersion.objects.get(entry=entry)
    assert not Event.objects.filter(action=events.UNWRAP).exists()
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="audit check") == STRONG
    unwrapped = Event.objects.get(action=events.UNWRAP)
    assert unwrapped.after["record"] == version.record_id and unwrapped.after["version"] == version.number
    assert unwrapped.after["for"] == events.TASK_USE
    assert str(unwrapped.object_id) == str(entry.pk)
    assert STRONG not in json.dumps(unwrapped.after)


def test_the_keeper_refuses_an_unwrap_that_names_no_record(vault, world):
    entry = put(world.login_with(Role.FIRM_IT, site=world.branch_a), world, world.branch_a)
    version = SecretVersion.objects.get(entry=entry)
    sealed = SealedSecret.from_bytes(bytes(version.sealed))
    check = VaultConfig.objects.get().check_value
    for record in ("", "anything", "vault-entry::v"):
        with pytest.raises(KeeperError) as refused:
            lifecycle.local_keeper().unwrap(sealed, record_id=record, check_value=check)
        assert refused.value.code == "no_record"


# -- M2: the keeper is configuration; gone means "keeper unavailable", never a key of one's own ---------------
def test_a_process_configured_for_the_socket_never_holds_a_key_of_its_own(db, settings, tmp_path):
    shares = lifecycle.vault_init(actor=ACTOR, shares=3, threshold=2).shares
    lifecycle.local_keeper().seal()
    settings.HANDOVER_VAULT_KEEPER = "socket"
    settings.HANDOVER_VAULT_SOCKET = tmp_path / "gone.sock"
    status = lifecycle.vault_status()
    assert status.sealed and str(tmp_path / "gone.sock") in status.problem
    for share in shares[:2]:
        with pytest.raises(lifecycle.VaultSealed) as refused:
            lifecycle.vault_share_enter(actor=ACTOR, share_text=share, nonce="")
        assert str(tmp_path / "gone.sock") in str(refused.value.message)
    # No ceremony was started in this process: nothing holds or gathers the key here.
    assert lifecycle.local_keeper().status() == LocalKeeper().status()


def test_the_keeper_setting_is_checked(monkeypatch):
    from handover.settings import env

    monkeypatch.setenv("HANDOVER_VAULT_KEEPER", "auto")
    with pytest.raises(Exception, match="HANDOVER_VAULT_KEEPER"):
        env.get_choice("HANDOVER_VAULT_KEEPER", ("socket", "in-process"))


# -- handover serve: real processes on loopback ----------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _keeper_pid(serve: subprocess.Popen[str]) -> int:
    for pid in _descendants(serve.pid):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args[-3:-1] == [b"vault", b"keeper"]:
            return pid
    return 0


def _until(what: str, condition, serve: subprocess.Popen[str], log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text()}"
        time.sleep(0.1)


def test_serve_restarts_a_killed_keeper_sealed_and_keeps_the_secret_out_of_ps(tmp_path):
    data_dir = Path(tempfile.mkdtemp(prefix="hvs-"))
    link_static(data_dir)
    canary = "CANARYkeeper" + "7" * 40
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="handover.settings.local",
        HANDOVER_DATA_DIR=str(data_dir),
        HANDOVER_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        HOME=str(tmp_path),  # gunicorn's control socket would be ~/.gunicorn/gunicorn.ctl
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    for args in (["migrate", "--no-input", "-v", "0"], ["collectstatic", "--no-input", "-v", "0"]):
        subprocess.run([HANDOVER, *args], env=env, check=True, capture_output=True)
    shares = json.loads(
        subprocess.run(
            [HANDOVER, "vault", "init", "--shares", "3", "--threshold", "2", "--format", "json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )["shares"]
    port = _free_port()
    log = data_dir / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [HANDOVER, "serve", "--addr", f"127.0.0.1:{port}", "--workers", "1"],
            env={**env, "HANDOVER_VAULT_KEEPER_TOKEN": canary},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    socket_path = data_dir / "vault-keeper.sock"
    cli = {**env, "HANDOVER_VAULT_KEEPER": "socket"}

    def unseal(share: str, *nonce: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HANDOVER, "vault", "unseal", *nonce], input=share + "\n", env=cli, capture_output=True, text=True
        )

    try:
        _until("serve did not open its port", lambda: _port_open(port), serve, log)
        first = _until("no keeper under serve", lambda: _keeper_pid(serve), serve, log)
        # The canary secret is in no child's arguments or environment, and gunicorn has no control socket.
        ps = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True, check=True).stdout
        assert canary not in ps
        for pid in _descendants(serve.pid):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            assert canary.encode() not in environ, f"process {pid} has the secret in its environment"
        assert not (tmp_path / ".gunicorn").exists()

        entered = unseal(shares[0])
        assert "1 of 2" in entered.stdout, entered.stderr
        os.kill(first, signal.SIGTERM)
        second = _until(
            "the keeper was not restarted",
            lambda: (
                (pid := _keeper_pid(serve)) != first and pid and RemoteKeeper(socket_path).alive() and pid
            ),
            serve,
            log,
        )
        assert serve.poll() is None
        state = RemoteKeeper(socket_path).status()
        assert state["sealed"] and state["entered"] == []  # restarted sealed: the ceremony is gone too
        # serve logs the restart once its poll sees the new socket, which may be after this test saw the keeper.
        _until("serve did not log the restart", lambda: "restarted, sealed" in log.read_text(), serve, log)
        # One ceremony for every process: a second holder without its nonce is refused, with it accepted.
        one = unseal(shares[1])
        nonce = one.stdout.rsplit("--nonce ", 1)[1].strip()
        assert unseal(shares[0]).returncode != 0
        assert unseal(shares[0], "--nonce", nonce).stdout.strip() == "unsealed"
        # A keeper that keeps exiting stops the whole server instead of serving without one.
        pid, deadline = second, time.monotonic() + GUARD_SECONDS
        while serve.poll() is None:
            if pid:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
            pid = _keeper_pid(serve) if serve.poll() is None else 0
            assert time.monotonic() < deadline, log.read_text()
        assert "stopping the server" in log.read_text()
        assert canary not in log.read_text()
        assert _descendants(serve.pid) == []
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
            serve.wait()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_gunicorn_workers_inherit_the_secret_read_by_their_master():
    """serve hands gunicorn's master the secret in a pipe; the master reads it while loading its configuration
    (handover.vault.keeper.preload), so every worker forked later, the second as much as the first, has it."""
    import hashlib

    from handover.vault.keeper import secret as keeper_secret

    master = (
        "import hashlib, os; import handover.vault.keeper.preload;"
        "from handover.vault.keeper.secret import caller_secret, ENV_FD;"
        "print(ENV_FD in os.environ, flush=True)\n"
        "for worker in range(2):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        print(hashlib.sha256(caller_secret().encode()).hexdigest(), flush=True); os._exit(0)\n"
        "    os.waitpid(pid, 0)"
    )
    canary = "CANARYpipe" + "5" * 40
    env, read_end = keeper_secret.hand_over(canary, _env())
    try:
        done = subprocess.run(
            [sys.executable, "-c", master], env=env, pass_fds=(read_end,), capture_output=True, text=True
        )
    finally:
        os.close(read_end)
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(canary.encode()).hexdigest()
    assert done.stdout.split() == ["False", digest, digest]  # both workers, not only the first to read
