"""References in files: people write names and codes, the registers store ids (registers.md §2).

A site is written by its code, a person, organisation or system by its name, a host by its host name (or
fixed-asset number), an account as ``login@host`` (or ``login@system``; the bare login when the row names its
system), a line by its number, and a row of another register as ``编号#序号`` of its form (the form's number
and the row's 序号, both printed). A file never shows an internal id: a name several rows share is written
plain when it reads back to the same row from the form's site (a name is first looked for at the form's own
site, then in its subtree), else with the row's site in full-width brackets (``营业部柜台系统（杭州营业部）``),
then the kind's further attributes (a person's department, post, phone). ``name#id``, which exports wrote
before, is still read. Lookups load each kind once per import or export, so a 10,000-row file costs a
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


_QUALIFIED = re.compile(r"^(?P<name>.+)（(?P<qualifiers>[^（）]+)）$")
_MAX_CHOICES = 5  # qualified names offered in an "ambiguous" message


class _Sites:
    """The engagement's sites as people tell them apart: by name (by code when two share a name), and
    which lie in which subtree."""

    def __init__(self, engagement: Engagement) -> None:
        rows = list(Site.objects.filter(engagement=engagement).values_list("pk", "code", "name", "path"))
        names: dict[str, int] = defaultdict(int)
        for _pk, _code, name, _path in rows:
            names[name] += 1
        self.label = {pk: name if names[name] == 1 else code for pk, code, name, _p in rows}
        self.aliases = {pk: {code, name} for pk, code, name, _p in rows}
        self.path = {pk: path for pk, _c, _n, path in rows}

    def within(self, site_id: int | None, scope: int) -> bool:
        """``site_id`` is ``scope`` or lies in its subtree."""
        if site_id is None:
            return False
        return self.path.get(site_id, "").startswith(self.path.get(scope, "\0"))


class _Names:
    """id ↔ name for one kind of entity in one engagement, with the site of each row where it has one.

    A name is written plain when it reads back to its row from the form's site; else qualified in full-width
    brackets by the row's site (``营业部柜台系统（杭州营业部）``), then by the kind's other attributes
    (``张伟（杭州营业部，运维部）``). Never by an id: ids are internal."""

    def __init__(
        self,
        rows: Iterable[tuple[int, str, int | None]],
        sites: _Sites,
        extras: dict[int, tuple[str, ...]] | None = None,
    ) -> None:
        self.sites = sites
        self.extras = extras or {}
        self.name_of: dict[int, str] = {}
        self.site_of: dict[int, int | None] = {}
        self.ids_of: dict[str, list[int]] = defaultdict(list)
        self._qualified: dict[str, list[int]] | None = None
        self._labels: dict[tuple[int, int | None], str] = {}
        for pk, name, site_id in rows:
            self.name_of[pk] = name
            self.site_of[pk] = site_id
            self.ids_of[name].append(pk)

    def add_alias(self, pk: int, alias: str) -> None:
        if alias and pk not in self.ids_of[alias]:
            self.ids_of[alias].append(pk)

    def _qualifier_sets(self, pk: int, *, every_alias: bool) -> list[list[str]]:
        """The qualifier lists for ``pk``, in the order an export tries them: its site; its further attributes
        (``开发部``, then ``开发部，工程师``); the site with them. ``every_alias``: with the site written by its
        code and by its name, the forms an import accepts."""
        site = self.site_of.get(pk)
        labels = [self.sites.label.get(site)] if site is not None else []
        if site is not None and every_alias:
            labels += sorted(self.sites.aliases.get(site, ()))
        site_names = list(dict.fromkeys(name for name in labels if name))
        extras = [e for e in self.extras.get(pk, ()) if e]
        steps = [extras[:count] for count in range(1, len(extras) + 1)]
        found: list[list[str]] = [[name] for name in site_names]
        found += steps
        found += [[name, *step] for name in site_names for step in steps]
        return found

    def _written(self, pk: int, parts: list[str]) -> str:
        return f"{self.name_of[pk]}（{'，'.join(parts)}）"

    def _qualified_ids(self) -> dict[str, list[int]]:
        if self._qualified is None:
            self._qualified = defaultdict(list)
            for pk in self.name_of:
                for parts in self._qualifier_sets(pk, every_alias=True):
                    text = self._written(pk, parts)
                    if pk not in self._qualified[text]:
                        self._qualified[text].append(pk)
        return self._qualified

    def label(self, pk: int, site_id: int | None) -> str:
        """What to write for ``pk`` in a form of ``site_id``: the plainest text that reads back to it."""
        key = (pk, site_id)
        if key not in self._labels:
            self._labels[key] = self._label(pk, site_id)
        return self._labels[key]

    def _label(self, pk: int, site_id: int | None) -> str:
        name = self.name_of.get(pk)
        if name is None:
            return _("(not found)")
        if self._reads_back(name, pk, site_id):
            return name
        for parts in self._qualifier_sets(pk, every_alias=False):
            text = self._written(pk, parts)
            if self._reads_back(text, pk, site_id):
                return text
        # Two rows alike in everything a person writes: the most qualified name; an import asks which.
        sets = self._qualifier_sets(pk, every_alias=False)
        return self._written(pk, sets[-1]) if sets else name

    def _reads_back(self, text: str, pk: int, site_id: int | None) -> bool:
        return self._lookup(text, site_id)[0] == pk

    def _narrow(self, ids: list[int], site_id: int | None) -> list[int]:
        """Several rows share a name: the one at the form's site, else the one in its subtree."""
        if len(ids) <= 1 or site_id is None:
            return ids
        here = [pk for pk in ids if self.site_of.get(pk) == site_id]
        if here:
            return here
        below = [pk for pk in ids if self.sites.within(self.site_of.get(pk), site_id)]
        return below or ids

    def _lookup(self, text: str, site_id: int | None) -> tuple[int | None, list[int]]:
        """The row ``text`` names from ``site_id`` (None when it names none or several), and the candidates."""
        ids = self._narrow(self.ids_of.get(text, []), site_id)
        if len(ids) == 1:
            return ids[0], ids
        qualified = self._qualified_ids().get(text, []) if _QUALIFIED.match(text) else []
        if len(qualified) == 1:
            return qualified[0], qualified
        # Files exported before names were qualified wrote ``name#id``: still read back.
        match = _WITH_ID.match(text)
        if match and not ids and int(match["id"]) in self.name_of:
            pk = int(match["id"])
            if match["name"] in (self.name_of[pk], "") or pk in self.ids_of.get(match["name"], []):
                return pk, [pk]
        return None, ids or qualified

    def find(self, text: str, site_id: int | None) -> int:
        found, candidates = self._lookup(text, site_id)
        if found is not None:
            return found
        if not candidates:
            raise LookupError(
                " ".join(
                    (
                        _("Not found: %(name)s.") % {"name": text},
                        _(
                            "Write the name the registers list; where several share it, add the site in "
                            "full-width brackets: 名称（站点）."
                        ),
                    )
                )
            )
        choices = "、".join(self.label(pk, site_id) for pk in candidates[:_MAX_CHOICES])
        raise LookupError(
            _("%(count)d rows are called %(name)s; write which one you mean, e.g. one of %(choices)s.")
            % {"count": len(candidates), "name": text, "choices": choices}
        )


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

# kind → the attributes, after the site, that tell two same-named rows apart in a file (in this order).
_EXTRAS: dict[str, tuple[str, ...]] = {
    "person": ("department", "post", "phone"),
    "software": ("version",),
    "document": ("doc_no", "location"),
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
        self._sites: _Sites | None = None

    @property
    def sites(self) -> _Sites:
        if self._sites is None:
            self._sites = _Sites(self.engagement)
        return self._sites

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
                extras: dict[int, tuple[str, ...]] = {}
                if kind == "org" and self.firm_label:
                    extras = self._firm_ordinals()
                if kind in _EXTRAS:
                    fields = _EXTRAS[kind]
                    for pk, *values in self._entities(kind).values_list("pk", *fields):
                        extras[pk] = tuple(str(v) for v in values if v)
                names = _Names(
                    ((pk, name, site if site_field else None) for pk, name, site in rows), self.sites, extras
                )
                if kind == "site":
                    for pk, name in self._entities(kind).values_list("pk", "name"):
                        names.add_alias(pk, name)
                self._names[kind] = names
        return self._names[kind]

    def _firm_ordinals(self) -> dict[int, tuple[str, ...]]:
        """第十一条 hides every firm organisation under one code name: where there are several, each is told
        apart by its place in the order they were entered (``被托管机构（项目0）（2）``), the same for every
        user, as the real name may not be written."""
        firms = Organisation.objects.filter(engagement=self.engagement, type=OrgType.FIRM).order_by("pk")
        ids = list(firms.values_list("pk", flat=True))
        return {pk: (str(place),) for place, pk in enumerate(ids, start=1)} if len(ids) > 1 else {}

    def _assets(self) -> _Names:
        rows = self._entities("asset").values_list("pk", "hostname", "name", "fixed_asset_no", "site_id")
        names = _Names(
            ((pk, host or name, site) for pk, host, name, _no, site in rows),
            self.sites,
            {pk: (number,) for pk, _h, _n, number, _s in rows if number},
        )
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
            "layer",
        )
        # The same login on one host at two layers (root of the OS and of the database): told apart by layer.
        names = _Names(
            (
                (pk, f"{login}@{host or aname or sname}", site)
                for pk, login, host, aname, sname, _s, site, _layer in rows
            ),
            self.sites,
            {pk: (layer, sname or "") for pk, _l, _h, _a, sname, _s, _site, layer in rows},
        )
        for pk, login, host, aname, sname, system, _site, _layer in rows:
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
    def label(self, column: Column, value: Any, *, site_id: int | None = None) -> Any:
        """The text a person reads and an import takes back, for a stored ref or refs value in a form of
        ``site_id``: a name, qualified by its site (and more) only where it is ambiguous from there."""
        if value is None or value == []:
            return None
        values = value if isinstance(value, list) else [value]
        if column.ref.startswith("T"):
            self._load_registers(register_numbers(column.ref))
            labels = [self._row_label(int(v)) for v in values]
        else:
            names = self._load(column.ref)
            labels = [names.label(int(v), site_id) for v in values]
        return labels if column.type == "refs" else labels[0]

    def _row_label(self, pk: int) -> str:
        if pk not in self._rows:
            found = Row.objects.filter(pk=pk).values_list("form__form_no", "seq").first()
            self._rows[pk] = found if found else ("", 0)
        form_no, seq = self._rows[pk]
        # 编号#序号: the form's number and the row's 序号, both printed on the form; never an id.
        return f"{form_no}#{seq}" if form_no else _("(not found)")

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
