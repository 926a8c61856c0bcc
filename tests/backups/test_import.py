"""Importing signed bundles into the registers: exactly once, refused with the reason when not to be trusted,
and every problem a draft 表39 entry of the right type. Bundles are made by the real agent on real trees."""

from __future__ import annotations

import gzip
import io
import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from handover.audit.models import Event, Outcome
from handover.backups import events, services
from handover.backups.models import ImportedBundle, ImportVia, SiteKey
from handover.backups.services import BundleRejected
from handover.core.actors import system
from handover.core.errors import DomainError, PermissionDenied
from handover.fixity.cli import main as agent
from handover.org.models import Role
from handover.registers import services as registers
from handover.registers.models import Form, Row
from handover.registers.models.entities import InformationSystem
from tests.factories import World
from tests.fixity.trees import DBF_ROWS, dbf_bytes, tar_gz_bytes, zip_bytes

SYSTEM = "集中交易"
HISTORY_DAYS = ("20241008", "20241009", "20241011")  # 2024-10-10 is a trading day: a gap


def current_tree(root: Path) -> Path:
    payload = b"".join(b"%06d,trade,100.00\n" % i for i in range(500))
    files = {
        "clearing.dbf": dbf_bytes(DBF_ROWS),
        "log.gz": gzip.compress(payload),
        "files.zip": zip_bytes({"a.txt": payload}),
        "db.tar.gz": tar_gz_bytes({"a.sql": payload}),
        "notes.txt": "交接日备份说明\n".encode(),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def history_tree(root: Path) -> Path:
    for day in HISTORY_DAYS:
        folder = root / "counter" / day
        folder.mkdir(parents=True)
        (folder / "full.dmp").write_bytes(b"x" * 2000)
    return root


@dataclass
class Field:
    """The agent's side: a folder with the site key, the trees, and the reports it wrote."""

    base: Path
    agent_dir: Path

    def run(self, *args: str) -> int:
        return agent([*args])

    def bundle(self, *reports: str, out: str = "b.zip", extra: tuple[str, ...] = ()) -> Path:
        path = self.base / out
        args = ["bundle", *(str(self.base / r) for r in reports), "-o", str(path)]
        assert agent([*args, "--agent-dir", str(self.agent_dir), *extra]) == 0
        return path


def enrol(world: World, base: Path, site_code: str = "BA") -> Field:
    agent_dir = base / "agent"
    pub = base / "pub.json"
    args = ["enroll", "--engagement", world.engagement.code, "--site", site_code, "--export", str(pub)]
    assert agent([*args, "--agent-dir", str(agent_dir)]) == 0
    services.site_key_enrol(actor=system("test"), engagement=world.engagement, document=pub.read_bytes())
    return Field(base, agent_dir)


def faulty_reports(field: Field, algo: str) -> tuple[str, ...]:
    """Reports of a current-data backup with known faults and of a history tree with a gap and tampering."""
    base = field.base
    current = current_tree(base / "current")
    assert agent(["scan", str(current), "-o", str(base / "cur.m"), "--algo", algo, "-q", "--jobs", "1"]) == 0
    (current / "log.gz").write_bytes((current / "log.gz").read_bytes()[:-20])  # truncated gzip
    (current / "notes.txt").unlink()  # a deleted file
    (current / "extra.txt").write_text("not sealed")
    (current / "clearing.dbf").write_bytes(dbf_bytes(DBF_ROWS, header_records=9))  # the header lies
    assert agent(["verify", str(current), "--manifest", str(base / "cur.m"), "--json", str(base / "v.json"),
                  "-q", "--jobs", "1"]) == 1  # fmt: skip
    assert agent(["check-readable", str(current), "--json", str(base / "r.json"), "-q", "--jobs", "1"]) == 1
    history = history_tree(base / "history")
    assert agent(["scan", str(history), "-o", str(base / "hist.m"), "--algo", algo, "-q", "--jobs", "1"]) == 0
    later = time.time_ns() + 10**9
    os.utime(history / "counter/20241008/full.dmp", ns=(later, later))  # touched after sealing
    (history / "counter/20241009/full.dmp").write_bytes(b"y" * 2000)  # rewritten
    assert agent(["verify", str(history), "--manifest", str(base / "hist.m"), "--json", str(base / "hv.json"),
                  "-q", "--jobs", "1"]) == 1  # fmt: skip
    assert agent(["continuity", str(history), "--pattern", "{system}/{yyyymmdd}/", "--from", "2024-10-08",
                  "--to", "2024-10-11", "--json", str(base / "c.json"), "-q"]) == 1  # fmt: skip
    return "v.json", "r.json", "hv.json", "c.json"


def faulty_bundle(field: Field, algo: str = "sha256") -> Path:
    reports = faulty_reports(field, algo)
    extra = ("--system", SYSTEM, "--system", SYSTEM, "--system", SYSTEM, "--system", "柜台系统",
             "--register", "14", "--register", "14", "--register", "15", "--register", "15")  # fmt: skip
    return field.bundle(*reports, extra=extra)


def rows(register: int) -> list[Row]:
    return list(Row.objects.filter(form__register_no=register, is_current=True).order_by("pk"))


def state() -> tuple[int, ...]:
    return (Form.objects.count(), Row.objects.count(), ImportedBundle.objects.count(),
            InformationSystem.objects.count(), Event.objects.count())  # fmt: skip


def import_file(path: Path, actor: object, **kw: object) -> services.ImportResult:
    with open(path, "rb") as source:
        return services.bundle_import(actor=actor, source=source, via=kw.pop("via", ImportVia.UPLOAD), **kw)  # type: ignore[arg-type]


@pytest.fixture
def onsite(world: World):
    return world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite_a")


def test_tampering_is_told_at_once_to_the_technical_group_not_to_another_site(
    world: World, onsite, tmp_path: Path
) -> None:
    """第二十六条第5项: signs of tampering go to 托管工作组 at once, by 技术组; branch B hears nothing of it."""
    from handover.backups import topics
    from handover.notifications.models import Notification

    world.login_with(Role.TECH_GROUP, username="tech")
    world.login_with(Role.ONSITE_POST, site=world.branch_b, username="onsite_b")
    import_file(faulty_bundle(enrol(world, tmp_path), "sha256"), onsite, engagement=world.engagement)
    told = Notification.objects.filter(topic=topics.TAMPER_FLAG)
    assert set(told.values_list("person__user__username", flat=True)) == {"tech"}  # the importer knows
    assert world.branch_a.name in told.get().title


@pytest.mark.parametrize("algo", ["sha256", "sm3", "blake3"])
def test_bundle_with_known_faults_fills_the_registers(
    world: World, onsite, tmp_path: Path, algo: str
) -> None:
    path = faulty_bundle(enrol(world, tmp_path), algo)
    result = import_file(path, onsite, engagement=world.engagement)
    assert result.created
    (t14,) = rows(14)
    system = InformationSystem.objects.get(site=world.branch_a, name=SYSTEM)
    assert t14.data["system_id"] == system.pk and t14.data["site_id"] == world.branch_a.pk
    assert t14.data["data_name"] == str(tmp_path / "current")
    assert (t14.data["integrity"], t14.data["readability"], t14.data["upload_via"]) == (
        "不通过",
        "不通过",
        "内部网络",
    )
    assert t14.data["checksum"].startswith("manifest sha256 ")
    t15 = {InformationSystem.objects.get(pk=r.data["system_id"]).name: r for r in rows(15)}
    assert set(t15) == {SYSTEM, "柜台系统"}
    assert t15[SYSTEM].data["tamper_found"] is True and t15[SYSTEM].data["completeness"] == "不通过"
    assert t15["柜台系统"].data["continuity"] == "有缺口" and "2024-10-10" in t15["柜台系统"].data["gaps"]
    assert t15["柜台系统"].data["hist_exception"] == "数据不全"
    entries = {r.pk: r for r in rows(39)}
    by_source = {}
    for entry in entries.values():
        by_source.setdefault(entry.data["source_row_ref"], []).append(entry)
    (e05,) = by_source[t14.pk]
    assert e05.data["exc_type"] == "E05 数据备份异常" and e05.data["site_id"] == world.branch_a.pk
    assert set(t14.data["exception_refs"]) == {e05.pk}
    for kind in ("缺失", "多出", "无法读取"):
        assert kind in e05.data["description"]
    assert "notes.txt" in e05.remarks and "log.gz" in e05.remarks
    tampered = by_source[t15[SYSTEM].pk]
    assert {e.data["exc_type"] for e in tampered} == {"E06 历史备份数据移交异常"}
    assert any("立即上报托管工作组" in e.data["description"] for e in tampered)
    (gap,) = by_source[t15["柜台系统"].pk]
    assert (gap.data["sub_type"], gap.data["phase"]) == ("数据不全", "交接期")
    assert result.bundle.tamper and result.bundle.imported_by_name == "onsite_a"
    assert len(entries) == len(result.bundle.summary["exceptions"])
    imported = Event.objects.get(action=events.BUNDLE_IMPORT)
    assert imported.actor_username == "onsite_a" and imported.after["digest"] == result.bundle.digest
    assert Event.objects.filter(action=events.TAMPER_FLAG, actor_username="onsite_a").count() == 1
    assert Event.objects.filter(action="registers.row.create", actor_username="onsite_a").count() == len(
        rows(14)
    ) + 2 + len(entries)


def test_the_same_bundle_imported_twice_changes_nothing(world: World, onsite, tmp_path: Path) -> None:
    path = faulty_bundle(enrol(world, tmp_path))
    first = import_file(path, onsite)
    before = state()
    # Copied and re-zipped on the way (a courier's medium): the same index, so the same bundle.
    copy = tmp_path / "copy.zip"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as new:
        for name in old.namelist():
            new.writestr(name, old.read(name))
    for again in (path, copy):
        second = import_file(again, onsite)
        assert not second.created and second.bundle.pk == first.bundle.pk
    assert state() == before


def test_clean_bundle_passes_and_opens_no_exception(world: World, onsite, tmp_path: Path) -> None:
    field = enrol(world, tmp_path)
    tree = current_tree(tmp_path / "current")
    assert agent(["scan", str(tree), "-o", str(tmp_path / "m"), "--algo", "blake3", "-q"]) == 0
    assert (
        agent(
            ["verify", str(tree), "--manifest", str(tmp_path / "m"), "--json", str(tmp_path / "v.json"), "-q"]
        )
        == 0
    )
    assert agent(["check-readable", str(tree), "--json", str(tmp_path / "r.json"), "-q"]) == 0
    import_file(field.bundle("v.json", "r.json", extra=("--system", SYSTEM, "--register", "8")), onsite)
    (t8,) = rows(8)
    assert t8.data["readable"] == "通过" and t8.data["content"] == str(tree)
    assert rows(39) == [] and not ImportedBundle.objects.get().tamper


def test_an_existing_row_is_filled_not_duplicated(world: World, onsite, tmp_path: Path) -> None:
    field = enrol(world, tmp_path)
    path = faulty_bundle(field)
    system = InformationSystem.objects.create(engagement=world.engagement, site=world.branch_a, name=SYSTEM)
    form = registers.form_create(actor=onsite, engagement=world.engagement, site=world.branch_a,
                                 register_no=14, form_date=world.engagement.disposal_date)  # fmt: skip
    mine = registers.row_add(actor=onsite, form=form, data={
        "system_id": system.pk, "site_id": world.branch_a.pk, "data_class": "当前数据",
        "data_name": str(tmp_path / "current"), "as_of": "2026-12-01", "method": "数据库备份",
        "backed_up_at": "2026-12-01T16:00", "media_type": "移动硬盘", "media_no": "HD-01", "seal_no": "F-7",
        "integrity": "通过", "readability": "通过", "offsite": "否", "upload_via": "内部网络",
    })  # fmt: skip
    import_file(path, onsite)
    (t14,) = rows(14)
    assert t14.pk == mine.pk and t14.data["media_no"] == "HD-01" and t14.data["integrity"] == "不通过"
    assert Form.objects.filter(register_no=14).count() == 1


def test_drafts_cannot_be_submitted_until_complete(world: World, onsite, tmp_path: Path) -> None:
    import_file(faulty_bundle(enrol(world, tmp_path)), onsite)
    form = Form.objects.get(register_no=14)
    with pytest.raises(DomainError) as refused:
        registers.form_submit(actor=onsite, form=form)
    assert refused.value.field == "form" and "1" in str(refused.value.message)
    form.refresh_from_db()
    assert form.state == "draft"


def _rezip(path: Path, out: Path, change) -> Path:
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(out, "w") as new:
        for name in old.namelist():
            new.writestr(name, change(name, old.read(name)))
    return out


def _refused(path: Path, actor: object, reason: str) -> None:
    before = (
        Form.objects.count(),
        Row.objects.count(),
        ImportedBundle.objects.count(),
        InformationSystem.objects.count(),
    )
    with pytest.raises(BundleRejected) as refused:
        import_file(path, actor)
    assert refused.value.code == reason
    after = (
        Form.objects.count(),
        Row.objects.count(),
        ImportedBundle.objects.count(),
        InformationSystem.objects.count(),
    )
    assert after == before
    event = Event.objects.filter(action=events.BUNDLE_REFUSE).latest("seq")
    assert event.outcome == Outcome.FAILURE and event.after["reason"] == reason


def test_tampered_bundle_is_refused_and_nothing_written(world: World, onsite, tmp_path: Path) -> None:
    path = faulty_bundle(enrol(world, tmp_path))

    def hide_problems(name: str, data: bytes) -> bytes:
        if not name.startswith("reports/"):
            return data
        report = json.loads(data)
        report["problems"] = []
        return json.dumps(report).encode()

    _refused(_rezip(path, tmp_path / "t.zip", hide_problems), onsite, "altered")
    damaged = bytearray(path.read_bytes())
    member = damaged.find(b"reports/01")
    damaged[member + 200] ^= 0xFF  # a flipped byte in transit
    (tmp_path / "d.zip").write_bytes(bytes(damaged))
    with pytest.raises(BundleRejected) as refused:
        import_file(tmp_path / "d.zip", onsite)
    assert refused.value.code in ("altered", "not_a_bundle", "bad_signature")
    assert Row.objects.count() == 0


def test_bad_signature_is_refused(world: World, onsite, tmp_path: Path) -> None:
    path = faulty_bundle(enrol(world, tmp_path))

    def other_register(name: str, data: bytes) -> bytes:
        return data.replace(b'"register": 14', b'"register": 29') if name == "index.json" else data

    def forged(name: str, data: bytes) -> bytes:
        return b"AAAA" + data[4:] if name == "index.sig" else data

    _refused(_rezip(path, tmp_path / "t.zip", other_register), onsite, "bad_signature")
    _refused(_rezip(path, tmp_path / "f.zip", forged), onsite, "bad_signature")


def test_unenrolled_site_and_revoked_key_are_refused(world: World, onsite, tmp_path: Path) -> None:
    field = enrol(world, tmp_path)
    path = faulty_bundle(field)
    key = SiteKey.objects.get()
    services.site_key_revoke(actor=system("test"), key=key)
    _refused(path, onsite, "unknown_key")
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    args = [
        "enroll",
        "--engagement",
        world.engagement.code,
        "--site",
        "BA",
        "--export",
        str(stranger / "p.json"),
    ]
    assert agent([*args, "--agent-dir", str(stranger / "agent")]) == 0  # made but never enrolled
    other = Field(stranger, stranger / "agent").bundle("../v.json", extra=("--system", SYSTEM))
    _refused(other, onsite, "unknown_key")


def test_other_sites_people_may_not_import(world: World, tmp_path: Path) -> None:
    path = faulty_bundle(enrol(world, tmp_path))
    at_b = world.login_with(Role.ONSITE_POST, site=world.branch_b)
    with pytest.raises(PermissionDenied):
        import_file(path, at_b)
    assert Row.objects.count() == 0 and ImportedBundle.objects.count() == 0


def test_courier_import_by_command(world: World, tmp_path: Path) -> None:
    path = faulty_bundle(enrol(world, tmp_path))
    with pytest.raises(CommandError, match="courier-no"):
        call_command("fixity", "import", str(path))
    out = io.StringIO()
    call_command("fixity", "import", str(path), "--courier-no", "SF1234567", stdout=out)
    assert "SIGNS OF TAMPERING" in out.getvalue()
    (t14,) = rows(14)
    assert (t14.data["upload_via"], t14.data["courier_no"]) == ("快递", "SF1234567")
    types = {Row.objects.get(pk=pk).data["exc_type"] for pk in t14.data["exception_refs"]}
    assert types == {"E05 数据备份异常", "E08 数据上传异常"}
    bundle = ImportedBundle.objects.get()
    assert bundle.via == ImportVia.COURIER and bundle.imported_by_name.startswith("system:fixity-import(")
    assert Event.objects.get(action=events.BUNDLE_IMPORT).actor_username == bundle.imported_by_name
    again = io.StringIO()
    call_command("fixity", "import", str(path), "--courier-no", "SF1234567", stdout=again)
    assert "nothing changed" in again.getvalue()


def test_key_issued_on_the_server_signs_for_its_site(world: World, onsite, tmp_path: Path) -> None:
    handed = tmp_path / "handed.json"
    call_command("fixity", "issue", "--engagement", world.engagement.code, "--site", "BA", "-o", str(handed),
                 stdout=io.StringIO())  # fmt: skip
    assert oct(handed.stat().st_mode & 0o777) == "0o600"
    assert "private_key" not in json.dumps(Event.objects.get(action=events.SITE_KEY_ISSUE).after)
    agent_dir = tmp_path / "agent"
    assert agent(["enroll", "--key-file", str(handed), "--agent-dir", str(agent_dir)]) == 0
    field = Field(tmp_path, agent_dir)
    reports = faulty_reports(field, "sha256")
    assert import_file(field.bundle(reports[0], extra=("--system", SYSTEM)), onsite).created


def test_daily_check_goes_to_table_29_for_its_trading_day(world: World, onsite, tmp_path: Path) -> None:
    field = enrol(world, tmp_path)
    tree = current_tree(tmp_path / "current")
    assert agent(["check-readable", str(tree), "--json", str(tmp_path / "r.json"), "-q"]) == 0
    (tree / "log.gz").write_bytes(b"\x1f\x8b" + b"\0" * 30)  # the next day's copy is broken
    assert agent(["check-readable", str(tree), "--json", str(tmp_path / "r2.json"), "-q"]) == 1
    extra = ("--system", SYSTEM, "--register", "29", "--date", "2026-12-02")
    import_file(field.bundle("r.json", extra=extra), onsite)
    import_file(field.bundle("r2.json", out="b2.zip", extra=(*extra[:-1], "2026-12-03")), onsite)
    by_day = {r.data["trade_date"]: r for r in rows(29)}
    assert set(by_day) == {"2026-12-02", "2026-12-03"}
    assert (
        by_day["2026-12-02"].data["readability"] == "通过"
        and "exception_refs" not in by_day["2026-12-02"].data
    )
    (entry,) = rows(39)
    assert by_day["2026-12-03"].data["exception_refs"] == [entry.pk]
    assert entry.data["exc_type"] == "E05 数据备份异常" and "立即上报" not in entry.data["description"]


def test_partial_rows_still_refuse_bad_values(world: World, onsite) -> None:
    form = registers.form_create(actor=onsite, engagement=world.engagement, site=world.branch_a,
                                 register_no=14, form_date=world.engagement.disposal_date)  # fmt: skip
    row = registers.row_add(actor=onsite, form=form, data={"integrity": "通过"}, partial=True)
    assert row.data == {"integrity": "通过"}
    with pytest.raises(registers.RowInvalid) as refused:
        registers.row_add(actor=onsite, form=form, data={"integrity": "maybe"}, partial=True)
    assert set(refused.value.errors) == {"integrity"}
    with pytest.raises(registers.RowInvalid) as refused:
        registers.row_add(actor=onsite, form=form, data={"integrity": "通过"})
    assert "system_id" in refused.value.errors


def test_a_value_the_register_refuses_undoes_the_whole_import(world: World, onsite, tmp_path: Path) -> None:
    field = enrol(world, tmp_path)
    tree = current_tree(tmp_path / "current")
    (tree / "log.gz").write_bytes(b"\x1f\x8b" + b"\0" * 30)
    assert agent(["check-readable", str(tree), "--json", str(tmp_path / "r.json"), "-q"]) == 1
    # A system name the secrets check takes for a password, in the 表39 description.
    path = field.bundle("r.json", extra=("--system", "Db1!Prod#2024x", "--register", "14"))
    before = state()
    with pytest.raises(DomainError) as refused:
        import_file(path, onsite)
    assert "表39" in str(refused.value.message) and "描述" in str(refused.value.message)
    assert state() == before


def test_the_sweep_removes_a_failed_imports_file_only_while_no_import_runs(
    world: World, onsite, tmp_path: Path, settings
) -> None:
    """The worker's sweep at start (docs/crash.md): the signed file an import kept before its rows were refused,
    and a copy cut short, are removed — but not while an import holds the folder's lock (it may be between
    keeping its file and committing its bundle); an imported bundle's file always stays."""
    settings.MEDIA_ROOT = str(tmp_path / "media")  # a folder of its own: other tests' kept files are not its
    field = enrol(world, tmp_path)
    tree = current_tree(tmp_path / "current")
    assert agent(["check-readable", str(tree), "--json", str(tmp_path / "r.json"), "-q"]) == 0
    good = import_file(field.bundle("r.json", extra=("--system", SYSTEM, "--register", "14")), onsite)
    (tree / "log.gz").write_bytes(b"\x1f\x8b" + b"\0" * 30)
    assert agent(["check-readable", str(tree), "--json", str(tmp_path / "r2.json"), "-q"]) == 1
    refused = field.bundle("r2.json", out="bad.zip", extra=("--system", "Db1!Prod#2024x", "--register", "14"))
    with pytest.raises(DomainError):
        import_file(refused, onsite)
    folder = Path(services.default_storage.path(services.BUNDLES))
    (folder / ".incoming-cut").write_bytes(b"PK")
    kept = sorted(p.name for p in folder.iterdir() if p.name != ".lock")
    assert len(kept) == 3 and f"{good.bundle.digest}.zip" in kept
    with services._importing():  # an import under way elsewhere
        assert services.bundle_files_sweep() == []
    swept = services.bundle_files_sweep()
    assert sorted(swept) == sorted(
        f"{services.BUNDLES}/{name}" for name in kept if good.bundle.digest not in name
    )
    assert [p.name for p in folder.iterdir() if p.name != ".lock"] == [f"{good.bundle.digest}.zip"]


def test_continuity_of_every_system_and_a_day_that_does_not_exist(
    world: World, onsite, tmp_path: Path
) -> None:
    field = enrol(world, tmp_path)
    history = history_tree(tmp_path / "history")
    (history / "ta/20241008").mkdir(parents=True)
    (history / "ta/20241008/full.dmp").write_bytes(b"x" * 2000)
    (history / "counter/20241032").mkdir()  # no such date
    args = ["continuity", str(history), "--pattern", "{system}/{yyyymmdd}/", "--from", "2024-10-08",
            "--to", "2024-10-09", "--json", str(tmp_path / "c.json"), "-q"]  # fmt: skip
    assert agent(args) == 1
    wrong = ["bundle", str(tmp_path / "c.json"), "-o", str(tmp_path / "x.zip"), "--register", "29"]
    assert agent([*wrong, "--agent-dir", str(field.agent_dir)]) == 2
    import_file(field.bundle("c.json"), onsite)
    t15 = {InformationSystem.objects.get(pk=r.data["system_id"]).name: r for r in rows(15)}
    assert t15["counter"].data["continuity"] == "连续"  # 10-08 and 10-09 are there; 10-32 is no day
    assert (
        t15["ta"].data["continuity"] == "有缺口" and t15["ta"].data["gaps"] == "2024-10-09（缺少交易日备份）"
    )
    entries = {
        Row.objects.get(pk=pk).data["source_row_ref"] for r in t15.values() for pk in r.data["exception_refs"]
    }
    assert entries == {t15["counter"].pk, t15["ta"].pk}  # the bad date opens an entry too
