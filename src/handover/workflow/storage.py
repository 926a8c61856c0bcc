"""Evidence files under HANDOVER_DATA_DIR/workflow/evidence, named by their SHA-256 (content-addressed).

The store is ``handover.core.filestore``: the same content is stored once, a file is hashed while it is
written to a temporary name and renamed only when complete, and a file is checked against its hash before
it is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

from handover.core import filestore
from handover.core.errors import DomainError
from handover.registers.attachments import content_type_of, receive_within_limit


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    relative: str  # under the data folder


def root() -> Path:
    return Path(settings.DATA_DIR) / "workflow" / "evidence"


def evidence_store() -> filestore.FileStore:
    return filestore.FileStore(root())


def store(stream: BinaryIO, name: str = "") -> Stored:
    """Copy ``stream`` into the evidence folder; returns its hash, size and stored name. An empty file, one
    past the attachments' size limit (``HANDOVER_ATTACHMENT_MAX_BYTES``), one that is not an evidence type
    (HTML, SVG, a program) or a text holding what looks like a password is refused, naming ``name``, and
    nothing is kept: evidence is kept like a register attachment (registers.md §1.3, no secrets)."""
    with receive_within_limit(evidence_store(), filestore.read_chunks(stream), name) as pending:
        if pending.size == 0:
            raise DomainError(_("The file %(name)s is empty.") % {"name": name}, field="file")
        content_type_of(pending.path, name)
        kept = pending.commit()
    return Stored(kept.sha256, kept.size, str(kept.path.relative_to(settings.DATA_DIR)))


def open_verified(sha256: str, name: str) -> BinaryIO:
    """The evidence file with this hash, after checking it still has it; a refusal naming ``name``."""
    try:
        return evidence_store().open(sha256)
    except filestore.Missing:
        raise DomainError(
            _("The stored file of %(name)s is missing; report this to the technical group.") % {"name": name},
            field="evidence",
        ) from None
    except filestore.Changed:
        raise DomainError(
            _(
                "The stored file %(name)s no longer has the SHA-256 recorded when it was attached; it is not served."
            )
            % {"name": name},
            field="evidence",
        ) from None
