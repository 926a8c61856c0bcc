"""Evidence files on register rows: scans of signed paper, screenshots, configuration files.

A file is streamed to the data folder while its SHA-256 is computed, refused past the size limit
(``HANDOVER_ATTACHMENT_MAX_BYTES``), and accepted only when its content is one of the evidence types below,
whatever its name says. Text files are read for credentials first: registers.md §1.3 keeps secrets out of
everything a register holds, and a configuration file is where a password most often hides.
The hash goes into the audit event, so the stored file can be checked against the trail at any time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError
from handover.core.filestore import FileStore, Pending, TooLarge
from handover.org import permissions as perms
from handover.org.selectors import require
from handover.registers import events
from handover.registers.columns import Column
from handover.registers.models import Attachment, Form, Row
from handover.registers.services import RowInvalid
from handover.registers.validation import clean_row, looks_like_credential

# Content signatures of the accepted evidence types, and the file-name endings each may carry.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_SUFFIXES = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg"},
    "image/tiff": {".tif", ".tiff"},
    "image/gif": {".gif"},
}
_TEXT = "text/plain"
# Text that a browser runs or renders (HTML, SVG, XML with scripts) is not kept as evidence, whatever it is named:
# it would run if it were ever served inline. A page or a drawing is kept as the PDF or PNG of it.
_MARKUP_SUFFIXES = {".html", ".htm", ".xhtml", ".svg", ".svgz", ".xml", ".xsl", ".js", ".mht", ".mhtml"}
_MARKUP = re.compile(r"<\s*(!doctype\s+html|html|svg|script|body|iframe|\?xml)\b", re.IGNORECASE)
ACCEPTED = "PDF, PNG, JPEG, TIFF, GIF, " + _("plain text (configuration files, logs)")


def storage_dir() -> Path:
    return Path(settings.HANDOVER_ATTACHMENT_DIR)


def attachment_store() -> FileStore:
    """The attachments' content-addressed store: the same scan is stored once."""
    return FileStore(storage_dir())


def stored_path(sha256: str) -> Path:
    """Where the file with this hash is kept."""
    return attachment_store().path(sha256)


def _decoded_text(path: Path) -> str | None:
    """The file as text when it is text (UTF-8 or GB18030, no NUL bytes), else None."""
    raw = path.read_bytes()
    if b"\x00" in raw:
        return None
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def content_type_of(path: Path, name: str) -> str:
    """The evidence type of the file by its content; a refusal naming what was found and what is accepted.

    Shared with workflow evidence (workflow.storage): the same types, and the same credential scan of text.
    """
    with path.open("rb") as handle:
        head = handle.read(16)
    found = next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)
    if found is None:
        text = _decoded_text(path)
        if text is None:
            raise DomainError(
                _("%(name)s is not a file type kept as evidence. Accepted: %(types)s.")
                % {"name": name, "types": ACCEPTED},
                field="file",
            )
        for number, line in enumerate(text.splitlines(), start=1):
            if looks_like_credential(line):
                raise DomainError(
                    _(
                        "Line %(line)d of %(name)s looks like a password or other secret. Registers never "
                        "hold secrets (registers.md §1.3): remove or mask it and attach the file again."
                    )
                    % {"line": number, "name": name},
                    field="file",
                )
        if PurePath(name).suffix.lower() in _MARKUP_SUFFIXES or _MARKUP.search(text[:4096]):
            raise DomainError(
                _(
                    "%(name)s is a web page or a drawing in markup (HTML, SVG, XML), which a browser could run. "
                    "Keep it as a PDF or PNG instead."
                )
                % {"name": name},
                field="file",
            )
        found = _TEXT
    suffix = PurePath(name).suffix.lower()
    claimed = next((kind for kind, endings in _SUFFIXES.items() if suffix in endings), None)
    if claimed is not None and claimed != found:
        raise DomainError(
            _(
                "%(name)s is named as %(claimed)s but its content is %(found)s; check that it is the right file."
            )
            % {"name": name, "claimed": claimed, "found": found},
            field="file",
        )
    return found


@dataclass(frozen=True)
class StoredFile:
    """A file in the store, checked, not yet attached to anything."""

    name: str
    sha256: str
    size: int
    content_type: str


def receive_within_limit(store: FileStore, chunks: Iterable[bytes], name: str) -> Pending:
    """Receive a file into ``store`` under the attachments' size limit (``HANDOVER_ATTACHMENT_MAX_BYTES``),
    which evidence files share; past it, a refusal naming ``name``, and nothing kept."""
    limit = settings.HANDOVER_ATTACHMENT_MAX_BYTES
    try:
        return store.receive(chunks, limit=limit)
    except TooLarge:
        raise DomainError(
            _("%(name)s is larger than the %(limit)d MiB an attachment may be.")
            % {"name": name, "limit": limit // (1024 * 1024)},
            field="file",
        ) from None


def file_store(*, name: str, chunks: Iterable[bytes]) -> StoredFile:
    """Stream a file into the store, check its size and content; nothing is written to the database.

    An unused stored file is harmless (the store is content-addressed) and is never deleted, so a failed
    write afterwards loses nothing already attached.
    """
    name = PurePath(name.replace("\\", "/")).name[:255] or "attachment"
    with receive_within_limit(attachment_store(), chunks, name) as pending:
        if pending.size == 0:
            raise DomainError(_("%(name)s is empty.") % {"name": name}, field="file")
        content_type = content_type_of(pending.path, name)
        pending.commit()
    return StoredFile(name=name, sha256=pending.sha256, size=pending.size, content_type=content_type)


def _record(
    *, actor: Actor, form: Form, row: Row | None, stored: StoredFile, column: str = "", description: str = ""
) -> Attachment:
    attachment = Attachment.objects.create(
        form=form,
        row=row,
        column=column,
        name=stored.name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        description=description.strip(),
        created_by=actor_user(actor),
    )
    event_record(
        actor=actor,
        action=events.ATTACHMENT_ADD,
        engagement_id=form.engagement_id,
        site_id=form.site_id,
        obj=attachment,
        after={
            "form": form.form_no,
            "form_version": form.version,
            "row": row.pk if row else None,
            "seq": row.seq if row else None,
            "column": column,
            "name": stored.name,
            "type": stored.content_type,
            "size": stored.size,
            "sha256": stored.sha256,
        },
    )
    return attachment


def attachment_add(
    *,
    actor: Actor,
    form: Form,
    name: str,
    chunks: Iterable[bytes],
    row: Row | None = None,
    description: str = "",
) -> Attachment:
    """Attach an evidence file to a form or to the current version of one of its rows. Signed ones too:
    the scan of the signed paper comes after the signatures, and a file adds to a record without changing it.
    """
    require(user=actor, engagement=form.engagement, capability=perms.FILL_REGISTERS, site=form.site)
    if not form.is_current or (row is not None and (not row.is_current or row.form_id != form.pk)):
        raise DomainError(_("Attach evidence to the current version."), field="file")
    stored = file_store(name=name, chunks=chunks)
    with transaction.atomic():
        return _record(actor=actor, form=form, row=row, stored=stored, description=description)


Target = TypeVar("Target", Form, Row)


def write_with_files(
    *,
    actor: Actor,
    write: Callable[[dict[str, Any]], Target],
    data: dict[str, Any],
    files: dict[str, tuple[str, Iterable[bytes]]],
    columns: tuple[Column, ...],
) -> Target:
    """Store the files of ``att`` columns, then run ``write`` (a register service: form_create, row_add,
    row_update, row_correct) with each column's value set to its file's SHA-256, and record the files as
    attachments of what it wrote, in one transaction.

    A refused file is reported on its column together with every other invalid value of ``columns``
    (RowInvalid), so a person fixes everything at once; nothing is written then.
    """
    stored: dict[str, StoredFile] = {}
    refused: dict[str, list[str]] = {}
    for key, (name, chunks) in files.items():
        try:
            stored[key] = file_store(name=name, chunks=chunks)
        except DomainError as exc:
            refused[key] = [str(exc.message)]
    if refused:
        _clean, errors = clean_row(columns, {**data, **dict.fromkeys(refused, "refused")})
        raise RowInvalid({**errors, **refused})
    with transaction.atomic():
        target = write({**data, **{key: file.sha256 for key, file in stored.items()}})
        form, row = (target, None) if isinstance(target, Form) else (target.form, target)
        for key, file in stored.items():
            _record(actor=actor, form=form, row=row, stored=file, column=key)
    return target
