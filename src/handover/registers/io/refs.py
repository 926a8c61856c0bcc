"""References in files: people write names and codes, the registers store ids (registers.md §2).

A site is written by its code, a person, organisation or system by its name, a host by its host name (or
fixed-asset number), an account as ``login@host`` (or ``login@system``; the bare login when the row names its
system), a line by its number, and a row of another register as ``编号#序号`` of its form. A name that several
rows share is exported as ``name#id`` so that it reads back to the same row; a system or host is first looked
for at the form's own site. Lookups load each kind once per import or export, so a 10,000-row file costs a
handful of queries, not one per cell.

An import resolves names only among what its user may point at, the very querysets the form and the API
offer (``selectors.ref_choices``, ``selectors.register_rows``: the user's VIEW_REGISTERS sites, plus people
of no site). A name outside them is "not found" in the same words as a name that does not exist, so an
import is no oracle for other branches' people, systems or forms.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org.models import Engagement, Organisation, OrgType, Person, Site
from handover.org.selectors import firm_label_for
from handover.registers.columns import Column
from handover.registers.models import (
    BackupItem,
    CommunicationLine,
    Contract,
    Document,
    InformationSystem,
    Row,
    Software,
)
from handover.registers.selectors import ENTITY_MODELS, ref_choices, register_rows

_WITH_ID = re.compile(r"^(?P<name>.*)#(?P<id>\d+)$")


def register_numbers(ref: str) -> tuple[int, ...]:
    """``"T11|T12"`` → (11, 12)."""
    return tuple(int(part[1:]) for part in ref.split("|"))


class _Names:
    """id ↔ name for one kind of entity in one engagement, with the site of each row where it has one."""

    def __init__(self, rows: Iterable[tuple[int, str, int | None]]) -> None:
        self.name_of: dict[int, str] = {}
        self.site_of: dict[int, int | None] = {}
        self.ids_of: dict[str, list[int]] = defaultdict(list)
        for pk, name, site_id in rows:
            self.name_of[pk] = name
            self.site_of[pk] = site_id
            self.ids_of[name].append(pk)

    def add_alias(self, pk: int, alias: str) -> None:
        if alias and pk not in self.ids_of[alias]:
            self.ids_of[alias].append(pk)

    def label(self, pk: int) -> str:
        name = self.name_of.get(pk)
        if name is None:
            return f"#{pk}"
        return name if len(self.ids_of[name]) == 1 else f"{name}#{pk}"

    def find(self, text: str, site_id: int | None) -> int:
        match = _WITH_ID.match(text)
        if match and int(match["id"]) in self.name_of:
            return int(match["id"])
        ids = self.ids_of.get(text, [])
        if len(ids) > 1 and site_id is not None:
            ids = [pk for pk in ids if self.site_of.get(pk) == site_id] or ids
        if not ids:
            raise LookupError(_("Not found: %(name)s.") % {"name": text})
        if len(ids) > 1:
            raise LookupError(
                _("%(count)d rows are called %(name)s; write %(name)s#id with the id of the one you mean.")
                % {"count": len(ids), "name": text}
            )
        return ids[0]


# kind → (model, the field people write, the field giving the row's site or "" when it has none).
_SIMPLE: dict[str, tuple[Any, str, str]] = {
    "site": (Site, "code", "pk"),
    "org": (Organisation, "name", ""),
    "person": (Person, "name", "site_id"),
    "system": (InformationSystem, "name", "site_id"),
    "software": (Software, "name", ""),
    "contract": (Contract, "contract_no", ""),
    "line": (CommunicationLine, "line_no", "a_site_id"),
    "document": (Document, "title", "site_id"),
    "backup_item": (BackupItem, "media_no", "site_id"),
}


class References:
    """Both directions for one engagement: ``label`` (id → text, for exports) and ``resolve`` (text → id).

    With ``user`` (an import), only what that user may reference is known; without (an export of forms
    the user may see), the whole engagement, to name what the stored rows point at."""

    def __init__(self, engagement: Engagement, *, user: Actor | None = None, reader: Any = None) -> None:
        self.engagement = engagement
        self.user = user
        # 第十一条: the firm's organisation is named (and taken back) under its code name for whoever may not
        # read the real name: the importing user, or ``reader``, the user an export is made for.
        who = user if user is not None else reader
        self.firm_label = firm_label_for(user=who, engagement=engagement) if who is not None else None
        self._names: dict[str, _Names] = {}
        self._rows: dict[int, tuple[str, int]] = {}
        self._row_ids: dict[tuple[str, int], tuple[int, int]] = {}
        self._registers_loaded: set[int] = set()
        self._account_login: dict[tuple[int, str], list[int]] = defaultdict(list)

    # -- entities ---------------------------------------------------------------------------------------
    def _entities(self, kind: str) -> QuerySet[Any]:
        """The rows of ``kind`` a name may resolve to: the user's choices, else the engagement's."""
        if self.user is not None:
            return ref_choices(user=self.user, engagement=self.engagement, ref=kind)
        model = ENTITY_MODELS[kind][0]
        return model._default_manager.filter(engagement=self.engagement)

    def _load(self, kind: str) -> _Names:
        if kind not in self._names:
            if kind == "asset":
                self._names[kind] = self._assets()
            elif kind == "account":
                self._names[kind] = self._accounts()
            else:
                _model, name_field, site_field = _SIMPLE[kind]
                rows: list[tuple[Any, ...]] = list(
                    self._entities(kind).values_list("pk", name_field, site_field or "pk")
                )
                if kind == "org" and self.firm_label:
                    firm = set(self._entities(kind).filter(type=OrgType.FIRM).values_list("pk", flat=True))
                    rows = [(pk, self.firm_label if pk in firm else name, s) for pk, name, s in rows]
                names = _Names((pk, name, site if site_field else None) for pk, name, site in rows)
                if kind == "site":
                    for pk, name in self._entities(kind).values_list("pk", "name"):
                        names.add_alias(pk, name)
                self._names[kind] = names
        return self._names[kind]

    def _assets(self) -> _Names:
        rows = self._entities("asset").values_list("pk", "hostname", "name", "fixed_asset_no", "site_id")
        names = _Names((pk, host or name, site) for pk, host, name, _no, site in rows)
        for pk, host, name, number, _site in rows:
            names.add_alias(pk, name if host else "")
            names.add_alias(pk, number)
        return names

    def _accounts(self) -> _Names:
        rows = self._entities("account").values_list(
            "pk",
            "login_name",
            "asset__hostname",
            "asset__name",
            "system__name",
            "system_id",
            "system__site_id",
        )
        names = _Names(
            (pk, f"{login}@{host or aname or sname}", site)
            for pk, login, host, aname, sname, _s, site in rows
        )
        for pk, login, host, aname, sname, system, _site in rows:
            self._account_login[(system, login)].append(pk)
            names.add_alias(pk, f"{login}@{sname}")
            if host and aname:
                names.add_alias(pk, f"{login}@{aname}")
        return names

    # -- rows of other registers ------------------------------------------------------------------------
    def _load_registers(self, numbers: Iterable[int]) -> None:
        wanted = set(numbers) - self._registers_loaded
        if not wanted:
            return
        if self.user is not None:
            refs = "|".join(f"T{n}" for n in sorted(wanted))
            found = register_rows(user=self.user, engagement=self.engagement, refs=refs)
        else:
            found = Row.objects.filter(form__engagement=self.engagement, form__register_no__in=wanted)
        rows = found.values_list(
            "pk", "form__form_no", "seq", "form__register_no", "is_current", "form__is_current"
        )
        for pk, form_no, seq, number, row_current, form_current in rows:
            self._rows[pk] = (form_no, seq)
            if row_current and form_current:
                self._row_ids[(form_no, seq)] = (pk, number)
        self._registers_loaded |= wanted

    # -- the two directions -----------------------------------------------------------------------------
    def label(self, column: Column, value: Any) -> Any:
        """The text a person reads and an import takes back, for a stored ref or refs value."""
        if value is None or value == []:
            return None
        values = value if isinstance(value, list) else [value]
        if column.ref.startswith("T"):
            self._load_registers(register_numbers(column.ref))
            labels = [self._row_label(int(v)) for v in values]
        else:
            names = self._load(column.ref)
            labels = [names.label(int(v)) for v in values]
        return labels if column.type == "refs" else labels[0]

    def _row_label(self, pk: int) -> str:
        if pk not in self._rows:
            found = Row.objects.filter(pk=pk).values_list("form__form_no", "seq").first()
            self._rows[pk] = found if found else (f"#{pk}", 0)
        form_no, seq = self._rows[pk]
        return f"{form_no}#{seq}"

    def resolve(self, column: Column, text: str, *, site_id: int, row: dict[str, Any]) -> int:
        """The id ``text`` names for ``column``, or LookupError with the reason."""
        if column.ref.startswith("T"):
            return self._resolve_row(column, text)
        if column.ref == "account" and "@" not in text and row.get("system_id") is not None:
            self._load("account")
            ids = self._account_login.get((row["system_id"], text), [])
            if len(ids) == 1:
                return ids[0]
        return self._load(column.ref).find(text, site_id)

    def _resolve_row(self, column: Column, text: str) -> int:
        numbers = register_numbers(column.ref)
        self._load_registers(numbers)
        form_no, _sep, seq = text.rpartition("#")
        if not form_no or not seq.isdecimal():
            raise LookupError(
                _("Write the row as 编号#序号 of its form, e.g. %(example)s.")
                % {"example": f"BA-T{numbers[0]:02d}-20261201-001#1"}
            )
        found = self._row_ids.get((form_no, int(seq)))
        if found is None or found[1] not in numbers:
            registers = "、".join(f"表{n}" for n in numbers)
            raise LookupError(
                _("No current row %(row)s in %(registers)s.") % {"row": text, "registers": registers}
            )
        return found[0]
