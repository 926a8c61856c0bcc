"""What the crash harness runs inside a deployment of its own (``handover shell`` with a line on standard input,
``HANDOVER_DATA_DIR`` naming the deployment): the scenery, the operations that have no command of their own, and
the state a case compares. Prints one line of JSON; never a secret."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SYSTEM = "集中交易"
VAULT_SECRET = "Crash-Canary-7qR!x2Lm9#Vt"  # a canary: the harness searches the deployment for it
CONTEXT = "crash-context.json"
FORM_TO_SIGN = "BA-T05-20261201-901"


def setup(root: str) -> None:
    """A world whose sites are done (the package), every register's reference rows at 甲营业部 (the import and
    the row signature), a filled 表18 file, an enrolled site key and a signed bundle."""
    from django.core.management import call_command

    from handover.backups import services as backups
    from handover.core.actors import system
    from handover.fixity.cli import main as agent
    from handover.org.models import Role
    from tests.backups.test_import import current_tree
    from tests.registers.io_support import Scenery, fill_template, valid_row
    from tests.reports.support import done_world

    base = Path(root)
    world, _tech = done_world()
    scenery = Scenery(world)
    world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it")
    template = base / "t18-template.xlsx"
    call_command("registers", "template", "--register", "18", "-o", str(template), stdout=_Null())
    rows = [valid_row(18, scenery, n) for n in (1, 2, 3)]
    for n, row in enumerate(rows):
        row[3] = f"编号-{n}"  # 编号 (doc_no) is part of 表18's natural key
    (base / "t18.xlsx").write_bytes(fill_template(template.read_bytes(), rows, {"日期": "2026-12-01"}))
    agent_dir, pub = base / "agent", base / "pub.json"
    code = world.engagement.code
    args = [
        "enroll",
        "--engagement",
        code,
        "--site",
        "BA",
        "--export",
        str(pub),
        "--agent-dir",
        str(agent_dir),
    ]
    assert agent(args) == 0
    backups.site_key_enrol(actor=system("crash"), engagement=world.engagement, document=pub.read_bytes())
    tree = current_tree(base / "current")
    assert agent(["scan", str(tree), "-o", str(base / "m"), "--algo", "sha256", "-q", "--jobs", "1"]) == 0
    verify = ["verify", str(tree), "--manifest", str(base / "m"), "--json", str(base / "v.json"), "-q"]
    assert agent([*verify, "--jobs", "1"]) == 0
    assert agent(["check-readable", str(tree), "--json", str(base / "r.json"), "-q", "--jobs", "1"]) == 0
    bundle = ["bundle", str(base / "v.json"), str(base / "r.json"), "-o", str(base / "bundle.zip")]
    assert agent([*bundle, "--agent-dir", str(agent_dir), "--system", SYSTEM, "--register", "8"]) == 0
    _form_to_sign(world)
    (base / CONTEXT).write_text(json.dumps({"engagement": code}))
    print(json.dumps({"engagement": code}))


def _form_to_sign(world: Any) -> None:
    """表5 at 甲营业部, submitted, its 现场技术岗位 footer signed: the next one (被托管机构技术人员) is the last."""
    from datetime import date

    from handover.org.models import Role
    from handover.registers import services
    from handover.registers.models import Form, FormState, Row

    form = Form.objects.create(
        engagement=world.engagement,
        site=world.branch_a,
        register_no=5,
        form_no=FORM_TO_SIGN,
        form_date=date(2026, 12, 1),
        state=FormState.SUBMITTED,
    )
    Row.objects.create(form=form, seq=1, data={}, remarks="崩溃演练")
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite_ba")
    services.form_sign(actor=onsite, form=form)


class _Null:
    def write(self, *_: Any) -> None:
        return None

    def flush(self) -> None:
        return None


def sign() -> None:
    """The executor's signature on 表8's reference row at 甲营业部 (第八条)."""
    from django.contrib.auth import get_user_model

    from handover.core.errors import DomainError
    from handover.registers import services
    from handover.registers.models import Row

    row = Row.objects.get(form__form_no="REF-T08", seq=1, is_current=True)
    try:
        services.row_sign(actor=get_user_model().objects.get(username="firm_it"), row=row, kind="executor")
    except DomainError as exc:  # signed already: the re-run changes nothing
        print(json.dumps({"refused": str(exc.message)}))
        return
    print(json.dumps({"signed": True}))


def form_sign() -> None:
    """The last footer signature of the scenery's 表5 form, which marks it 已签字."""
    from django.contrib.auth import get_user_model

    from handover.core.errors import DomainError
    from handover.registers import services
    from handover.registers.models import Form

    form = Form.objects.get(form_no=FORM_TO_SIGN, is_current=True)
    try:
        services.form_sign(actor=get_user_model().objects.get(username="firm_it"), form=form)
    except DomainError as exc:  # signed already: the re-run changes nothing
        print(json.dumps({"refused": str(exc.message)}))
        return
    print(json.dumps({"signed": True}))


def check(public_key: str) -> None:
    """``handover audit verify`` (the command, in this process: one start-up less per check), then the state."""
    import io

    from django.core.management import CommandError, call_command

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit", "verify", "--public-key", public_key, stdout=out, stderr=err)
        verified = "audit trail intact" in out.getvalue()
    except (CommandError, SystemExit):  # a broken trail, or a checkpoint it does not match
        verified = False
    state(verify={"ok": verified, "output": out.getvalue() + err.getvalue()})


def state(**extra: Any) -> None:
    """What a case compares: the imported rows, the signatures and their events, the bundles and their files,
    the packages and the files beside them."""
    from django.conf import settings
    from django.core.files.storage import default_storage

    from handover.audit.models import Event
    from handover.backups.models import ImportedBundle
    from handover.registers.models import Form, Row, Signature
    from handover.reports.models import HandoverPackage, PackageBuild
    from handover.vault.models import VaultConfig

    imported = Row.objects.filter(form__register_no=18, form__site__code="BA", is_current=True)
    imported = imported.exclude(form__form_no="REF-T18")
    t8 = Signature.objects.filter(row__form__form_no="REF-T08")
    bundles = list(ImportedBundle.objects.values("digest", "stored_as"))
    digests = {b["digest"] for b in bundles}
    kept = Path(default_storage.path("fixity-bundles"))  # the sweep's lock file (.lock) is not a leftover
    store = Path(settings.HANDOVER_PACKAGE_DIR)
    packages = list(HandoverPackage.objects.select_related("engagement"))
    recorded = {f"{p.engagement.code}/{p.file_name}" for p in packages}
    on_disk = sorted(str(p.relative_to(store)) for p in store.rglob("*.zip")) if store.exists() else []
    print(
        json.dumps(
            {
                "import_rows": sorted(
                    hashlib.sha256(
                        json.dumps([r.seq, r.data, r.remarks], sort_keys=True).encode()
                    ).hexdigest()
                    for r in imported
                ),
                "import_events": Event.objects.filter(action="registers.rows.import").count(),
                "signatures": t8.count(),
                "sign_events": Event.objects.filter(action="registers.row.sign").count(),
                "bundles": len(bundles),
                "bundle_rows": Row.objects.filter(form__register_no=8, data__content__isnull=False).count(),
                "bundles_kept": sum(
                    bool(b["stored_as"]) and default_storage.exists(b["stored_as"]) for b in bundles
                ),
                "packages": len(packages),
                "packages_without_file": sorted(n for n in recorded if not (store / n).exists()),
                "files_without_record": sorted(set(on_disk) - recorded),
                "leftover_build_dirs": sorted(str(p.relative_to(store)) for p in store.glob("*/.build-*")),
                "package_builds": list(PackageBuild.objects.order_by("pk").values_list("state", flat=True)),
                "bundle_files_without_bundle": sorted(
                    p.name
                    for p in kept.glob("*")
                    if p.name != ".lock" and p.name.removesuffix(".zip") not in digests
                )
                if kept.is_dir()
                else [],
                "checkpoint_events": Event.objects.filter(action="audit.checkpoint.write").count(),
                "events": Event.objects.count(),
                "form_state": Form.objects.filter(form_no=FORM_TO_SIGN)
                .values_list("state", flat=True)
                .first(),
                "form_signatures": Signature.objects.filter(form__form_no=FORM_TO_SIGN).count(),
                "form_sign_events": Event.objects.filter(action="registers.form.sign").count(),
                "vault": list(
                    VaultConfig.objects.values_list(
                        "set_id", "threshold", "key_version", "pending_purpose", "pending_set_id"
                    )
                ),
                **extra,
            }
        )
    )


def _unseal(shares: list[str]) -> None:
    from handover.core.actors import system
    from handover.vault import lifecycle

    nonce = ""
    for share in shares:
        nonce = lifecycle.vault_share_enter(actor=system("crash"), share_text=share, nonce=nonce).get(
            "nonce", nonce
        )


def vault_setup(shares_file: str) -> None:
    """A 3-of-5 vault with one secret in it (an account at 甲营业部); its shares go into ``shares_file`` (a
    test's shares, never printed)."""
    from django.conf import settings

    from handover.core.actors import system
    from handover.org.models import Engagement, Site
    from handover.vault import lifecycle, services

    init = lifecycle.vault_init(actor=system("crash"), shares=5, threshold=3)
    Path(shares_file).write_text(json.dumps({"shares": init.shares}))
    context = Path(settings.DATA_DIR).parent / CONTEXT
    engagement = Engagement.objects.get(code=json.loads(context.read_text())["engagement"])
    target = services.Target(
        engagement=engagement,
        site=Site.objects.get(engagement=engagement, code="BA"),
        system_name=SYSTEM,
        hostname="ba-crash01",
        login_name="crashroot",
    )
    services.secret_put(actor=system("crash"), target=target, secret=VAULT_SECRET)
    print(json.dumps({"vault": True}))


def vault_start(purpose: str, shares_file: str, new_file: str, verify: bool = False) -> None:
    """Unseal this process's keeper with 3 of the shares in ``shares_file``, then start a rekey (5 of 3, as
    now) or a rotation with the same 3; the pending set's shares go into ``new_file``. With ``verify``, 3 of
    them are entered back in the same process: a rotation's new key is in the keeper that made it only."""
    from handover.core.actors import system
    from handover.vault import lifecycle

    shares = json.loads(Path(shares_file).read_text())["shares"]
    _unseal(shares[:3])
    nonce = ""
    for share in shares[:3]:
        if purpose == "rekey":
            progress = lifecycle.vault_rekey(
                actor=system("crash"), share_text=share, nonce=nonce, shares=5, threshold=3
            )
        else:
            progress = lifecycle.vault_rotate_master(actor=system("crash"), share_text=share, nonce=nonce)
        nonce = progress.nonce
    assert progress.done
    Path(new_file).write_text(json.dumps({"shares": progress.shares}))
    if verify:
        _verify(json.loads(Path(new_file).read_text())["shares"][2:])
        return
    print(json.dumps({"started": purpose}))


def vault_verify(shares_file: str, new_file: str) -> None:
    """Unseal with 3 of the shares in ``shares_file`` (the current set), then enter 3 of the pending set's
    back (another 3 than the first)."""

    _unseal(json.loads(Path(shares_file).read_text())["shares"][:3])
    _verify(json.loads(Path(new_file).read_text())["shares"][2:])


def _verify(shares: list[str]) -> None:
    from handover.core.actors import system
    from handover.core.errors import DomainError
    from handover.vault import lifecycle

    nonce = ""
    try:
        for share in shares:
            nonce = lifecycle.vault_pending_verify(actor=system("crash"), share_text=share, nonce=nonce).nonce
    except DomainError as exc:
        print(json.dumps({"verified": False, "code": exc.code}))
        return
    print(json.dumps({"verified": True}))


def vault_cancel() -> None:
    from handover.core.actors import system
    from handover.vault import lifecycle

    lifecycle.vault_pending_cancel(actor=system("crash"))
    print(json.dumps({"cancelled": True}))


def vault_open(shares_file: str) -> None:
    """Whether 3 of the shares in ``shares_file`` unseal the vault (and then give the secret back), and the
    reason when not."""
    from handover.core.errors import DomainError
    from handover.vault import lifecycle, services
    from handover.vault.models import SecretEntry

    try:
        _unseal(json.loads(Path(shares_file).read_text())["shares"][:3])
    except DomainError as exc:
        print(json.dumps({"open": False, "reason": str(exc.message)}))
        return
    entry = SecretEntry.objects.filter(account__login_name="crashroot").first()
    secret = entry and services.secret_use_for_task(entry_id=entry.pk, purpose="crash check")
    print(json.dumps({"open": not lifecycle.vault_status().sealed, "secret": secret == VAULT_SECRET}))
