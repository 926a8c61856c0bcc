"""Password strength and generation (第三十一条第1项: 操作口令应定期更换，并满足口令强度要求).

Strength: at least 12 characters, three of the four character classes, none of the account's own names,
and zxcvbn's guess estimate at score 3 or more. A refusal says which rule failed, never the password.

Generation: cryptographically random (``secrets``) to a policy of length and classes, without characters
that are misread on paper or a sealed envelope (0/O, 1/l/I, quotes), within each platform's limits
(Oracle's 30 characters beginning with a letter, network devices that take ``?`` as help, and so on),
each described by a small table like JumpServer's platform manifests.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from zxcvbn import zxcvbn

from handover.core.errors import DomainError

MIN_LENGTH = 12
MIN_CLASSES = 3
MIN_SCORE = 3
AMBIGUOUS = frozenset("0O1lI|`'\" ")
_CHECKED_PREFIX = 100  # zxcvbn's cost grows with length; a longer password is long enough anyway


@dataclass(frozen=True)
class Platform:
    """The limits one kind of system puts on a password."""

    label: object
    max_length: int
    symbols: str
    letter_first: bool = False


PLATFORMS: dict[str, Platform] = {
    "generic": Platform(gettext_lazy("Generic"), 64, "!#$%&*+-=?@^_~"),
    "linux": Platform(gettext_lazy("Linux / Unix"), 128, "!#$%&*+-=?@^_~.,:"),
    "windows": Platform(gettext_lazy("Windows"), 127, "!#$%&*+-=?@^_~"),
    "oracle": Platform(gettext_lazy("Oracle database"), 30, "_$#", letter_first=True),
    "mysql": Platform(gettext_lazy("MySQL / MariaDB"), 32, "!#$%&*+-=?@^_~"),
    "postgresql": Platform(gettext_lazy("PostgreSQL"), 99, "!#$%&*+-=?@^_~"),
    "network": Platform(gettext_lazy("Network or security device"), 25, "!#$%&*+-=@^_~"),
}


@dataclass(frozen=True)
class Policy:
    """What a generated password must be."""

    length: int = 20
    lower: bool = True
    upper: bool = True
    digits: bool = True
    symbols: bool = True
    platform: str = "generic"


def _classes(value: str) -> int:
    groups = (
        any(c.islower() for c in value),
        any(c.isupper() for c in value),
        any(c.isdigit() for c in value),
        any(not c.isalnum() for c in value),
    )
    return sum(groups)


def strength_problem(value: str, *, context: Iterable[str] = ()) -> str | None:
    """Why ``value`` is too weak, or None; ``context`` are names it must not contain (login, host)."""
    if len(value) < MIN_LENGTH:
        return _("it is shorter than %(n)d characters") % {"n": MIN_LENGTH}
    if _classes(value) < MIN_CLASSES:
        return _("it uses fewer than 3 of: lower case, upper case, digits, symbols")
    lowered = value.lower()
    for name in context:
        if name and len(name) >= 3 and name.lower() in lowered:
            return _("it contains the account's own name or the host's")
    result = zxcvbn(value[:_CHECKED_PREFIX], user_inputs=[n for n in context if n])
    if result["score"] < MIN_SCORE:
        hint = result["feedback"].get("warning") or ""
        return _("it is too easy to guess (strength %(score)d of 4, at least 3 needed)%(hint)s") % {
            "score": result["score"],
            "hint": f": {hint}" if hint else "",
        }
    return None


def strength_score(value: str) -> int:
    return int(zxcvbn(value[:_CHECKED_PREFIX])["score"])


def strength_check(value: str, *, context: Iterable[str] = ()) -> None:
    """Refuse a weak password with the reason (第三十一条第1项)."""
    problem = strength_problem(value, context=context)
    if problem:
        raise DomainError(
            _("This password is refused because %(reason)s. Choose a longer, less predictable one.")
            % {"reason": problem},
            field="secret",
            code="weak_secret",
        )


def _alphabets(policy: Policy, platform: Platform) -> list[str]:
    chosen = [
        (policy.lower, string.ascii_lowercase),
        (policy.upper, string.ascii_uppercase),
        (policy.digits, string.digits),
        (policy.symbols, platform.symbols),
    ]
    return ["".join(c for c in chars if c not in AMBIGUOUS) for wanted, chars in chosen if wanted]


def generate(policy: Policy) -> str:
    """A random password to ``policy``, within its platform's limits, that passes ``strength_check``."""
    platform = PLATFORMS.get(policy.platform)
    if platform is None:
        raise DomainError(_("Unknown platform %(name)s.") % {"name": policy.platform}, field="platform")
    if not MIN_LENGTH <= policy.length <= platform.max_length:
        raise DomainError(
            _("The length must be from %(low)d to %(high)d for %(platform)s.")
            % {"low": MIN_LENGTH, "high": platform.max_length, "platform": platform.label},
            field="length",
        )
    alphabets = _alphabets(policy, platform)
    if len(alphabets) < MIN_CLASSES:
        raise DomainError(_("Choose at least 3 character classes."), field="lower")
    letters = "".join(a for a in alphabets if a.isalpha())
    while True:
        candidate = [secrets.choice(a) for a in alphabets]
        everything = "".join(alphabets)
        candidate += [secrets.choice(everything) for _ in range(policy.length - len(candidate))]
        _shuffle(candidate)
        if platform.letter_first and not candidate[0].isalpha():
            candidate[0] = secrets.choice(letters)
        value = "".join(candidate)
        if _classes(value) >= MIN_CLASSES and strength_problem(value) is None:
            return value


def _shuffle(items: list[str]) -> None:
    for index in range(len(items) - 1, 0, -1):
        other = secrets.randbelow(index + 1)
        items[index], items[other] = items[other], items[index]
