"""The 表24 handover package: build, refusal while sites are not done, offline verification and tampering."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from handover.audit.models import Event
from handover.core.errors import DomainError
from handover.org.models import Phase
from handover.registers.models import Form, FormState
from handover.reports import events, services, verify
from handover.reports.models import HandoverPackage
from tests.reports.support import approve, done_world, rewrite, signed_list

pytestmark = pytest.mark.django_db


def _built(**kwargs):
    world, tech = done_world()
    package = services.package_build(actor=tech, engagement=world.engagement, **kwargs)
    return world, tech, package, services.package_path(package)


def test_build_with_every_site_done_annexes_each_signed_list_and_table24(tmp_path):
    world, tech, package, path = _built()
    names = set(zipfile.ZipFile(path).namelist())
    for site in ("HQ", "RC", "BA", "BB", "SA"):
        for fmt in ("xlsx", "pdf"):
            assert f"annexes/{site}/{site}-T08-20261201-001-v1.{fmt}" in names
    table24 = Form.objects.get(engagement=world.engagement, register_no=24)
    assert f"table24/{table24.form_no}-v1.xlsx" in names and f"table24/{table24.form_no}-v1.pdf" in names
    assert {verify.MANIFEST, verify.SIGNATURE, verify.METADATA, verify.CHECKPOINT} <= names
    manifest = json.loads(zipfile.ZipFile(path).read(verify.MANIFEST))
    assert {e["path"] for e in manifest["files"]} == names - {verify.MANIFEST, verify.SIGNATURE}
    assert manifest["algorithm"] == "sha256"
    event = Event.objects.get(action=events.PACKAGE_BUILD)
    assert event.after["digest"] == package.digest and event.actor_username == "tech"
    assert (package.digest, package.size) == (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        path.stat().st_size,
    )
    assert package.checkpoint_seq < event.seq and package.built_by == tech and package.sites_not_done == []


def test_metadata_names_the_code_name_and_not_the_firm_in_preparation():
    world, tech, _package, path = _built()
    metadata = json.loads(zipfile.ZipFile(path).read(verify.METADATA))
    assert metadata["engagement"]["code_name"] == world.engagement.code_name
    assert (
        "firm_name" not in metadata["engagement"] and "disposal_date" not in metadata
    )  # 第十一条: name and D
    assert world.engagement.firm_name not in zipfile.ZipFile(path).read(verify.METADATA).decode()
    assert metadata["built_by"] == "tech" and metadata["residual_risk"] == ""
    world.engagement.phase = Phase.HANDOVER
    world.engagement.save()
    later = services.package_build(actor=tech, engagement=world.engagement)
    metadata = json.loads(zipfile.ZipFile(services.package_path(later)).read(verify.METADATA))
    assert metadata["engagement"]["firm_name"] == world.engagement.firm_name
    assert metadata["disposal_date"] == world.engagement.disposal_date.isoformat()


def test_refused_while_sites_are_not_done_naming_them_and_what_they_miss():
    world, tech = done_world()
    signed_list(world, world.branch_b, register_no=10, state=FormState.DRAFT)
    with pytest.raises(DomainError) as refused:
        services.package_build(actor=tech, engagement=world.engagement)
    message = str(refused.value.message)
    assert "乙营业部（BB）" in message and "BB-T10-20261201-001" in message
    assert "甲营业部" not in message
    assert refused.value.field == "residual_risk"
    assert not HandoverPackage.objects.exists()
    assert not Form.objects.filter(register_no=24).exists()
    assert not list(Path(settings.HANDOVER_PACKAGE_DIR).rglob("*.zip"))


def test_a_site_with_no_list_at_all_is_not_done():
    world, _tech = done_world()
    from handover.org.models import SiteLevel
    from tests.factories import make_site

    make_site(world.engagement, "BC", SiteLevel.BRANCH, world.region, name="丙营业部")
    gaps = services.sites_not_done(world.engagement)
    assert [g.site.code for g in gaps] == ["BC"] and "表5–23" in gaps[0].missing[0]


def test_allowed_with_a_residual_risk_reason_which_the_package_states():
    world, tech = done_world()
    draft = signed_list(world, world.branch_b, register_no=10, state=FormState.DRAFT)
    package = services.package_build(
        actor=tech, engagement=world.engagement, residual_risk="乙营业部改密未完成，次日补做"
    )
    path = services.package_path(package)
    metadata = json.loads(zipfile.ZipFile(path).read(verify.METADATA))
    assert metadata["residual_risk"] == "乙营业部改密未完成，次日补做"
    assert metadata["sites_not_done"][0]["site"] == "乙营业部（BB）"
    assert f"表10 {draft.form_no} v1" in metadata["unsigned_not_annexed"]
    assert not any("T10" in n for n in zipfile.ZipFile(path).namelist())
    assert Form.objects.get(register_no=24).header["residual_risks"] == "乙营业部改密未完成，次日补做"
    assert verify.verify_package(path).intact


def test_verify_intact_with_the_server_key_and_sm3():
    _world, _tech, package, path = _built(algorithm="sm3")
    key = verify.load_public_key(services.package_public_key_pem().encode())
    report = verify.verify_package(path, key)
    assert report.intact and report.key_trusted and report.files_checked == package.files
    assert json.loads(zipfile.ZipFile(path).read(verify.MANIFEST))["algorithm"] == "sm3"


def test_verify_names_a_changed_an_added_and_a_missing_file(tmp_path):
    _, _, _, path = _built()
    names = zipfile.ZipFile(path).namelist()
    changed = next(n for n in names if n.endswith(".xlsx") and n.startswith("annexes/BA/"))
    dropped = next(n for n in names if n.endswith(".pdf") and n.startswith("annexes/BB/"))
    bad = rewrite(path, tmp_path / "bad.zip", replace={changed: b"not the signed form"},
                  add={"annexes/BA/extra.xlsx": b"slipped in"}, drop={dropped})  # fmt: skip
    report = verify.verify_package(bad)
    assert not report.intact
    assert report.named("changed") == [changed]
    assert report.named("added") == ["annexes/BA/extra.xlsx"]
    assert report.named("missing") == [dropped]
    assert report.named("signature") == []


def test_an_edited_manifest_breaks_the_signature_and_is_named(tmp_path):
    _, _, _, path = _built()
    manifest = json.loads(zipfile.ZipFile(path).read(verify.MANIFEST))
    victim = manifest["files"][0]["path"]
    manifest["files"] = manifest["files"][1:]
    edited = rewrite(path, tmp_path / "edited.zip", replace={verify.MANIFEST: json.dumps(manifest).encode()})
    report = verify.verify_package(edited)
    assert report.named("signature") == [verify.MANIFEST]
    assert report.named("added") == [victim]


def test_a_package_resigned_with_another_key_is_refused_against_the_server_key(tmp_path):
    _, _, _, path = _built()
    manifest = zipfile.ZipFile(path).read(verify.MANIFEST)
    forged = verify.signature_bytes(Ed25519PrivateKey.generate(), manifest)
    other = rewrite(path, tmp_path / "forged.zip", replace={verify.SIGNATURE: forged})
    assert verify.verify_package(other).intact  # self-consistent, but...
    server = verify.load_public_key(services.package_public_key_pem().encode())
    report = verify.verify_package(other, server)
    assert report.named("signature") == [verify.MANIFEST]


def test_a_broken_signature_file_and_a_file_that_is_no_zip_are_named(tmp_path):
    _, _, _, path = _built()
    broken = rewrite(path, tmp_path / "broken.zip", replace={verify.SIGNATURE: b"{}"})
    assert verify.verify_package(broken).named("signature") == [verify.MANIFEST]
    unsigned = rewrite(path, tmp_path / "unsigned.zip", drop={verify.SIGNATURE})
    assert verify.verify_package(unsigned).named("missing") == [verify.SIGNATURE]
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"plain text")
    assert verify.verify_package(junk).named("unreadable") == [str(junk)]


def test_the_verifier_imports_no_django():
    import subprocess
    import sys

    code = (
        "import sys; import handover.reports.verify; "
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    src = str(Path(verify.__file__).resolve().parents[2])
    assert subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": src}).returncode == 0


def test_approval_then_distribution_and_the_signed_addendum(tmp_path):
    from datetime import timedelta

    from handover.reports.models import Recipient

    world, tech, package, path = _built()
    later = package.built_at + timedelta(hours=2)
    with pytest.raises(DomainError, match="经托管工作组批准后"):
        services.package_distribution_record(
            actor=tech, package=package, recipient=Recipient.CSRC_BUREAU, sent_at=later
        )
    approval = approve(world, package, reference="工作组批复〔2026〕1号")
    with pytest.raises(DomainError, match="已批准"):
        approve(world, package, username="wg2")
    with pytest.raises(DomainError, match="不能早于批准时间"):
        services.package_distribution_record(actor=tech, package=package, recipient=Recipient.FIRM,
                                             sent_at=approval.approved_at - timedelta(minutes=1))  # fmt: skip
    with pytest.raises(DomainError, match="须指明"):
        services.package_distribution_record(
            actor=tech, package=package, recipient=Recipient.BRANCH, sent_at=later
        )
    for recipient in (Recipient.CSRC_BUREAU, Recipient.WORKING_GROUP, Recipient.FIRM):
        services.package_distribution_record(actor=tech, package=package, recipient=recipient, sent_at=later)
    services.package_distribution_record(actor=tech, package=package, recipient=Recipient.BRANCH,
                                         sent_at=later, site=world.branch_a, means="专人送达")  # fmt: skip
    with pytest.raises(DomainError, match="已登记"):
        services.package_distribution_record(
            actor=tech, package=package, recipient=Recipient.FIRM, sent_at=later
        )
    addendum = tmp_path / "addendum.json"
    addendum.write_bytes(services.package_addendum_issue(actor=tech, package=package))
    body = json.loads(addendum.read_text())["addendum"]
    assert body["approval"]["approver"] == "wg" and len(body["distribution"]) == 4
    server = verify.load_public_key(services.package_public_key_pem().encode())
    assert verify.verify_addendum(addendum, path, server).intact
    document = json.loads(addendum.read_text())
    document["addendum"]["approval"]["approver"] = "别人"
    addendum.write_text(json.dumps(document, ensure_ascii=False))
    assert verify.verify_addendum(addendum, path, server).named("signature") == [str(addendum)]
    assert Event.objects.filter(action=events.PACKAGE_DISTRIBUTE).count() == 4
    assert Event.objects.filter(action=events.PACKAGE_APPROVE).count() == 1


def test_a_failed_build_leaves_nothing(settings, tmp_path):
    world, tech = done_world()
    bad_key = tmp_path / "package.key"
    bad_key.write_text("not a key")
    settings.HANDOVER_PACKAGE_KEY = bad_key
    with pytest.raises(DomainError, match=r"package\.key"):
        services.package_build(actor=tech, engagement=world.engagement)
    assert not HandoverPackage.objects.exists() and not Form.objects.filter(register_no=24).exists()
    assert not Event.objects.filter(action=events.PACKAGE_BUILD).exists()
    store = Path(settings.HANDOVER_PACKAGE_DIR) / world.engagement.code
    assert not list(store.iterdir())


def test_a_checkpoint_not_signed_by_its_key_is_named(tmp_path):
    _, _, _, path = _built()
    document = json.loads(zipfile.ZipFile(path).read(verify.CHECKPOINT))
    document["seq"] += 1
    forged = rewrite(path, tmp_path / "cp.zip", replace={verify.CHECKPOINT: json.dumps(document).encode()})
    report = verify.verify_package(forged)
    assert report.named("changed") == [verify.CHECKPOINT] and report.named("signature") == [verify.CHECKPOINT]
