"""Reading one host's files: decoding (UTF-8, else GB18030 with a warning), rows of the colon files, and
the evidence each fact carries (source, line, raw line with verifiers masked, digest of the whole file)."""

from __future__ import annotations

from handover.connectors.errors import ParseError
from handover.connectors.linux.source import Source, clean
from handover.connectors.model import Evidence, digest_of

VERIFIER = "<verifier>"
NOT_VERIFIERS = {"", "*", "!", "!!", "!*", "x", "*LK*", "*NP*"}


class Reader:
    """Decodes files (UTF-8, else GB18030 with a warning) and keeps their digests and warnings."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.warnings: list[str] = []
        self.texts: dict[str, str] = {}

    def text(self, path: str) -> str | None:
        name = clean(path)
        if name in self.texts:
            return self.texts[name]
        data = self.source.get(name)
        if data is None:
            return None
        self.texts[name] = self.decode("/" + name, data)
        return self.texts[name]

    def decode(self, path: str, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            self.warnings.append(f"{path}: neither UTF-8 nor GB18030; undecodable bytes replaced")
            return data.decode("utf-8", "replace")
        self.warnings.append(f"{path}: not UTF-8, read as GB18030 (GBK)")
        return text

    def digest(self, path: str) -> str:
        return digest_of(self.source.read.get(clean(path), b""))


def evidence(reader: Reader, path: str, line: int | None, raw: str) -> Evidence:
    """The evidence of one line of ``path`` (``raw`` already masked where it holds a verifier)."""
    return Evidence(source="/" + clean(path), raw=raw, digest=reader.digest(path), line=line)


def mask(raw: str, field_index: int) -> str:
    """``raw`` (a colon-separated line) with field ``field_index`` replaced when it holds a verifier."""
    parts = raw.split(":")
    if len(parts) > field_index:
        value = parts[field_index]
        if value not in NOT_VERIFIERS:
            parts[field_index] = ("!" if value.startswith("!") else "") + VERIFIER
    return ":".join(parts)


def rows(reader: Reader, path: str, fields: int, *, required: bool) -> list[tuple[int, list[str], str]]:
    """(line number, fields, line) of a colon file; a line with the wrong count of fields is an error."""
    text = reader.text(path)
    if text is None:
        if required:
            raise ParseError(
                "/" + path, None, "missing: it is needed for every account", "缺失：所有账户都依赖此文件"
            )
        return []
    rows = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith(("+", "-")):  # NIS compat entries: not a local account
            reader.warnings.append(f"/{path}:{number}: NIS entry {line.split(':', 1)[0]!r} not resolved")
            continue
        parts = line.split(":")
        if len(parts) != fields:
            cut = number == len(lines) and not text.endswith("\n")
            raise ParseError(
                "/" + path, number,
                f"{len(parts)} fields where {fields} are expected" + (" (the file is cut off)" if cut else ""),
                f"有 {len(parts)} 个字段，应为 {fields} 个" + ("（文件被截断）" if cut else ""),
            )  # fmt: skip
        rows.append((number, parts, line))
    return rows


def to_int(value: str, path: str, number: int, what: str) -> int | None:
    """``value`` as a number (None when empty); anything else is an error naming the place."""
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ParseError(
            f"/{path}", number, f"{what} {value[:20]!r} is not a number", f"{what}“{value[:20]}”不是数字"
        ) from None
