"""What the agent's verify path uses instead of ``typing`` and ``dataclasses`` at run time.

Importing those two (``dataclasses`` brings ``inspect``, ``ast``, ``dis`` and ``tokenize``) and building the
classes was about 10 ms of each ``handover-agent`` run: a fifth of its fixed cost, which counts when the
agent checks one big file at b3sum's speed (docs/benchmarks.md). Type checkers take any name
``TYPE_CHECKING`` as true, so ``if TYPE_CHECKING: from typing import ...`` works as with typing's own.
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Self


class Record:
    """A small value class: equality and repr by the fields its ``__slots__`` name, in that order (what
    ``@dataclass(slots=True)`` would give; the class writes its own ``__init__``)."""

    __slots__: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass that is not frozen

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: object) -> Self:
        """A copy with ``changes`` (as ``dataclasses.replace``)."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        copy = object.__new__(type(self))
        for name in self.__slots__:
            setattr(copy, name, changes.get(name, getattr(self, name)))
        return copy
