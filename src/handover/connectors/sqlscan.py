"""Reading SQL text as database dumps write it: statements with their line, and the tokens of one statement.

Shared by the PostgreSQL (``pg_dumpall``) and MySQL/MariaDB (``SHOW CREATE USER``/``SHOW GRANTS``) parsers. Only
what those dumps use is understood: quoted identifiers, string literals (with the dialect's escapes), dollar
quotes, comments, psql meta-commands and ``COPY … FROM stdin`` data (skipped). A broken quote is a
``SqlError`` with the line it starts on; the parsers turn it into a ``ParseError`` naming file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

PG, MYSQL = "postgresql", "mysql"
_WORD = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_HEX = re.compile(r"0[xX][0-9A-Fa-f]*|[xX]'[0-9A-Fa-f]*'")
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_MYSQL_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


class SqlError(ValueError):
    """Text that is not SQL as a dump writes it; ``line`` is 1-based within the whole text."""

    def __init__(self, line: int, reason_en: str, reason_zh: str) -> None:
        super().__init__(reason_en)
        self.line = line
        self.reason_en = reason_en
        self.reason_zh = reason_zh


@dataclass(frozen=True)
class Statement:
    """One statement: the line it starts on and its text, without the final ``;``."""

    line: int
    text: str


@dataclass(frozen=True)
class Token:
    """``kind`` is word, ident (quoted identifier), string, number, hex or punct; ``start``/``end`` index the
    statement text, so that a caller can replace a token (a verifier) in the raw line."""

    kind: str
    value: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.value.upper() in words


def _skip_quoted(text: str, i: int, quote: str, *, backslash: bool) -> int:
    """The index after the closing ``quote`` of a quoted run opened at ``i``; -1 when it never closes."""
    j = i + 1
    while j < len(text):
        c = text[j]
        if backslash and c == "\\":
            j += 2
            continue
        if c == quote:
            if j + 1 < len(text) and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return -1


def statements(text: str, dialect: str, *, comments: list[Statement] | None = None) -> Iterator[Statement]:
    """The statements of ``text`` in order; comments and psql meta-commands (``\\connect``) are skipped.

    A statement ends at a ``;`` outside quotes and comments. Text after the last ``;`` that is not blank is a
    statement cut off (``SqlError``), which is how a truncated dump shows itself. ``comments``, when given,
    receives every ``--`` comment outside quotes (so that no string's content can pass for one).
    """
    lines = _Lines(text)
    i, n = 0, len(text)
    buf: list[str] = []
    seg = -1  # where the open statement's current segment starts; -1: no statement is open
    first = 0  # where the open statement starts
    while i < n:
        c = text[i]
        if seg < 0 and c in " \t\r\n":
            i += 1
            continue
        if seg < 0 and dialect == PG and c == "\\" and (i == 0 or text[i - 1] == "\n"):
            end = text.find("\n", i)  # psql meta-command (\\connect, \\restrict): one line
            i = n if end < 0 else end + 1
            continue
        comment_end = _comment_end(text, i, dialect)
        if comment_end is not None:
            if comment_end < 0:
                raise SqlError(lines.at(i), "a comment is never closed", "注释未闭合")
            if comments is not None and c == "-":
                comments.append(Statement(lines.at(i), text[i:comment_end].rstrip("\r")))
            if seg >= 0:
                buf += [text[seg:i], " "]
                seg = comment_end
            i = comment_end
            continue
        if seg < 0:
            seg = first = i
            buf = []
        quoted_end = _quoted_end(text, i, dialect)
        if quoted_end is not None:
            if quoted_end < 0:
                raise SqlError(lines.at(i), "a quoted text or name is never closed", "引号未闭合")
            i = quoted_end
            continue
        if c != ";":
            i += 1
            continue
        statement = Statement(lines.at(first), ("".join(buf) + text[seg:i]).strip())
        seg, i = -1, i + 1
        yield statement
        if dialect == PG and _is_copy_from_stdin(statement.text):
            end = text.find("\n\\.", i)
            if end < 0:
                raise SqlError(statement.line, "COPY data is never ended by \\.", "COPY 数据缺少结束行 \\.")
            i = end + 3
    if seg >= 0 and ("".join(buf) + text[seg:]).strip():
        raise SqlError(
            lines.at(first),
            "the last statement has no ';' (the file is cut off)",
            "最后一条语句缺少“;”（文件被截断）",
        )


class _Lines:
    """Line numbers of offsets, counted forward once (offsets are asked in increasing order)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        if offset < self.pos:
            return 1 + self.text.count("\n", 0, offset)
        self.line += self.text.count("\n", self.pos, offset)
        self.pos = offset
        return self.line


def _comment_end(text: str, i: int, dialect: str) -> int | None:
    """Where a comment starting at ``i`` ends (-1: never closed), or None when none starts there."""
    c = text[i]
    if (c == "-" and text.startswith("--", i)) or (c == "#" and dialect == MYSQL):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if c == "/" and text.startswith("/*", i) and not text.startswith(("/*!", "/*M!"), i):
        end = text.find("*/", i + 2)
        return -1 if end < 0 else end + 2
    return None


def _quoted_end(text: str, i: int, dialect: str) -> int | None:
    """Where a quoted run (string, quoted name, $-quote) starting at ``i`` ends (-1: never closed), or None."""
    c = text[i]
    if dialect == MYSQL and c in "'\"`":
        return _skip_quoted(text, i, c, backslash=c != "`")
    if dialect == PG and c in "'\"":
        return _skip_quoted(text, i, c, backslash=c == "'" and _escape_string_at(text, i))
    if dialect == PG and c == "$" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
        found = _DOLLAR.match(text, i)
        if found:
            close = text.find(found.group(0), found.end())
            return -1 if close < 0 else close + len(found.group(0))
    return None


def _escape_string_at(text: str, i: int) -> bool:
    """Whether the PostgreSQL string at ``i`` is an E'…' string (backslash escapes)."""
    return i > 0 and text[i - 1] in "eE" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))


def _is_copy_from_stdin(statement: str) -> bool:
    words = statement.split()
    return bool(words) and words[0].upper() == "COPY" and [w.upper() for w in words[-2:]] == ["FROM", "STDIN"]


def tokens(text: str, dialect: str, *, line: int = 1) -> list[Token]:
    """The tokens of one statement; unquoted PostgreSQL words are folded to lower case as the server does."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if dialect == PG and c in "eE" and text[i + 1 : i + 2] == "'":
            end = _skip_quoted(text, i + 1, "'", backslash=True)
            if end < 0:
                raise SqlError(line + text.count("\n", 0, i), "a quoted text is never closed", "引号未闭合")
            out.append(Token("string", _unescape_backslash(text[i + 2 : end - 1], "'"), i, end))
            i = end
            continue
        if c == "'" or (c == '"' and dialect == MYSQL):
            backslash = dialect == MYSQL
            end = _skip_quoted(text, i, c, backslash=backslash)
            if end < 0:
                raise SqlError(line + text.count("\n", 0, i), "a quoted text is never closed", "引号未闭合")
            body = text[i + 1 : end - 1]
            value = _unescape_backslash(body, c) if backslash else body.replace(c + c, c)
            out.append(Token("string", value, i, end))
            i = end
            continue
        if (c == '"' and dialect == PG) or (c == "`" and dialect == MYSQL):
            end = _skip_quoted(text, i, c, backslash=False)
            if end < 0:
                raise SqlError(line + text.count("\n", 0, i), "a quoted name is never closed", "引号未闭合")
            out.append(Token("ident", text[i + 1 : end - 1].replace(c + c, c), i, end))
            i = end
            continue
        hexed = _HEX.match(text, i) if dialect == MYSQL else None
        if hexed:
            out.append(Token("hex", hexed.group(0), i, hexed.end()))
            i = hexed.end()
            continue
        number = _NUMBER.match(text, i)
        if number and (c != "-" or not out or out[-1].kind == "punct"):
            out.append(Token("number", number.group(0), i, number.end()))
            i = number.end()
            continue
        word = _WORD.match(text, i)
        if word:
            value = word.group(0)
            out.append(Token("word", value.lower() if dialect == PG else value, i, word.end()))
            i = word.end()
            continue
        out.append(Token("punct", c, i, i + 1))
        i += 1
    return out


def _unescape_backslash(body: str, quote: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_MYSQL_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if c == quote and body[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def replace_spans(text: str, spans: list[tuple[int, int]], by: str) -> str:
    """``text`` with each (start, end) span replaced by ``by`` (spans do not overlap)."""
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(text[last:start])
        out.append(by)
        last = end
    out.append(text[last:])
    return "".join(out)
