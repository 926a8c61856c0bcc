"""What the cross-register rules share: the refusal (RuleViolation), the backup kinds, references read once per
import, and a row's references to other registers checked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.utils.translation import gettext as _

from handover.core.errors import DomainError
from handover.registers import catalogue
from handover.registers.models import Form, InformationSystem, Row

CHANGE_BACKUP, PERMISSION_BACKUP, FULL_BACKUP = "改密前备份", "权限核查前备份", "交接全备份"


# 第二十六条第2项: 在进行密码修改前，应对所有系统的用户权限及参数文件进行备份.
FULL_BACKUP_MUST_COVER = ("用户权限配置文件", "参数配置文件")


class RuleViolation(DomainError):
    """A cross-register rule refused the write. ``register_no``, ``site_id`` and ``system_id`` say where the
    missing row is to be created, so a page can link there."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        register_no: int | None = None,
        site_id: int | None = None,
        system_id: int | None = None,
    ) -> None:
        super().__init__(message, field=field, code="rule")
        self.register_no = register_no
        self.site_id = site_id
        self.system_id = system_id


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _system_name(form: Form, system_id: int | None) -> str:
    """The system's name, looked up only in the form's engagement so no other engagement's name can leak."""
    found = InformationSystem.objects.filter(pk=system_id, engagement=form.engagement) if system_id else None
    system = found.first() if found is not None else None
    return system.name if system else _("(system %(id)s)") % {"id": system_id}


def _label(register_no: int, key: str) -> str:
    return next(column.zh for column in catalogue.columns(register_no) if column.key == key)


# Within ``lookups_cached()``, a referenced row is read once: an import checks thousands of rows that point
# at the same backup before it writes anything, so the answers cannot change during the block.
_MEMO: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("registers_rules_memo", default=None)


@contextmanager
def lookups_cached() -> Iterator[None]:
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def memoised(key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
    """``load()``, read once per ``key`` within ``lookups_cached()`` (a hook's lookups may use it too)."""
    memo = _MEMO.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def _referenced(form: Form, key: str, data: dict[str, Any], register_no: int) -> Row | None:
    """The current or earlier version of the row of 表``register_no`` that ``data[key]`` points at."""
    pk = _as_int(data.get(key))
    if pk is None:
        return None
    return memoised(
        ("row", form.engagement_id, register_no, pk),
        lambda: (
            Row.objects.filter(pk=pk, form__engagement=form.engagement, form__register_no=register_no)
            .select_related("form")
            .first()
        ),
    )


def _register_refs(form: Form, data: dict[str, Any]) -> None:
    """Every reference to a register row points at a row of one of the registers the column names."""
    wanted: list[tuple[str, int, tuple[int, ...]]] = []
    for column in catalogue.columns(form.register_no):
        if column.type not in ("ref", "refs") or not column.ref.startswith("T") or column.key not in data:
            continue
        numbers = tuple(int(part[1:]) for part in column.ref.split("|"))
        values = data[column.key] if isinstance(data[column.key], list) else [data[column.key]]
        wanted += [(column.key, int(pk), numbers) for pk in values]
    if not wanted:
        return
    pks = frozenset(pk for _key, pk, _numbers in wanted)
    found = memoised(
        ("numbers", form.engagement_id, pks),
        lambda: dict(
            Row.objects.filter(pk__in=pks, form__engagement=form.engagement).values_list(
                "pk", "form__register_no"
            )
        ),
    )
    for key, pk, numbers in wanted:
        if found.get(pk) not in numbers:
            names = "、".join(f"表{n}" for n in numbers)
            raise RuleViolation(
                _(
                    "%(column)s: there is no %(registers)s row %(id)s in this engagement; create it there first."
                )
                % {"column": _label(form.register_no, key), "registers": names, "id": pk},
                field=key,
                register_no=numbers[0],
                site_id=form.site_id,
            )
