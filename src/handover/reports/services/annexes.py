"""The annex store: each signed form version a package annexes is exported once, as xlsx and PDF, into the data
folder and reused by every later build (DESIGN.md decision 2: a signed version never changes).

A file is kept under ``.annexes/<engagement>/<site>/<form no>-v<n>-<key>.<fmt>`` in HANDOVER_PACKAGE_DIR and
recorded as an ``AnnexFile``. Its ``key`` is the SHA-256 of the version's content as the export shows it (header,
current rows, signatures, state) with ``EXPORT_FORMAT``: a version whose content differs from what was exported
(an archived state, a changed export frame) gets a new file, never the old one. A reused file is hashed again
and used only if it is still the file recorded; otherwise it is exported anew. The first export of a version is
an audit event (``register_export``'s); a reuse is not an export and is named in the package's own event.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q

from handover.core.actors import Actor, system
from handover.core.filestore import file_digest
from handover.org.models import Engagement
from handover.registers.io.exporting import register_export
from handover.registers.models import Form, Row, Signature
from handover.reports.models import AnnexFile
from handover.reports.services.common import ANNEXES, BOTH, FROZEN

# Bump when the official frame of an export changes, so that no file of the old frame is reused.
EXPORT_FORMAT = "handover-annex/1"

# Forms whose content is read in one query (SQLite takes at most 999 parameters a statement).
_CHUNK = 400


def annex_store(engagement: Engagement) -> Path:
    """Where the engagement's exported annexes are kept (a dot folder: no engagement code starts with a dot)."""
    return Path(settings.HANDOVER_PACKAGE_DIR) / ".annexes" / engagement.code


def annex_path(engagement: Engagement, form: Form, key: str, fmt: str) -> Path:
    """Where one format of a form version with content ``key`` is kept in the store."""
    return annex_store(engagement) / form.site.code / f"{form.form_no}-v{form.version}-{key[:16]}.{fmt}"


def content_keys(forms: list[Form]) -> dict[int, str]:
    """Each form's content key: SHA-256 over what its export shows, read in a few queries for all forms."""
    keys: dict[int, str] = {}
    for start in range(0, len(forms), _CHUNK):
        chunk = forms[start : start + _CHUNK]
        ids = [f.pk for f in chunk]
        rows: dict[int, list[Any]] = {pk: [] for pk in ids}
        for row in (
            Row.objects.filter(form_id__in=ids, is_current=True)
            .order_by("form_id", "seq", "pk")
            .values("form_id", "pk", "seq", "data", "remarks", "version")
        ):
            rows[row["form_id"]].append(row)
        signed: dict[int, list[Any]] = {pk: [] for pk in ids}
        for form_id, row_form, *rest in (
            Signature.objects.filter(Q(form_id__in=ids) | Q(row__form_id__in=ids))
            .order_by("pk")
            .values_list("form_id", "row__form_id", "row_id", "kind", "role", "person_id", "method",
                         "opinion", "signed_at")
        ):  # fmt: skip
            signed[form_id or row_form].append(rest)
        for form in chunk:
            content = [EXPORT_FORMAT, form.pk, form.form_no, form.version, form.state, form.header,
                       str(form.form_date), rows[form.pk], signed[form.pk]]  # fmt: skip
            text = json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)
            keys[form.pk] = hashlib.sha256(text.encode()).hexdigest()
    return keys


@dataclass(frozen=True)
class Annex:
    """One file of a site's annexes, ready to go into the package: its name there, the stored file, its size
    and its digest in the package's algorithm."""

    name: str
    path: Path
    size: int
    digest: str
    reused: bool


def annexes_ready(
    *, actor: Actor, engagement: Engagement, forms: Iterable[Form], keys: dict[int, str], algorithm: str
) -> list[Annex]:
    """The xlsx and PDF of each form, reused from the store when recorded and unchanged, else exported now."""
    forms = list(forms)
    recorded = {
        (a.form_id, a.fmt, a.key): a
        for a in AnnexFile.objects.filter(form_id__in=[f.pk for f in forms], key__in=set(keys.values()))
    }
    ready = []
    for form in forms:
        key = keys[form.pk]
        for fmt in BOTH:
            path = (
                annex_store(engagement) / form.site.code / f"{form.form_no}-v{form.version}-{key[:16]}.{fmt}"
            )
            known = recorded.get((form.pk, fmt, key))
            digest = _digest_if(path, known.sha256 if known else None)
            reused = digest is not None
            if digest is None:
                digest = _export(actor, engagement, form, fmt, key, path)
            if algorithm != "sha256":
                with path.open("rb") as handle:
                    digest = file_digest(handle, algorithm)
            name = f"annexes/{form.site.code}/{form.form_no}-v{form.version}.{fmt}"
            ready.append(Annex(name, path, digest.size, digest.hexdigest, reused))
    return ready


def _digest_if(path: Path, sha256: str | None) -> Any:
    """The stored file's SHA-256 digest if it is the file recorded, else None (missing, changed, unrecorded)."""
    if sha256 is None:
        return None
    try:
        with path.open("rb") as handle:
            digest = file_digest(handle)
    except OSError:
        return None
    return digest if digest.hexdigest == sha256 else None


def _export(actor: Actor, engagement: Engagement, form: Form, fmt: str, key: str, path: Path) -> Any:
    """Export one format of a signed version into the store (under a temporary name, then renamed) and record
    it; the export itself is audited by ``register_export``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        register_export(
            actor=actor,
            engagement=engagement,
            register_no=form.register_no,
            fmt=fmt,
            out=str(partial),
            form=form,
        )
        with partial.open("rb") as handle:
            digest = file_digest(handle)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    AnnexFile.objects.update_or_create(
        form=form, fmt=fmt, key=key, defaults={"sha256": digest.hexdigest, "size": digest.size}
    )
    return digest


def annex_export_asked(form_id: int) -> None:
    """A form was signed (registers' hook, after the commit): have the worker export it into the store now, so
    that the package build, hours later, finds it there (HANDOVER_PACKAGE_EXPORT_AT_SIGNING, on by default)."""
    if not getattr(settings, "HANDOVER_PACKAGE_EXPORT_AT_SIGNING", False):
        return
    from handover.reports.tasks import annex_export

    annex_export.enqueue(form_id)


def annex_export(*, form_id: int) -> int:
    """Export one signed form version into the store unless it is there already (the task's body); returns the
    files exported. A form the package does not annex, or no longer signed, is left alone."""
    form = Form.objects.select_related("site", "engagement").filter(pk=form_id).first()
    if form is None or form.register_no not in ANNEXES or form.state not in FROZEN:
        return 0
    keys = content_keys([form])
    actor = system("annex-export")
    ready = annexes_ready(
        actor=actor, engagement=form.engagement, forms=[form], keys=keys, algorithm="sha256"
    )
    return sum(1 for annex in ready if not annex.reused)
