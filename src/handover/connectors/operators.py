"""Operator lists of the counter and business systems (柜员/操作员清单) for 表12: CSV or xlsx, UTF-8 or GBK.

Offline only (kind "operators"): the firm's export of a counter system's operators, one row per operator,
with Chinese (or English) headers. The operator number (柜员号/操作员号/工号) and the name (姓名) are required;
role (角色/岗位), status (状态), branch (机构/营业部), last login (最后登录) and password change (密码修改日期)
are read when present. An operator whose role names an administrator (系统管理员, 超级…) holds a super-user
equivalent of the system (第二十二条); a status of 停用/注销/冻结/锁定 locks it. Each operator is an
``AccountKind.APPLICATION`` account, its name shown as display name so that the review matches it against
表5's departed staff (第二十五条第3项, 表12).

Bad input names the file, the line and the column; nothing is returned from a file with a bad row. At most
``MAX_ROWS`` rows and ``MAX_COLUMNS`` columns are read (a workbook claiming a cell at XFD1048576 is refused
quickly, never expanded in memory).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from handover.connectors.errors import ParseError, read_bounded
from handover.connectors.manifest import Manifest, register
from handover.connectors.model import (
    Account,
    AccountKind,
    Evidence,
    Inventory,
    PasswordState,
    Privilege,
    SourceFile,
    digest_of,
)

MAX_FILE_BYTES = 16 << 20
MAX_ROWS = 50_000
MAX_COLUMNS = 30
BEIJING = timezone(timedelta(hours=8))

HEADERS = {
    "id": ("柜员号", "柜员代码", "操作员号", "操作员代码", "操作员", "工号", "用户号", "用户代码", "登录名",
           "operator", "operator id", "login"),
    "name": ("姓名", "柜员姓名", "操作员姓名", "用户名称", "name", "full name"),
    "role": ("角色", "岗位", "角色名称", "权限组", "role"),
    "status": ("状态", "柜员状态", "用户状态", "status"),
    "branch": ("机构", "营业部", "所属机构", "机构名称", "branch"),
    "last_login": ("最后登录", "最后登录时间", "上次登录", "last login"),
    "changed": ("密码修改日期", "密码修改时间", "上次改密", "password changed"),
}  # fmt: skip
LOCKED = ("停用", "注销", "冻结", "锁定", "禁用", "disabled", "locked")
ADMIN_ROLE = re.compile(r"系统管理员|超级|管理员|admin|root|sysadmin", re.I)


def _rows_csv(source: str, data: bytes, warnings: list[str]) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ParseError(source, None, "neither UTF-8 nor GBK text", "既不是 UTF-8 也不是 GBK 文本")
    if encoding == "gb18030":
        warnings.append(f"{source}: read as GBK (GB18030)")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    rows = []
    # newline="": the csv module's own line ends, so a lone CR ends a record instead of raising csv.Error.
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for number, row in enumerate(reader, 1):
            if number > MAX_ROWS + 1:
                raise ParseError(source, number, f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
            rows.append(row[:MAX_COLUMNS])
    except csv.Error as exc:  # a NUL byte, a field over the csv module's limit
        raise ParseError(
            source, reader.line_num or None, f"not a CSV record ({exc})", "不是有效的 CSV 记录"
        ) from None
    return rows


def _rows_xlsx(source: str, data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _UNREADABLE as exc:
        raise _not_xlsx(source, exc) from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), 1):
            if number > MAX_ROWS + 1:
                raise ParseError(source, number, f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
            rows.append(["" if v is None else _cell(v) for v in row])
        return rows
    except _UNREADABLE as exc:  # read_only reads the sheet lazily: a damaged part shows only here
        raise _not_xlsx(source, exc) from None
    finally:
        book.close()


# What openpyxl raises on a damaged workbook: a bad zip or deflate stream, a cut or malformed XML part, a
# missing part, an attribute of the wrong type, an encrypted member (a mutated file found each, issue 18).
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    ElementTree.ParseError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    OSError,
    RuntimeError,  # zipfile: an encrypted member, or a zip version it does not know (NotImplementedError)
)


def _not_xlsx(source: str, exc: BaseException) -> ParseError:
    return ParseError(source, None, f"not an xlsx workbook ({type(exc).__name__})", "不是 xlsx 工作簿")


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _when(value: str, source: str, number: int, column: str) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    for pattern in (
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d",
        "%Y%m%d",
    ):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    raise ParseError(
        source, number, f"column {column}: {value!r} is not a date", f"{column} 列：“{value}”不是日期"
    )


def parse(path: Path) -> Inventory:
    """The operators listed in ``path`` (CSV or xlsx)."""
    path = Path(path)
    source = path.name
    data = read_bounded(path, MAX_FILE_BYTES)
    warnings: list[str] = []
    xlsx = data.startswith(b"PK\x03\x04")
    rows = _rows_xlsx(source, data) if xlsx else _rows_csv(source, data, warnings)
    header_at = next((i for i, row in enumerate(rows[:20]) if any(c.strip() for c in row)), None)
    if header_at is None:
        raise ParseError(source, None, "the file is empty", "文件为空")
    header = [c.strip().lower() for c in rows[header_at]]
    columns = {key: next((i for i, h in enumerate(header) if h in (n.lower() for n in names)), None)
               for key, names in HEADERS.items()}  # fmt: skip
    for key in ("id", "name"):
        if columns[key] is None:
            wanted = "/".join(HEADERS[key][:4])
            raise ParseError(
                source, header_at + 1, f"no column for the {key} (one of {wanted})", f"缺少“{wanted}”列之一"
            )
    digest = digest_of(data)
    labels = rows[header_at]
    accounts: list[Account] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows[header_at + 1 :], header_at + 2):
        if not any(c.strip() for c in row):
            continue

        def cell(key: str, row: list[str] = row) -> str:
            i = columns[key]
            return row[i].strip() if i is not None and i < len(row) else ""

        operator, name = cell("id"), cell("name")
        if not operator:
            column = labels[columns["id"] or 0]
            raise ParseError(
                source, index, f"column {column}: the operator number is empty", f"{column} 列为空"
            )
        if operator in seen:
            raise ParseError(
                source, index, f"operator {operator} is listed twice (lines {seen[operator]} and {index})",
                f"操作员 {operator} 重复出现（第 {seen[operator]} 行与第 {index} 行）",
            )  # fmt: skip
        seen[operator] = index
        raw = (",".join(row) if not xlsx else "\t".join(row))[:500]
        evidence = Evidence(source=source, raw=raw, digest=digest, line=index)
        role, status = cell("role"), cell("status")
        locked = any(word in status.lower() for word in LOCKED)
        last = (
            _when(cell("last_login"), source, index, "最后登录")
            if columns["last_login"] is not None
            else None
        )
        changed = (
            _when(cell("changed"), source, index, "密码修改日期") if columns["changed"] is not None else None
        )
        privileges = []
        if role:
            privileges.append(
                Privilege(
                    role,
                    cell("branch"),
                    "role:" + role,
                    superuser=bool(ADMIN_ROLE.search(role)),
                    evidence=evidence,
                )
            )
        attributes = [(k, cell(k)) for k in ("branch", "status") if cell(k)]
        accounts.append(
            Account(
                name=operator,
                kind=AccountKind.APPLICATION,
                uid=operator,
                display_name=name,
                login_allowed=not locked,
                locked=locked,
                password_state=PasswordState.UNKNOWN,
                password_changed=changed.date() if changed else None,
                last_login=last,
                last_login_known=columns["last_login"] is not None,
                groups=(role,) if role else (),
                privileges=tuple(privileges),
                attributes=tuple(sorted(attributes)),
                evidence=(evidence,),
            )
        )
    if not accounts:
        raise ParseError(source, None, "no operator listed below the header", "表头以下没有任何操作员")
    return Inventory(
        platform="operators", target=str(path), gathered_at=datetime.now(UTC),
        accounts=tuple(sorted(accounts, key=lambda a: a.name)), warnings=tuple(warnings),
        sources=(SourceFile(name=source, digest=digest, size=len(data), content=data),),
    )  # fmt: skip


MANIFEST = register(
    Manifest(
        code="operators",
        label_en="Operator list (counter systems)",
        label_zh="柜台系统操作员清单",
        parse=parse,
        offline_kinds=("operators",),
    )
)

__all__ = ["MANIFEST", "parse"]
