"""The Chinese catalogue is complete, in step with the code, and uses the guideline's terms.

Source strings (msgids) are English; zh-hans is the default language and lives in
src/handover/locale/zh_Hans/LC_MESSAGES/django.po. A developer who adds or changes a string
must run, in src/handover:

    DJANGO_SETTINGS_MODULE=handover.settings.test ../../.venv/bin/django-admin makemessages \\
        -l zh_Hans --ignore '.venv' --no-obsolete

then translate the new entries (no ``#, fuzzy``), or these tests fail and name the strings.
They need GNU gettext (msgfmt, xgettext), which ``make install-test`` installs.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import translation

import handover
from handover.org.models import (
    Employment,
    EmploymentType,
    ObserverBody,
    OrgType,
    Party,
    Phase,
    Role,
    SiteLevel,
)

PACKAGE_DIR = Path(handover.__file__).resolve().parent
LOCALE_DIR = PACKAGE_DIR / "locale"
PO_FILES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
ZH_PO = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po"
MAKEMESSAGES_ARGS = ["-l", "zh_Hans", "--ignore", ".venv", "--no-obsolete", "-v", "0"]

# (msgctxt, msgid, msgid_plural): what identifies an entry of a catalogue.
Key = tuple[str | None, str, str | None]


class Entry:
    def __init__(self) -> None:
        self.ctxt: str | None = None
        self.msgid: str | None = None
        self.plural: str | None = None
        self.msgstrs: list[str] = []
        self.flags: set[str] = set()

    @property
    def key(self) -> Key:
        assert self.msgid is not None
        return (self.ctxt, self.msgid, self.plural)


def _unquote(text: str) -> str:
    # A PO string is a C-style quoted literal; for the escapes gettext writes, Python reads it the same.
    return ast.literal_eval(text)


def parse_po(path: Path) -> dict[Key, Entry]:
    """The live (non-obsolete) entries of a .po or .pot, header excluded; blank lines separate entries."""
    entries: list[Entry] = []
    entry = Entry()
    field: str | None = None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            if entry.msgid:
                entries.append(entry)
            entry, field = Entry(), None
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#"):
            continue  # comments, references and obsolete (#~) entries
        elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$', line):
            field, value = match.group(1), _unquote(match.group(2))
            if field.startswith("msgstr"):
                entry.msgstrs.append(value)
            else:
                setattr(entry, {"msgctxt": "ctxt", "msgid": "msgid", "msgid_plural": "plural"}[field], value)
        elif line.startswith('"') and field is not None:
            value = _unquote(line)
            if field.startswith("msgstr"):
                entry.msgstrs[-1] += value
            else:
                attr = {"msgctxt": "ctxt", "msgid": "msgid", "msgid_plural": "plural"}[field]
                setattr(entry, attr, (getattr(entry, attr) or "") + value)
        else:
            raise AssertionError(f"{path}: cannot read line {raw!r}")
    keys = [e.key for e in entries]
    assert len(keys) == len(set(keys)), f"{path}: duplicate entries"
    return {e.key: e for e in entries}


def _show(keys: set[Key]) -> str:
    return "\n".join(
        f"  {msgid!r}" + (f" (context {ctxt!r})" if ctxt else "")
        for ctxt, msgid, _ in sorted(keys, key=lambda k: (k[1], k[0] or ""))
    )


# ---------------------------------------------------------------- (a) every .po is complete


def test_there_is_a_chinese_catalogue() -> None:
    assert ZH_PO in PO_FILES


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: str(p.relative_to(LOCALE_DIR)))
def test_catalogue_compiles_cleanly_with_nothing_untranslated_or_fuzzy(po: Path) -> None:
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(po)],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stats = result.stderr.strip().splitlines()[-1]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (translated|fuzzy|untranslated)", stats)}
    assert counts.get("translated", 0) > 0, stats
    assert counts.get("fuzzy", 0) == 0, f"{po}: {stats}"
    assert counts.get("untranslated", 0) == 0, f"{po}: {stats}"


def test_header_declares_language_plural_forms_and_charset() -> None:
    text = ZH_PO.read_text(encoding="utf-8")
    header = text.split("\n\n", 1)[0]
    assert "#, fuzzy" not in header
    assert '"Language: zh_Hans\\n"' in header
    assert '"Plural-Forms: nplurals=1; plural=0;\\n"' in header
    assert '"Content-Type: text/plain; charset=UTF-8\\n"' in header
    assert '"Project-Id-Version: Handover' in header


def test_plural_entries_have_the_one_chinese_form() -> None:
    plurals = [e for e in parse_po(ZH_PO).values() if e.plural is not None]
    assert plurals
    wrong = [e.msgid for e in plurals if len(e.msgstrs) != 1 or not e.msgstrs[0]]
    assert not wrong, f"plural entries need exactly msgstr[0] (nplurals=1): {wrong}"


# ---------------------------------------------------------------- (b) the catalogue is in step with the code


@pytest.fixture(scope="module")
def fresh_catalogue(tmp_path_factory: pytest.TempPathFactory) -> dict[Key, Entry]:
    """Run makemessages on a copy of the package (without its catalogue) and read what it extracts."""
    copy = tmp_path_factory.mktemp("i18n") / "handover"
    shutil.copytree(
        PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "locale")
    )
    (copy / "locale").mkdir()
    # No settings: makemessages then writes only under ./locale of the copy, never to the real tree.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", *MAKEMESSAGES_ARGS],
        cwd=copy,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return parse_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")


def test_every_string_the_code_uses_is_in_the_catalogue(fresh_catalogue: dict[Key, Entry]) -> None:
    committed = parse_po(ZH_PO)
    missing = set(fresh_catalogue) - set(committed)
    assert not missing, (
        f"{len(missing)} string(s) in the code are not in {ZH_PO.relative_to(PACKAGE_DIR.parent.parent)}; "
        f"run makemessages and translate them:\n{_show(missing)}"
    )


def test_catalogue_has_no_strings_the_code_no_longer_uses(fresh_catalogue: dict[Key, Entry]) -> None:
    stale = set(parse_po(ZH_PO)) - set(fresh_catalogue)
    assert not stale, f"re-run makemessages with --no-obsolete; these are no longer used:\n{_show(stale)}"


def test_committed_catalogue_is_fully_translated() -> None:
    undone = {key for key, e in parse_po(ZH_PO).items() if "fuzzy" in e.flags or not all(e.msgstrs)}
    assert not undone, f"untranslated or fuzzy:\n{_show(undone)}"


# ------------------------------------------------------------ (c) the guideline's terms come out in Chinese


@pytest.fixture(scope="module")
def compiled_locale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Compile the committed .po into a temporary LOCALE_PATHS, so the test reads the .po, not a stale .mo."""
    root = tmp_path_factory.mktemp("locale")
    for po in PO_FILES:
        mo = root / po.relative_to(LOCALE_DIR).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["msgfmt", "-o", str(mo), str(po)], check=True)  # test (a) runs --check
    with override_settings(LOCALE_PATHS=[root]):
        yield root


GUIDELINE_TERMS = [
    (Phase.PREPARATION, "准备期"),
    (Phase.HANDOVER, "交接期"),
    (Phase.STABILISATION, "稳定期"),
    (SiteLevel.HQ, "总部"),
    (SiteLevel.REGION, "区域中心"),
    (SiteLevel.BRANCH, "营业部"),
    (SiteLevel.SERVICE, "服务部"),
    (Role.TECH_GROUP, "技术组"),
    (Role.ONSITE_POST, "现场技术岗位"),
    (Role.FIRM_IT, "被托管技术方"),
    (Role.FIRM_FINANCE, "被托管机构财务"),
    (Role.OBSERVER, "观察员"),
    (Role.AUDITOR, "审计员"),
    (Role.SYSADMIN, "系统管理员"),
    (Party.BUSINESS, "业务人员"),
    (Party.VENDOR, "厂商人员"),
    (EmploymentType.PERMANENT, "正式"),
    (EmploymentType.OUTSOURCED, "外包驻场"),
    (EmploymentType.VENDOR_ONSITE, "厂商驻场"),
    (EmploymentType.SECONDED, "借调"),
    (Employment.EMPLOYED, "在职"),
    (Employment.LEFT, "离职"),
    (ObserverBody.WORKING_GROUP, "托管工作组"),
    (ObserverBody.CSRC_BUREAU, "当地证监局"),
    (OrgType.CUSTODIAN, "托管机构"),
    (OrgType.FIRM, "被托管机构"),
    (OrgType.APP_VENDOR, "应用系统开发商"),
    (OrgType.EQUIPMENT_VENDOR, "设备供应商"),
    (OrgType.LINE_CARRIER, "线路运营商"),
    (OrgType.TELECOM, "电信部门"),
    (OrgType.POWER, "电力部门"),
    (OrgType.PROPERTY, "物业部门"),
    (OrgType.PARTNER_BANK, "合作银行"),
    (OrgType.SSE, "上交所"),
    (OrgType.SZSE, "深交所"),
    (OrgType.SECURITIES_ASSOCIATION, "当地证券业协会"),
    (OrgType.CSRC_BUREAU, "当地证监局"),
    (OrgType.OTHER_TECH, "其他技术机构"),
]


@pytest.mark.usefixtures("compiled_locale")
@pytest.mark.parametrize(("choice", "chinese"), GUIDELINE_TERMS, ids=lambda v: getattr(v, "value", v))
def test_choice_labels_use_the_guideline_terms(choice: object, chinese: str) -> None:
    with translation.override("zh-hans"):
        assert str(choice.label) == chinese  # type: ignore[attr-defined]


@pytest.mark.usefixtures("compiled_locale")
@pytest.mark.parametrize(
    ("msgid", "chinese"),
    [
        ("disposal date (D)", "处置日（D）"),
        ("code name", "代号"),
        ("Audit trail", "审计日志"),
        ("Second factor", "动态口令"),
        ("Log in", "登录"),
        ("Log out", "退出登录"),
        ("Confidential until the disposal date (Article 11)", "处置日前保密（第十一条）"),
    ],
)
def test_key_strings_use_the_guideline_terms(msgid: str, chinese: str) -> None:
    with translation.override("zh-hans"):
        assert translation.gettext(msgid) == chinese


@pytest.mark.usefixtures("compiled_locale")
def test_placeholders_and_plurals_survive_translation() -> None:
    with translation.override("zh-hans"):
        message = translation.gettext(
            "A %(level)s cannot sit under a %(parent_level)s; its parent must be a %(allowed)s."
        )
        assert message % {"level": "服务部", "parent_level": "区域中心", "allowed": "营业部"} == (
            "服务部不能隶属于区域中心，其上级须为营业部。"
        )
        for n in (1, 5):
            assert translation.ngettext("%(n)s person", "%(n)s people", n) % {"n": n} == f"{n} 人"


@pytest.mark.usefixtures("compiled_locale")
def test_english_is_the_source_language() -> None:
    from django.conf import settings

    assert "en" in dict(settings.LANGUAGES)
    assert settings.LANGUAGE_CODE == "zh-hans"
    with translation.override("en"):
        assert str(SiteLevel.BRANCH.label) == "Branch"
        assert str(Role.ONSITE_POST.label) == "On-site technical post"
