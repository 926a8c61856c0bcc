"""The package build as a job of the task worker (DESIGN.md decision 10: long work runs in the worker with a
progress page), in three parts so that nothing is held while others sign:

1. ``package_build_request`` checks what can be checked at once (capability, 技术组 compiler, key, sites done or
   a residual-risk reason, the summary) and records a ``PackageBuild``; the page enqueues it, the command runs
   it in-process.
2. ``package_build_run`` chooses the annexed versions and computes 表24's lines (the snapshot), then exports or
   reuses each annex (services/annexes.py) and writes it into the zip in a temporary folder, site by site,
   recording the progress — with no transaction open: others sign meanwhile.
3. One short transaction at the end: 表24 written, submitted and signed, exported; package.json; the audit
   checkpoint; manifest and signature; the package row; the zip renamed into place. A build that fails or is
   killed before that commit leaves no 表24, signature, package row or package file (第二十七条第4项).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import zipfile
from collections.abc import Callable
from datetime import timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit.services import checkpoint_write, event_record
from handover.core import faults
from handover.core.actors import Actor, actor_name, actor_user, system
from handover.core.errors import DomainError, StorageFull, disk_full
from handover.core.filestore import CHUNK, Digest
from handover.core.moments import moment_text
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.org.selectors import require
from handover.registers.models import Form
from handover.reports import events, verify
from handover.reports.models import BuildState, HandoverPackage, PackageBuild
from handover.reports.services import annexes as store
from handover.reports.services.build import (
    _Built,
    _metadata,
    _n03_summary,
    _record,
    _refuse_unless_compiler,
    _refuse_unless_done,
    _table24,
    _table24_export,
    _table24_lines,
    _unsigned,
)
from handover.reports.services.common import annexed_forms, sites_not_done
from handover.reports.services.keys import _package_key, _seal

# A build with no sign of life for this long was interrupted (its process killed): a new one may start.
STALE = timedelta(minutes=15)

Progress = Callable[[int, int], None]


def _summary_needed() -> DomainError:
    # 第二十七条第3项 「以书面形式向托管工作组汇报」: 表24 carries 技术组's written summary, never a count (C16).
    return DomainError(
        _(
            "Write 表24's overall summary of the handover (第二十七条第3项), or record it as a note on step "
            "N-03 (交接工作总结), where the build takes it from."
        ),
        field="summary",
    )


def package_build_request(
    *,
    actor: Actor,
    engagement: Engagement,
    residual_risk: str = "",
    algorithm: str = "sha256",
    summary: str = "",
) -> PackageBuild:
    """Record a build to run (the caller enqueues it or runs it): refused at once, with nothing recorded, when
    it could not succeed — not a 技术组 compiler, no readable package key, sites not done without a reason, no
    summary — or while another build of the engagement runs."""
    _refuse_before(actor, engagement, algorithm)
    _refuse_unless_done(sites_not_done(engagement), residual_risk.strip())
    if not (summary.strip() or _n03_summary(engagement)):
        raise _summary_needed()
    with transaction.atomic():
        _refuse_while_running(engagement, actor)
        build = PackageBuild.objects.create(
            engagement=engagement,
            requested_by=actor_user(actor),
            requested_by_name=actor_name(actor),
            residual_risk=residual_risk.strip(),
            summary=summary.strip(),
            algorithm=algorithm,
        )
        event_record(
            actor=actor,
            action=events.PACKAGE_BUILD_REQUEST,
            engagement_id=engagement.pk,
            obj=build,
            after={"algorithm": algorithm, "residual_risk": build.residual_risk},
        )
    return build


def package_build_start(
    *,
    actor: Actor,
    engagement: Engagement,
    residual_risk: str = "",
    algorithm: str = "sha256",
    summary: str = "",
) -> PackageBuild:
    """Ask for a build and hand it to the task worker (``tasks.package_build``); the page follows it."""
    from handover.reports.tasks import package_build as build_task

    build = package_build_request(
        actor=actor, engagement=engagement, residual_risk=residual_risk, algorithm=algorithm, summary=summary
    )
    build_task.enqueue(build.pk)
    build.refresh_from_db()
    return build


def package_build(
    *, actor: Actor, engagement: Engagement, residual_risk: str = "", algorithm: str = "sha256", summary: str = "",
    progress: Progress | None = None,
) -> HandoverPackage:  # fmt: skip
    """Build in this process (the command line, tests): ask, run, and return the package or raise why not."""
    build = package_build_request(
        actor=actor, engagement=engagement, residual_risk=residual_risk, algorithm=algorithm, summary=summary
    )
    build = package_build_run(build_id=build.pk, progress=progress, reraise=True)
    if build.package is None:  # a refusal was raised; this is an ended build asked again
        raise DomainError(build.reason or _("This build did not produce a package."))
    return build.package


def _refuse_before(actor: Actor, engagement: Engagement, algorithm: str) -> None:
    require(user=actor, engagement=engagement, capability=perms.MANAGE_PACKAGES)
    _refuse_unless_compiler(actor, engagement)
    if algorithm not in verify.ALGORITHMS:
        raise DomainError(_("Hash the package with sha256 or sm3."), field="algorithm")
    (Path(settings.HANDOVER_PACKAGE_DIR) / engagement.code).mkdir(parents=True, exist_ok=True)
    _package_key()  # an unreadable key is named now, not after the exports


def _refuse_while_running(engagement: Engagement, actor: Actor) -> None:
    """One build of an engagement at a time; one silent for ``STALE`` was interrupted and is marked failed."""
    now = timezone.now()
    live = PackageBuild.objects.select_for_update().filter(
        engagement=engagement, state__in=(BuildState.QUEUED, BuildState.RUNNING)
    )
    for build in live:
        if (build.beat_at or build.created_at) > now - STALE and not _runner_gone(build.runner):
            raise DomainError(
                _(
                    "A build of this engagement's package is already %(state)s (asked by %(who)s); wait for it."
                )
                % {"state": build.get_state_display(), "who": build.requested_by_name},
                field="build",
            )
        _interrupted(build, actor)


def _interrupted(build: PackageBuild, actor: Actor) -> None:
    when = moment_text(build.beat_at or build.created_at)  # 2026-12-04 15:31, Beijing time (issue 17)
    _failed(
        build,
        _("Interrupted: its process ended, or gave no sign of life since %(when)s.") % {"when": when},
        actor,
    )


def package_sweep() -> list[str]:
    """What killed builds left behind, removed when the task worker starts (``handover worker`` runs it;
    ``handover package sweep`` by hand): a running build whose process is gone (on this host) or silent for
    ``STALE`` is marked interrupted, as the next build of its engagement would; then each engagement's
    ``.build-*`` folders of builds not running, and its zips without a record while none of its builds runs.
    A queued build is left to the worker. Returns what was removed, relative to the package folder."""
    actor = system("worker")
    with transaction.atomic():
        for build in PackageBuild.objects.select_for_update().filter(state=BuildState.RUNNING):
            if (build.beat_at or build.created_at) <= timezone.now() - STALE or _runner_gone(build.runner):
                _interrupted(build, actor)
    root = Path(settings.HANDOVER_PACKAGE_DIR)
    if not root.is_dir():
        return []
    removed: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        removed += (f"{folder.name}/{name}" for name in _sweep(folder, None))
    return removed


def _runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _runner_gone(runner: str) -> bool:
    """Whether the process that ran a build (host:pid) is known to be gone: on this host and not alive."""
    host, _sep, pid = runner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _failed(build: PackageBuild, reason: str, actor: Actor | None = None) -> None:
    PackageBuild.objects.filter(pk=build.pk).update(
        state=BuildState.FAILED, reason=reason, finished_at=timezone.now()
    )
    event_record(
        actor=actor or build.requested_by,
        action=events.PACKAGE_BUILD_FAIL,
        engagement_id=build.engagement_id,
        obj=build,
        after={"reason": reason},
    )


def package_build_run(
    *, build_id: int, progress: Progress | None = None, reraise: bool = False
) -> PackageBuild:
    """Run one asked build (the task's body); its outcome is on the build: the package, or why it failed (and,
    with ``reraise``, the refusal raised to the caller). A build that ended is not run again; one interrupted
    is run anew, reusing the annexes it exported."""
    build = PackageBuild.objects.select_related("engagement", "requested_by").get(pk=build_id)
    if build.state in (BuildState.DONE, BuildState.FAILED):
        return build
    now = timezone.now()
    PackageBuild.objects.filter(pk=build.pk).update(
        state=BuildState.RUNNING, started_at=now, beat_at=now, runner=_runner()
    )
    try:
        try:
            _run(build, progress or _quiet)
        except Exception as exc:
            if disk_full(exc) and not isinstance(exc, StorageFull):
                raise StorageFull() from exc  # the message says nothing was kept: the temporary folder is gone
            raise
    except DomainError as exc:
        with transaction.atomic():
            _failed(build, str(exc.message))
        if reraise:
            raise
    except Exception as exc:
        with transaction.atomic():
            _failed(build, _("Stopped on an unexpected error (%(error)s); see the worker's log.")
                    % {"error": type(exc).__name__})  # fmt: skip
        raise
    build.refresh_from_db()
    return build


def _quiet(done: int, total: int) -> None:
    return None


def _run(build: PackageBuild, progress: Progress) -> None:
    actor, engagement = build.requested_by, build.engagement
    _refuse_before(actor, engagement, build.algorithm)  # the login may have lost its role since it asked
    folder = Path(settings.HANDOVER_PACKAGE_DIR) / engagement.code
    folder.mkdir(parents=True, exist_ok=True)
    _sweep(folder, build.pk)
    snap = _snapshot(build, engagement)
    not_done, summary, chosen_at, chosen, keys, lines, unsigned = snap
    sites = [list(group) for _site, group in groupby(chosen, key=lambda f: f.site_id)]
    PackageBuild.objects.filter(pk=build.pk).update(
        snapshot=[[f.pk, f.form_no, f.version, keys[f.pk]] for f in chosen], sites_total=len(sites)
    )
    progress(0, len(sites))
    final: list[Path] = []
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".build-{build.pk}-") as tmp:
        zipped = Path(tmp) / "package.zip"
        known, reused = _annexes_zipped(build, actor, sites, keys, zipped, progress)
        head = _Head(zipped)  # the big part hashed now, before the final transaction holds the write lock
        faults.point("reports.package.after_annexes")  # every annex in the zip, nothing recorded
        try:
            with transaction.atomic():
                built = _finish(
                    build, Path(tmp) / "package", zipped, head, known,
                    not_done=not_done, summary=summary, chosen=chosen, chosen_at=chosen_at, keys=keys,
                    lines=lines, unsigned=unsigned, reused=reused,
                )  # fmt: skip
                faults.point("reports.package.after_files")  # the zip built, no record yet
                package = _record(actor, engagement, built.digest, built.manifest, built.count, built.built)
                PackageBuild.objects.filter(pk=build.pk).update(
                    state=BuildState.DONE, package=package, finished_at=timezone.now(), beat_at=timezone.now()
                )
                final.append(folder / package.file_name)
                shutil.move(zipped, final[0])
                faults.point("reports.package.before_commit")  # the file in place, its record not committed
        except BaseException:
            for stray in final:  # the file was in place but its row did not commit: nothing half written
                stray.unlink(missing_ok=True)
            raise


def _snapshot(build: PackageBuild, engagement: Engagement) -> tuple[Any, ...]:
    """What the build packages, read at one moment: the sites not done, the summary, the annexed versions and
    their content keys, 表24's lines, the unsigned forms. One short read transaction (REPEATABLE READ on
    PostgreSQL; on SQLite the lock of a transaction), so a signature in between cannot split it."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        not_done = sites_not_done(engagement)
        _refuse_unless_done(not_done, build.residual_risk)
        summary = build.summary or _n03_summary(engagement)
        if not summary:
            raise _summary_needed()
        chosen_at = timezone.now()
        chosen = annexed_forms(engagement)
        keys = store.content_keys(chosen)
        lines = _table24_lines(engagement)
        unsigned = _unsigned(engagement, chosen)
    return not_done, summary, chosen_at, chosen, keys, lines, unsigned


def _annexes_zipped(
    build: PackageBuild, actor: Actor, sites: list[list[Form]], keys: dict[int, str], zipped: Path,
    progress: Progress,
) -> tuple[dict[str, tuple[int, str]], int]:  # fmt: skip
    """Each site's annexes, exported or reused, into the zip; the progress after each site. Returns each file's
    (size, digest) by its name in the package, and how many were reused."""
    known: dict[str, tuple[int, str]] = {}
    reused = 0
    with zipfile.ZipFile(zipped, "w") as archive:
        for done, forms in enumerate(sites, start=1):
            ready = store.annexes_ready(
                actor=actor, engagement=build.engagement, forms=forms, keys=keys, algorithm=build.algorithm
            )
            for annex in ready:
                # xlsx and PDF are compressed already: stored as they are.
                archive.write(annex.path, annex.name, compress_type=zipfile.ZIP_STORED)
                known[annex.name] = (annex.size, annex.digest)
            again = sum(1 for a in ready if a.reused)
            reused += again
            PackageBuild.objects.filter(pk=build.pk).update(
                sites_done=done,
                annexes_reused=F("annexes_reused") + again,
                annexes_exported=F("annexes_exported") + len(ready) - again,
                beat_at=timezone.now(),
            )
            progress(done, len(sites))
            faults.point("reports.package.site_ready")  # a site's annexes in the zip, no transaction open
    return known, reused


class _Head:
    """The zip's SHA-256 over its annexes, taken before the final transaction: everything before the central
    directory, which appending the final files leaves as it is (zipfile writes them from the central directory's
    offset on). In the transaction only the small tail is hashed, from a copy of this state, after checking that
    the file is the one hashed (same inode, size and modification time)."""

    def __init__(self, zipped: Path) -> None:
        with zipfile.ZipFile(zipped) as archive:
            self.offset: int = archive.start_dir  # where the central directory starts, and appending writes
        self.hasher = hashlib.sha256()
        with zipped.open("rb") as handle:
            left = self.offset
            while left and (chunk := handle.read(min(CHUNK, left))):
                self.hasher.update(chunk)
                left -= len(chunk)
        self.identity = _identity(zipped)

    def check(self, zipped: Path, archive: zipfile.ZipFile | None = None) -> None:
        """Refuse to append to a zip that changed since it was hashed (nothing else should write it), or one
        whose appending would not start where the hash stopped."""
        if _identity(zipped) != self.identity or (archive is not None and archive.start_dir != self.offset):
            raise DomainError(
                _("The package's temporary zip changed while it was being built; build it again.")
            )

    def digest(self, zipped: Path) -> Digest:
        """The whole file's digest: the state kept, continued over what was written from ``offset`` on."""
        hasher = self.hasher.copy()
        with zipped.open("rb") as handle:
            handle.seek(self.offset)
            while chunk := handle.read(CHUNK):
                hasher.update(chunk)
            size = handle.tell()
        return Digest(hasher.hexdigest(), size)


def _identity(path: Path) -> tuple[int, int, int]:
    found = path.stat()
    return found.st_ino, found.st_size, found.st_mtime_ns


class _Sealed:
    """What the final transaction's first half made: the package's contents, its manifest and file count, and
    the finished zip's digest."""

    def __init__(self, built: _Built, manifest: bytes, count: int, digest: Digest) -> None:
        self.built, self.manifest, self.count, self.digest = built, manifest, count, digest


def _finish(
    build: PackageBuild, folder: Path, zipped: Path, head: _Head, known: dict[str, tuple[int, str]], *,
    not_done: Any,
    summary: str, chosen: list[Form], chosen_at: Any, keys: dict[int, str], lines: Any, unsigned: list[str],
    reused: int,
) -> _Sealed:  # fmt: skip
    """In the final transaction: 表24 signed and exported, package.json, the checkpoint, manifest and signature,
    all added to the zip that holds the annexes."""
    actor, engagement = build.requested_by, build.engagement
    now = timezone.now()
    table24 = _table24(actor, engagement, build.residual_risk, summary, now, lines=lines)
    entries = [_table24_export(actor, engagement, form, folder) for form in table24]
    metadata = _metadata(
        actor=actor, engagement=engagement, now=now, residual_risk=build.residual_risk, not_done=not_done,
        table24=entries, annexes=chosen, unsigned=unsigned, algorithm=build.algorithm, chosen_at=chosen_at,
        keys=keys, later=_signed_since(engagement, chosen),
    )  # fmt: skip
    text = json.dumps(metadata, ensure_ascii=False, indent=1) + "\n"
    (folder / verify.METADATA).write_text(text, encoding="utf-8")
    # Taken last, so the signed head covers 表24's creation and every export event of this build.
    seq = checkpoint_write(actor=actor, path=folder / verify.CHECKPOINT)[1]
    extra = {"engagement": engagement.code, "built_at": metadata["built_at"]}
    manifest, count = _seal(folder, build.algorithm, extra, known=known)
    with zipfile.ZipFile(zipped, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        head.check(zipped, archive)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    built = _Built(metadata, len(chosen), reused, seq, table24)
    return _Sealed(built, manifest, count, head.digest(zipped))


def _signed_since(engagement: Engagement, chosen: list[Form]) -> list[str]:
    """The signed versions that are not the ones chosen: signed after the build chose (a newer version, or a
    form signed for the first time). The package names them and annexes what it chose."""
    annexed = {f.form_no: f.version for f in chosen}
    return [
        f"表{f.register_no} {f.form_no} v{f.version}"
        for f in annexed_forms(engagement)
        if annexed.get(f.form_no, 0) < f.version
    ]


def _sweep(folder: Path, current: int | None) -> list[str]:
    """Remove what builds no longer running left behind (a killed process): their temporary folders (and those
    of an earlier attempt of the ``current`` build), and a package file whose record never committed — one
    build of an engagement runs at a time, so no other is between its rename and its commit. The folder is
    listed before the database is asked (a build that starts later has nothing listed: the worker's sweep may
    run beside a build started elsewhere), and the records after the running builds (one that commits in
    between is recorded). Returns the names removed."""
    leftovers, zips = sorted(folder.glob(".build-*")), sorted(folder.glob("*.zip"))
    live = PackageBuild.objects.filter(
        engagement__code=folder.name, state=BuildState.RUNNING, beat_at__gt=timezone.now() - STALE
    )
    running = set(live.values_list("pk", flat=True))
    removed: list[str] = []
    for leftover in leftovers:
        number = leftover.name.split("-")[1]
        if not (number.isdigit() and int(number) in running - {current}):
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover.name)
    if running - {current}:
        return removed
    recorded = set(
        HandoverPackage.objects.filter(engagement__code=folder.name).values_list("file_name", flat=True)
    )
    for stray in zips:
        if stray.name not in recorded:
            stray.unlink(missing_ok=True)
            removed.append(stray.name)
    return removed
