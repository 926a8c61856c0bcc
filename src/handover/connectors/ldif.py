"""LDIF (RFC 2849) as the directory connectors read it: entries with their attributes and the line each value
came from, base64 values decoded, folded lines joined. The LDAP and AD connectors turn what they read live into
this text first, so that a live gathering and an exported file go through one parser and give one inventory.

``mask`` replaces the values of password attributes in an evidence line by ``<verifier>``: the LDIF itself,
which holds them, is only ever kept sealed (第二十二条).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from handover.connectors.errors import ParseError

SECRET_ATTRIBUTES = frozenset({"userpassword", "unicodepwd", "dbcspwd", "ntpwdhistory", "lmpwdhistory",
                               "supplementalcredentials", "sambantpassword", "sambalmpassword"})  # fmt: skip
VERIFIER = "<verifier>"


@dataclass
class Entry:
    dn: str
    line: int
    values: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # lower-case name → (value, line)

    def all(self, name: str) -> list[str]:
        return [v for v, _line in self.values.get(name.lower(), [])]

    def first(self, name: str) -> str:
        found = self.values.get(name.lower())
        return found[0][0] if found else ""

    def line_of(self, name: str) -> int:
        found = self.values.get(name.lower())
        return found[0][1] if found else self.line

    def has(self, name: str) -> bool:
        return name.lower() in self.values

    def classes(self) -> set[str]:
        return {c.lower() for c in self.all("objectClass")}


def sid_text(raw: bytes) -> str:
    """A binary security identifier (MS-DTYP 2.4.2) as ``S-1-5-21-…``."""
    if len(raw) < 8 or len(raw) != 8 + 4 * raw[1]:
        return "base64:" + base64.b64encode(raw).decode("ascii")
    authority = int.from_bytes(raw[2:8], "big")
    subs = [int.from_bytes(raw[8 + 4 * i : 12 + 4 * i], "little") for i in range(raw[1])]
    return f"S-{raw[0]}-{authority}" + "".join(f"-{s}" for s in subs)


def guid_text(raw: bytes) -> str:
    """A binary GUID (objectGUID: the first three fields little-endian) as text."""
    if len(raw) != 16:
        return "base64:" + base64.b64encode(raw).decode("ascii")
    import uuid

    return str(uuid.UUID(bytes_le=raw))


def text_of(name: str, raw: bytes) -> str:
    """An attribute's value as text: UTF-8 when it is, a SID or GUID as Windows writes them, else
    ``base64:…`` (binary attributes such as thumbnailPhoto, or a UTF-16 unicodePwd, which is never shown)."""
    key = name.lower()
    if key in ("objectsid", "securityidentifier", "sidhistory"):
        return sid_text(raw)
    if key == "objectguid":
        return guid_text(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode("ascii")


def masked(name: str, value: str) -> str:
    """``name: value`` as evidence: a password attribute's value is never shown."""
    return f"{name}: {VERIFIER}" if name.lower() in SECRET_ATTRIBUTES else f"{name}: {value}"[:500]


def parse_text(text: str, source: str) -> list[Entry]:
    """The entries of an LDIF text; a malformed line is a ParseError naming ``source`` and the line."""
    entries: list[Entry] = []
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if raw.startswith(" ") and logical and logical[-1][1] != "":
            start, before = logical[-1]
            logical[-1] = (start, before + raw[1:])
            continue
        logical.append((number, raw))
    current: Entry | None = None
    for number, line in logical:
        if line.startswith("#"):
            continue
        if not line.strip():
            current = None
            continue
        name, sep, rest = line.partition(":")
        if not sep or not name or " " in name.strip():
            raise ParseError(source, number, "not an LDIF line (name: value)", "不是 LDIF 行（属性名: 值）")
        if rest.startswith(":"):
            try:
                decoded = base64.b64decode(rest[1:].strip(), validate=True)
            except ValueError:  # binascii.Error; a plain ValueError for a character outside ASCII (fuzzer)
                raise ParseError(
                    source, number, f"{name}: bad base64 value", f"{name}：base64 值无效"
                ) from None
            value = text_of(name.strip(), decoded)
        elif rest.startswith("<"):
            raise ParseError(
                source, number, f"{name}: a value from a URL is not read", f"{name}：不读取来自 URL 的值"
            )
        else:
            value = rest[1:] if rest.startswith(" ") else rest
        key = name.strip().lower()
        if key == "version" and current is None and not entries:
            continue
        if key == "dn":
            if current is not None:
                raise ParseError(
                    source,
                    number,
                    "a dn inside an entry (a blank line is missing)",
                    "条目内出现 dn（缺少空行）",
                )
            current = Entry(dn=value.strip(), line=number)
            entries.append(current)
            continue
        if current is None:
            raise ParseError(source, number, f"{name} before any dn", f"{name} 出现在任何 dn 之前")
        if key == "changetype":
            raise ParseError(source, number, "a change record, not an export", "这是变更记录，不是导出文件")
        current.values.setdefault(key, []).append((value, number))
    return entries


def write(entries: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """LDIF text of (dn, [(attribute, value)]) entries, base64 where RFC 2849 wants it (non-ASCII, leading
    space or colon, line breaks)."""
    out = ["version: 1", ""]
    for dn, attributes in entries:
        for name, value in [("dn", dn), *attributes]:
            out.append(_line(name, value))
        out.append("")
    return "\n".join(out)


def _line(name: str, value: str) -> str:
    safe = (
        value.isascii() and not value.startswith((" ", ":", "<")) and "\n" not in value and "\r" not in value
    )
    safe = safe and not value.endswith(" ")
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
