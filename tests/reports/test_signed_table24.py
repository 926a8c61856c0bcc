"""The package carries a signed 表24 (第二十七条第4项): 技术组 compiles it and signs it as 编制 in the build,
package.json names that signed version, a package whose 表24 is not signed is neither built nor verified
intact, and 交接期 → 稳定期 then finds it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from handover.core.actors import system
from handover.core.errors import DomainError
from handover.org.models import Phase, Role
from handover.registers import catalogue
from handover.registers.models import Form, FormState, InformationSystem
from handover.reports import selectors, services, verify
from handover.reports.models import HandoverPackage
from handover.workflow import services as workflow
from handover.workflow.deadlines import BEIJING
from handover.workflow.services import phases
from tests.registers.io_support import read_openpyxl
from tests.reports.support import approve, done_world, rewrite

pytestmark = pytest.mark.django_db


def _nothing_left(world) -> None:
    """A refused build leaves no 表24, no package row and no file."""
    assert not Form.objects.filter(engagement=world.engagement, register_no=24).exists()
    assert not HandoverPackage.objects.exists()
    assert not list(Path(settings.HANDOVER_PACKAGE_DIR).rglob("*.zip"))


def test_the_build_signs_table24_as_compiled_by_the_technical_group_and_packages_that_version():
    world, tech = done_world()
    # A system with no 表7 form yet: its 表24 line has no form state, and 表24 is still submitted and signed.
    InformationSystem.objects.create(engagement=world.engagement, site=world.branch_a, name="行情系统")
    package = services.package_build(actor=tech, engagement=world.engagement)
    form = package.table24.get()
    assert form.state == FormState.SIGNED and form.is_current and form.site == world.hq
    signature = form.signatures.get()
    assert (signature.role, signature.person.user) == (Role.TECH_GROUP, tech)
    assert form.header["handover_start"] <= form.header["handover_end"]
    archive = zipfile.ZipFile(services.package_path(package))
    entry = json.loads(archive.read(verify.METADATA))["table24"][0]
    assert (entry["form"], entry["version"], entry["state"]) == (form.form_no, 1, "已签字")
    assert entry["signed_by"][0]["role"] == "技术组编制" and entry["signed_by"][0]["name"] == "tech"
    assert entry["files"] == [f"table24/{form.form_no}-v1.xlsx", f"table24/{form.form_no}-v1.pdf"]
    cells = read_openpyxl(archive.read(entry["files"][0]))
    footer = next(row for row in cells if row[0] == "技术组编制")
    assert footer[1] == "tech" and footer[2]  # the exported version carries its signature
    lines = [row for row in cells if row[1] == "表7"]
    assert lines and lines[0][6] in (None, "")  # 表7 at 甲营业部: expected, no form yet


def test_table24_starts_when_the_engagement_moved_into_the_handover_and_stabilisation_finds_it():
    world, tech = done_world()
    moved = dt.datetime(2026, 12, 1, 16, tzinfo=BEIJING)
    workflow.phase_transition(
        actor=tech, engagement=world.engagement, to_phase=Phase.HANDOVER, reason="处置日", now=moved
    )
    package = services.package_build(actor=tech, engagement=world.engagement)
    table24 = package.table24.get()
    assert dt.datetime.fromisoformat(table24.header["handover_start"]) == moved
    later = dt.datetime.now(tz=BEIJING)
    with pytest.raises(DomainError, match="审批"):  # 第二十七条第4项: 报托管工作组审批 first
        workflow.phase_transition(
            actor=tech, engagement=world.engagement, to_phase=Phase.STABILISATION, reason="表24", now=later
        )
    approve(world, package, reference="批复〔2026〕1号")
    transition = workflow.phase_transition(
        actor=tech, engagement=world.engagement, to_phase=Phase.STABILISATION, reason="表24 已批准", now=later
    )
    assert transition.basis_form == table24


def test_the_stabilisation_gate_asks_the_reports_app_and_fails_closed_without_it(monkeypatch):
    # The workflow does not import reports (review §2): reports plugs its answer into the phase gate.
    assert phases._approved_table24 == [selectors.table24_approved]
    world, tech = done_world()
    later = dt.datetime.now(tz=BEIJING)
    workflow.phase_transition(
        actor=tech, engagement=world.engagement, to_phase=Phase.HANDOVER, reason="处置日", now=later
    )
    package = services.package_build(actor=tech, engagement=world.engagement)
    approve(world, package, reference="批复〔2026〕1号")
    assert selectors.table24_approved(world.engagement) == package.table24.get()
    monkeypatch.setattr(phases, "_approved_table24", [])  # no app records the approval: nothing counts
    with pytest.raises(DomainError, match="表24"):
        workflow.phase_transition(
            actor=tech, engagement=world.engagement, to_phase=Phase.STABILISATION, reason="表24", now=later
        )
    assert world.engagement.phase == Phase.HANDOVER


def test_a_build_by_no_technical_group_member_is_refused_and_leaves_nothing():
    world, _tech = done_world()
    with pytest.raises(DomainError, match="--user") as refused:
        services.package_build(actor=system("package-build(test)"), engagement=world.engagement)
    assert refused.value.field == "user"
    _nothing_left(world)


def test_a_table24_the_technical_group_cannot_sign_alone_is_not_packaged(monkeypatch):
    world, tech = done_world()
    # A footer asking for the 总部's 现场技术岗位 too: 技术组's signature leaves 表24 submitted, not signed.
    needed = (Role.ONSITE_POST, Role.TECH_GROUP)
    monkeypatch.setitem(catalogue.BY_NUMBER, 24, dataclasses.replace(catalogue.get(24), footer=needed))
    with pytest.raises(DomainError, match="现场技术岗位") as refused:
        services.package_build(actor=tech, engagement=world.engagement)
    assert refused.value.field == "table24"
    _nothing_left(world)


def test_an_engagement_with_no_active_head_office_has_no_table24_and_no_package():
    world, tech = done_world()
    world.hq.is_active = False
    world.hq.save(update_fields=["is_active"])
    with pytest.raises(DomainError, match="总部") as refused:
        services.package_build(actor=tech, engagement=world.engagement)
    assert refused.value.field == "site"
    _nothing_left(world)


def _package():
    world, tech = done_world()
    package = services.package_build(actor=tech, engagement=world.engagement)
    return package, services.package_path(package)


def _with_metadata(path: Path, target: Path, change) -> Path:
    metadata = json.loads(zipfile.ZipFile(path).read(verify.METADATA))
    change(metadata)
    return rewrite(path, target, replace={verify.METADATA: json.dumps(metadata).encode()})


def test_verify_names_a_package_whose_table24_is_not_signed(tmp_path):
    _package_row, path = _package()
    assert verify.verify_package(path).named("unsigned") == []

    def unsigned(metadata):
        metadata["table24"][0].update(state="已提交", signed_by=[])

    report = verify.verify_package(_with_metadata(path, tmp_path / "unsigned.zip", unsigned))
    assert report.named("unsigned") == [verify.METADATA] and report.named("changed") == [verify.METADATA]
    assert "'已提交' with 0 signature(s)" in str(report.problems[-1])

    def format_1(metadata):  # what a package of handover-package/1 said of its draft 表24
        metadata["table24"] = [f"{e['form']} v{e['version']}" for e in metadata["table24"]]

    report = verify.verify_package(_with_metadata(path, tmp_path / "old.zip", format_1))
    assert report.named("unsigned") == [verify.METADATA]

    def none(metadata):
        metadata["table24"] = []

    report = verify.verify_package(_with_metadata(path, tmp_path / "none.zip", none))
    assert report.named("unsigned") == [verify.METADATA]


def test_verify_names_a_table24_file_the_manifest_does_not_list(tmp_path):
    _package_row, path = _package()
    names = zipfile.ZipFile(path).namelist()
    pdf = next(n for n in names if n.startswith("table24/") and n.endswith(".pdf"))
    manifest = json.loads(zipfile.ZipFile(path).read(verify.MANIFEST))
    manifest["files"] = [f for f in manifest["files"] if f["path"] != pdf]
    bad = rewrite(
        path, tmp_path / "bad.zip", replace={verify.MANIFEST: json.dumps(manifest).encode()}, drop={pdf}
    )
    report = verify.verify_package(bad)
    assert report.named("missing") == [pdf] and report.named("signature") == [verify.MANIFEST]


def test_the_addendum_names_the_signed_table24_the_working_group_approves(tmp_path):
    world, tech = done_world()
    package = services.package_build(actor=tech, engagement=world.engagement)
    path = services.package_path(package)
    approve(world, package)
    addendum = tmp_path / "addendum.json"
    addendum.write_bytes(services.package_addendum_issue(actor=tech, package=package))
    body = json.loads(addendum.read_text())["addendum"]
    table24 = package.table24.get()
    assert body["table24"] == [f"{table24.form_no} v1"] and body["approval"]["approver"] == "wg"
    assert verify.verify_addendum(addendum, path, None).intact


def test_compiling_and_signing_table24_takes_the_same_queries_for_few_sites_or_many():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from handover.org.models import SiteLevel
    from tests.factories import make_site
    from tests.reports.support import signed_list

    world, tech = done_world()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            services._table24(tech, world.engagement, "", "s", dt.datetime.now(tz=BEIJING))
        return len(captured)

    queries()  # the user's roles are read once and kept
    few = queries()
    for n in range(8):
        site = make_site(world.engagement, f"BX{n}", SiteLevel.BRANCH, world.region, name=f"营业部{n}")
        signed_list(world, site)
        signed_list(world, site, register_no=10)
    assert queries() == few


def test_a_table24_too_long_for_a_pdf_is_packaged_signed_as_xlsx_and_says_so(monkeypatch):
    from handover.registers.io import exporting

    world, tech = done_world()
    monkeypatch.setattr(exporting, "MAX_PDF_ROWS", 3)  # 5 lines here; 300 sites × 20 registers in real life
    package = services.package_build(actor=tech, engagement=world.engagement)
    path = services.package_path(package)
    entry = json.loads(zipfile.ZipFile(path).read(verify.METADATA))["table24"][0]
    assert entry["files"] == [f"table24/{entry['form']}-v1.xlsx"] and "xlsx" in entry["pdf_omitted"]
    assert entry["state"] == "已签字" and verify.verify_package(path).intact
