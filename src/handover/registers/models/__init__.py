"""The registers' models: the generic form/row/signature store and the shared entities (registers.md §2)."""

from handover.registers.models.attachments import Attachment
from handover.registers.models.entities import (
    Account,
    Asset,
    BackupItem,
    CommunicationLine,
    Contract,
    Document,
    InformationSystem,
    Software,
)
from handover.registers.models.forms import (
    FROZEN_STATES,
    Form,
    FormState,
    Row,
    Signature,
    SignatureKind,
    SignatureMethod,
)
from handover.registers.models.imports import ImportJob, ImportState

__all__ = [
    "FROZEN_STATES",
    "Account",
    "Asset",
    "Attachment",
    "BackupItem",
    "CommunicationLine",
    "Contract",
    "Document",
    "Form",
    "FormState",
    "ImportJob",
    "ImportState",
    "InformationSystem",
    "Row",
    "Signature",
    "SignatureKind",
    "SignatureMethod",
    "Software",
]
