"""Hypothesis on what a backup bundle's reports say (issue 18): a report that passes the bundle's format check
and is signed by an enrolled site key, but holds odd values (a list where a date was, a gap without its day,
text for a count), becomes the rows it writes or a refusal, never an exception out of the import."""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from handover.backups import evidence
from handover.core.errors import DomainError
from handover.fixity import bundle, keys
from handover.fixity.bundle import REPORT_FORMAT, BundleRefused, Member
from tests.fixity.test_bundle import enrolled, trusting
from tests.fuzzing import fuzz_settings

_KEY: list[keys.SiteKey] = []
_FOLDER = tempfile.TemporaryDirectory()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
odd = json_values | st.sampled_from(["2026-12-01", "1733000000000000000", "", "x"])
problem = st.fixed_dictionaries(
    {"kind": st.sampled_from(["gap", "missing", "changed", "unreadable", "bad_date", "x"]), "detail": odd},
    optional={"date": odd, "system": odd, "path": odd},
)


def _key() -> keys.SiteKey:
    if not _KEY:
        _KEY.append(enrolled(Path(_FOLDER.name))[1])
    return _KEY[0]


def _signed(report: dict[str, Any], register: int, system: str) -> bundle.Opened:
    """A bundle of ``report`` signed by the site key. The agent refuses to pack a report that fails the format
    check, so the report goes in after packing a valid one, and the index is signed again: what another
    version of the agent, or a key holder, could send."""
    key = _key()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.json"
        valid = {
            "format": REPORT_FORMAT,
            "command": report["command"],
            "files": 0,
            "bytes": 0,
            "problems": [],
        }
        path.write_text(json.dumps(valid), encoding="utf-8")
        out = Path(folder) / "b.zip"
        index = bundle.create(out, [Member(path, system=system, register=register)], key=key)
        content = json.dumps(report).encode()
        (member,) = index["members"]
        member["sha256"], member["size"] = hashlib.sha256(content).hexdigest(), len(content)
        index_bytes = json.dumps(index, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n"
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr(bundle.INDEX, index_bytes)
            archive.writestr(bundle.SIGNATURE, base64.b64encode(key.sign(index_bytes)) + b"\n")
            archive.writestr(member["name"], content)
        return bundle.open_bundle(out, trusted=trusting(key))


@fuzz_settings()
@given(
    command=st.sampled_from(["continuity", "verify", "compare", "check-readable", "scan"]),
    register=st.sampled_from([8, 14, 15, 29]),
    fields=st.dictionaries(
        st.sampled_from(
            ["systems", "start", "end", "trading_days", "root", "started", "finished", "manifest"]
        ),
        odd,
    ),
    problems=st.lists(problem, max_size=4),
)
@example(
    command="continuity", register=15, fields={"systems": ["s"]}, problems=[{"kind": "gap", "detail": ""}]
)
@example(command="continuity", register=15, fields={"systems": 5}, problems=[])
@example(command="continuity", register=15, fields={"systems": ["s"], "trading_days": "x"}, problems=[
    {"kind": "gap", "detail": "", "date": "2026-12-01", "system": "s"}])  # fmt: skip
def test_a_signed_report_with_odd_values_gives_targets_or_a_refusal(
    command, register, fields, problems
) -> None:
    if command == "continuity":
        register = 15
    report = {
        "format": REPORT_FORMAT,
        "command": command,
        "files": 1,
        "bytes": 10,
        "problems": problems,
        **fields,
    }
    try:
        opened = _signed(report, register, "集中交易")
    except BundleRefused as refused:
        assert refused.reason and str(refused)
        return
    try:
        targets = evidence.targets_of(opened)
    except DomainError as refused:
        assert str(refused.message)
        return
    assert all(t.register == register for t in targets)


def test_a_gap_without_its_day_is_refused_as_a_bad_report_naming_the_member() -> None:
    """Found by the property above: targets_of raised KeyError('date') (and TypeError for systems: 5,
    ValueError for trading_days: "x") out of the import; the bundle's format check now refuses them."""
    report = {"format": REPORT_FORMAT, "command": "continuity", "files": 1, "bytes": 1, "systems": ["s"],
              "problems": [{"kind": "gap", "detail": "no set", "system": "s"}]}  # fmt: skip
    with pytest.raises(BundleRefused) as refused:
        _signed(report, 15, "集中交易")
    assert refused.value.reason == "bad_report" and "reports/01-continuity.json" in str(refused.value)
    assert "gap without its date" in str(refused.value)
