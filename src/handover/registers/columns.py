"""Column definitions of the registers: one declaration per column, from which the engine derives
validation, forms, the API, Excel templates and import, and the official export frame (DESIGN.md decision 1).

Types follow registers.md's legend: ``text``, ``ltext`` (long text), ``date``, ``dt`` (date and time), ``int``,
``dec``, ``enum``, ``bool`` (是/否), ``ref`` / ``refs`` (one or many rows of an entity or register), ``att``
(attachment). Every register also has 序号 ``seq`` first and 备注 ``remarks`` last; they are added by the
engine, not declared.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPES = frozenset({"text", "ltext", "date", "dt", "int", "dec", "enum", "bool", "ref", "refs", "att"})

# What a ``ref`` column may point at: the shared entities of registers.md §2, or a register ("T39").
ENTITIES = frozenset(
    {
        "site",
        "org",
        "person",
        "system",
        "asset",
        "software",
        "contract",
        "account",
        "line",
        "document",
        "backup_item",
    }
)

REQUIRED, OPTIONAL, CONDITIONAL = "R", "O", "C"


@dataclass(frozen=True)
class Choice:
    """An enum value: stored and exported as the official Chinese term, shown in English on request."""

    zh: str
    en: str


@dataclass(frozen=True)
class Column:
    """One column of a register.

    ``required_if`` makes a C column required when another (enum or bool) column of the same row has one of
    the given values, e.g. ``("result", ("失败",))``; ``condition`` keeps the specification's wording of any
    condition, for the form's help text and for rules the engine checks in code (registers.md §4).
    """

    key: str
    zh: str
    en: str
    type: str
    required: str = OPTIONAL
    choices: tuple[Choice, ...] = ()
    ref: str = ""
    required_if: tuple[str, tuple[str, ...]] | None = None
    condition: str = ""
    articles: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.key}: unknown type {self.type!r}")
        if self.required not in (REQUIRED, OPTIONAL, CONDITIONAL):
            raise ValueError(f"column {self.key}: required must be R, O or C")
        if (self.type == "enum") != bool(self.choices):
            raise ValueError(f"column {self.key}: enum columns, and only they, have choices")
        if self.type in ("ref", "refs") and not (self.ref in ENTITIES or self.ref.startswith("T")):
            raise ValueError(f"column {self.key}: ref must name an entity or a register (T39)")


def choices(*pairs: tuple[str, str]) -> tuple[Choice, ...]:
    """``choices(("成功", "success"), ("失败", "failed"))``."""
    return tuple(Choice(zh, en) for zh, en in pairs)


BOOL_CHOICES = choices(("是", "yes"), ("否", "no"))
