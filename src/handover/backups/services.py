"""Writes of backup verification: enrolling the agents' site keys, and importing their signed bundles.

A bundle is checked completely before anything is written (handover.fixity.bundle): signature, members,
reports. A refused bundle writes nothing but the refusal in the audit trail (a bundle altered in transit
is evidence 技术组 must see). An accepted one is written in one transaction: the bundle row, the register
rows it fills, the 表39 drafts, and their audit events. The same bundle imported again, by network or by
courier (第二十八条第8项), is recognised by its digest and changes nothing.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from handover.audit.models import Outcome
from handover.audit.services import event_record
from handover.backups import events, topics
from handover.backups.evidence import Writer, targets_of
from handover.backups.models import ImportedBundle, ImportVia, KeySource, SiteKey
from handover.core import faults, filestore
from handover.core.actors import Actor, SystemActor
from handover.core.errors import DomainError, PermissionDenied, StorageFull, disk_full
from handover.fixity import keys as agent_keys
from handover.fixity.bundle import BundleRefused, Opened, open_bundle
from handover.notifications.links import Link
from handover.notifications.services import notify
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import engagement_ids_for, require

REFUSALS = {
    "not_a_bundle": gettext_lazy("not a bundle"),
    "unknown_key": gettext_lazy("from a site whose key is not enrolled"),
    "bad_signature": gettext_lazy("bad signature"),
    "altered": gettext_lazy("altered in transit"),
    "bad_report": gettext_lazy("a report in it is not valid"),
    "wrong_site": gettext_lazy("from an unenrolled site"),
    "wrong_engagement": gettext_lazy("for another engagement"),
}


class BundleRejected(DomainError):
    """A refused bundle; ``code`` is the reason (docs/fixity.md lists them)."""


def _who(actor: Actor) -> tuple[Any, str]:
    if isinstance(actor, SystemActor) or actor is None:
        return None, str(actor or "system")
    return actor, actor.get_username()


def _site_of(engagement: Engagement, code: str) -> Site:
    site = Site.objects.filter(engagement=engagement, code=code, is_active=True).first()
    if site is None:
        raise DomainError(
            _("The engagement has no active site with the code %(code)s.") % {"code": code}, field="site"
        )
    return site


def site_key_enrol(
    *,
    actor: Actor,
    engagement: Engagement,
    document: str | bytes,
    label: str = "",
    source: str = KeySource.FILE,
) -> SiteKey:
    """Register an agent's public key file (or what the agent posted) for the site it names."""
    try:
        parsed = agent_keys.parse_public(document)
    except agent_keys.SiteKeyError as exc:
        raise DomainError(str(exc), field="public_key") from None
    if parsed["engagement"] != engagement.code:
        raise DomainError(
            _("The key file is for the engagement %(code)s, not this one.") % {"code": parsed["engagement"]},
            field="public_key",
        )
    site = _site_of(engagement, parsed["site"])
    require(user=actor, engagement=engagement, capability=perms.MANAGE_SITE_KEYS, site=site)
    existing = SiteKey.objects.filter(key_id=parsed["key_id"]).first()
    if existing is not None:
        if (
            existing.site_id == site.pk
            and existing.public_key == parsed["public_key"]
            and not existing.revoked_at
        ):
            return existing  # the same file registered twice
        raise DomainError(
            _("This key is enrolled already, or was revoked; make a new one."), field="public_key"
        )
    return _key_create(actor=actor, engagement=engagement, site=site, public=parsed["public_key"],
                       key_id=parsed["key_id"], label=label or str(parsed.get("host", "")), source=source)  # fmt: skip


def _key_create(
    *, actor: Actor, engagement: Engagement, site: Site, public: str, key_id: str, label: str, source: str
) -> SiteKey:
    user, name = _who(actor)
    with transaction.atomic():
        key = SiteKey.objects.create(
            engagement=engagement, site=site, key_id=key_id, public_key=public, label=label[:100],
            source=source, enrolled_by=user, enrolled_by_name=name,
        )  # fmt: skip
        event_record(
            actor=actor,
            action=events.SITE_KEY_ISSUE if source == KeySource.ISSUED else events.SITE_KEY_ENROL,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=key,
            after={"key_id": key_id, "site": site.code, "source": source, "label": key.label},
        )
    return key


def site_key_issue(
    *, actor: Actor, engagement: Engagement, site: Site, label: str = ""
) -> tuple[SiteKey, str]:
    """Make a key pair for a site; returns the enrolled key and the key file to hand over.

    The private half is in the returned text only: it is never stored on the server nor logged.
    """
    require(user=actor, engagement=engagement, capability=perms.MANAGE_SITE_KEYS, site=site)
    made = agent_keys.generate(engagement=engagement.code, site=site.code)
    document = made.public_document()
    key = _key_create(actor=actor, engagement=engagement, site=site, public=document["public_key"],
                      key_id=made.key_id, label=label, source=KeySource.ISSUED)  # fmt: skip
    return key, json.dumps(made.private_document(), ensure_ascii=False, indent=1) + "\n"


def site_key_revoke(*, actor: Actor, key: SiteKey) -> SiteKey:
    """A revoked key signs nothing more that the server accepts; bundles already imported stay."""
    require(user=actor, engagement=key.engagement, capability=perms.MANAGE_SITE_KEYS, site=key.site)
    if key.revoked_at is not None:
        raise DomainError(_("This key is revoked already."), field="key")
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        event_record(
            actor=actor,
            action=events.SITE_KEY_REVOKE,
            engagement_id=key.engagement_id,
            site_id=key.site_id,
            obj=key,
            after={"key_id": key.key_id},
        )
    return key


@dataclass(frozen=True)
class ImportResult:
    """The bundle, and whether this import created it (False: it was imported before; nothing changed)."""

    bundle: ImportedBundle
    created: bool


def _trusted(key_id: str) -> Any:
    key = SiteKey.objects.filter(key_id=key_id, revoked_at__isnull=True).first()
    return agent_keys.load_public(base64.b64decode(key.public_key)) if key else None


def _file_digest(source: IO[bytes]) -> filestore.Digest:
    """The whole upload's SHA-256 and size, leaving it at its start for the checks that follow."""
    source.seek(0)
    digest = filestore.file_digest(source)
    source.seek(0)
    return digest


def _refusal(
    *, actor: Actor, reason: str, detail: str, file_sha256: str, engagement: Engagement | None
) -> BundleRejected:
    """Record the refusal (outside any import transaction); returns the error to raise, with the reason."""
    event_record(
        actor=actor,
        action=events.BUNDLE_REFUSE,
        engagement_id=engagement.pk if engagement else None,
        object_type="backups.bundle",
        object_id=file_sha256[:16],
        after={"reason": reason, "detail": detail, "file_sha256": file_sha256},
        outcome=Outcome.FAILURE,
    )
    return BundleRejected(
        _("Bundle refused (%(reason)s): %(detail)s")
        % {"reason": REFUSALS.get(reason, reason), "detail": detail},
        field="file",
        code=reason,
    )


def _enrolled_key(opened: Opened, engagement: Engagement | None) -> tuple[SiteKey, str, str]:
    """The key that signed, and a refusal (reason, detail) if the index claims another site or engagement."""
    key = SiteKey.objects.select_related("site", "engagement").get(key_id=opened.index["key_id"])
    if opened.index.get("site") != key.site.code:
        return key, "wrong_site", _("the bundle says site %(claimed)s, but its key is enrolled for %(site)s") % {
            "claimed": opened.index.get("site"), "site": key.site.code}  # fmt: skip
    if opened.index.get("engagement") != key.engagement.code or (engagement and engagement != key.engagement):
        return key, "wrong_engagement", _("the bundle belongs to another engagement")
    return key, "", ""


def bundle_import(
    *, actor: Actor, source: IO[bytes], via: str, engagement: Engagement | None = None, courier_no: str = ""
) -> ImportResult:
    """Check and import a bundle; ``engagement`` (from the page's or API's address) must be the bundle's.

    Who may import is checked before a byte of the archive is read (DESIGN.md decision 10): importing for the
    address's engagement, or for some engagement when there is no address (the command line); the site the
    bundle turns out to be from is checked again once its index is trusted.
    """
    _may_import(actor, engagement)
    if via == ImportVia.COURIER and not courier_no.strip():
        raise DomainError(_("A bundle that came by courier needs its courier number."), field="courier_no")
    file_sha256, size = _file_digest(source)
    try:
        opened = open_bundle(source, trusted=_trusted)
    except BundleRefused as exc:
        raise _refusal(
            actor=actor, reason=exc.reason, detail=str(exc), file_sha256=file_sha256, engagement=engagement
        ) from None
    key, reason, detail = _enrolled_key(opened, engagement)
    if reason:
        raise _refusal(
            actor=actor, reason=reason, detail=detail, file_sha256=file_sha256, engagement=engagement
        )
    require(user=actor, engagement=key.engagement, capability=perms.IMPORT_BACKUPS, site=key.site)
    with _importing():  # the sweep (bundle_files_sweep) waits: a file kept here may have no bundle yet
        return _import_kept(actor, source, opened, key, via, courier_no, file_sha256, size)


def _import_kept(
    actor: Actor, source: IO[bytes], opened: Opened, key: SiteKey, via: str, courier_no: str, file_sha256: str,
    size: int,
) -> ImportResult:  # fmt: skip
    existing = ImportedBundle.objects.filter(digest=opened.digest).first()
    if existing is not None:
        if not existing.stored_as:  # imported by a process that died before it kept the signed file
            _store(source, existing)
        return ImportResult(existing, created=False)
    # The signed file is kept before any row is written (a full disk refuses the import whole); a file with no
    # bundle yet is harmless: the next import of it finds it whole and keeps it, and the worker's sweep
    # removes it once no import runs.
    _keep_file(source, opened.digest, file_sha256)
    try:
        bundle = _import(actor=actor, opened=opened, key=key, via=via, courier_no=courier_no.strip(),
                         file_sha256=file_sha256, size=size)  # fmt: skip
    except IntegrityError:  # the same bundle imported at the same moment by someone else
        return ImportResult(ImportedBundle.objects.get(digest=opened.digest), created=False)
    faults.point("backups.import.after_rows")  # the rows committed, the signed file not kept yet
    _store(source, bundle)
    return ImportResult(bundle, created=True)


BUNDLES = "fixity-bundles"


@contextmanager
def _importing(exclusive: bool = False) -> Iterator[bool]:
    """A lock on the bundle folder (``fcntl.flock`` on ``fixity-bundles/.lock``): each import holds it shared
    from the moment it keeps the signed file until its bundle committed and its file is recorded; the sweep
    tries it exclusive, without waiting, and yields whether it has it."""
    folder = Path(default_storage.path(BUNDLES))
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, (fcntl.LOCK_EX | fcntl.LOCK_NB) if exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def bundle_files_sweep() -> list[str]:
    """Remove the signed files that imports kept and then failed or were killed before their bundle committed
    (``fixity-bundles/<digest>.zip`` with no bundle of that digest, and ``.incoming-*`` copies cut short), when
    no import is running (``handover worker`` runs it at start; a run skipped while an import holds the lock
    is done at the next start). Under the lock every kept file is either a bundle's or an ended import's, so
    none is removed that an import still needs. Returns the names removed."""
    with _importing(exclusive=True) as alone:
        if not alone:
            return []
        folder = Path(default_storage.path(BUNDLES))
        stored = set(ImportedBundle.objects.values_list("digest", flat=True))
        removed = []
        for path in sorted(folder.iterdir()):
            digest = path.name.removesuffix(".zip")
            kept = path.name.endswith(".zip") and not path.name.startswith(".")
            if path.is_file() and (path.name.startswith(".incoming-") or (kept and digest not in stored)):
                path.unlink(missing_ok=True)
                removed.append(f"{BUNDLES}/{path.name}")
        return removed


def _may_import(actor: Actor, engagement: Engagement | None) -> None:
    if engagement is not None:
        require(user=actor, engagement=engagement, capability=perms.IMPORT_BACKUPS)
    elif not isinstance(actor, SystemActor) and not engagement_ids_for(
        user=actor, capability=perms.IMPORT_BACKUPS
    ):
        raise PermissionDenied(_("You do not have the role needed for this here."))


def _import(
    *, actor: Actor, opened: Opened, key: SiteKey, via: str, courier_no: str, file_sha256: str, size: int
) -> ImportedBundle:
    user, name = _who(actor)
    index = opened.index
    problems = sum(len(r["problems"]) for r in opened.reports.values())
    with transaction.atomic():
        bundle = ImportedBundle.objects.create(
            engagement=key.engagement, site=key.site, site_key=key, digest=opened.digest,
            file_sha256=file_sha256, file_size=size, created_at_site=str(index.get("created", ""))[:40],
            tool=str(index.get("tool", ""))[:100], host=str(index.get("host", ""))[:255],
            reports=len(opened.reports), problems=problems, via=via, courier_no=courier_no,
            imported_by=user, imported_by_name=name,
        )  # fmt: skip
        writer = Writer(actor=actor, engagement=key.engagement, site=key.site, digest=opened.digest,
                        courier_no=courier_no if via == ImportVia.COURIER else "")  # fmt: skip
        written = writer.apply(targets_of(opened))
        faults.point("backups.import.mid_rows")  # inside the transaction: all the bundle's rows or none
        bundle.summary = _summary(opened, written)
        bundle.tamper = bool(written.tamper_rows)
        bundle.save(update_fields=["summary", "tamper"])
        event_record(
            actor=actor, action=events.BUNDLE_IMPORT, engagement_id=key.engagement_id, site_id=key.site_id,
            obj=bundle, after={"digest": opened.digest, "key_id": key.key_id, "via": via, **bundle.summary},
        )  # fmt: skip
        if written.tamper_rows:
            # 第二十六条第5项: tampering or deletion goes to 托管工作组 at once.
            event_record(
                actor=actor, action=events.TAMPER_FLAG, engagement_id=key.engagement_id, site_id=key.site_id,
                obj=bundle, after={"exception_rows": written.tamper_rows, "site": key.site.code},
            )  # fmt: skip
            notify(
                actor=actor, engagement=key.engagement, topic=topics.TAMPER_FLAG, site=key.site,
                title=_("%(site)s: signs of tampering in a backup, to report to the working group at once")
                % {"site": key.site.name},
                link=Link("backups:bundle_list", code=key.engagement.code),
                summary_title=_("Signs of tampering in a backup at a site"),
            )  # fmt: skip
    return bundle


def _summary(opened: Opened, written: Any) -> dict[str, Any]:
    reports = []
    for entry in opened.report_entries:
        report = opened.reports[entry["name"]]
        counts: dict[str, int] = {}
        for problem in report["problems"]:
            counts[problem["kind"]] = counts.get(problem["kind"], 0) + 1
        reports.append({"name": entry["name"], "command": report["command"], "register": entry["register"],
                        "system": entry["system"], "files": report["files"], "bytes": report["bytes"],
                        "counts": counts})  # fmt: skip
    return {"reports": reports, "rows": written.rows, "exceptions": written.exceptions,
            "tamper_rows": written.tamper_rows}  # fmt: skip


def _store(source: IO[bytes], bundle: ImportedBundle) -> None:
    """Keep the signed file as evidence (content-addressed, so a retry writes the same name)."""
    name = _keep_file(source, bundle.digest, bundle.file_sha256)
    ImportedBundle.objects.filter(pk=bundle.pk).update(stored_as=name)
    bundle.stored_as = name


def _keep_file(source: IO[bytes], digest: str, file_sha256: str) -> str:
    """The signed file at its content-addressed name, written whole or not at all: to a temporary name,
    synced, then renamed (a death or a full disk mid-write leaves no partial file under the name). A file
    already there is kept only if it hashes to the bundle's SHA-256; else it is written again."""
    name = f"{BUNDLES}/{digest}.zip"
    target = Path(default_storage.path(name))
    if target.exists():
        with target.open("rb") as held:
            if _file_digest(held)[0] == file_sha256:
                return name
    source.seek(0)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, filestore.CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        if disk_full(exc):
            raise StorageFull(field="file") from exc
        raise
    return name
