"""What the crash harness runs inside a deployment of its own (``handover shell`` with a line on standard input,
``HANDOVER_DATA_DIR`` naming the deployment): the scenery, the operations that have no command of their own, and
the state a case compares. Prints one line of JSON; never a secret."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SYSTEM = "集中交易"
CONTEXT = "crash-context.json"


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
    (base / CONTEXT).write_text(json.dumps({"engagement": code}))
    print(json.dumps({"engagement": code}))


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
    from handover.registers.models import Row, Signature
    from handover.reports.models import HandoverPackage

    imported = Row.objects.filter(form__register_no=18, form__site__code="BA", is_current=True)
    imported = imported.exclude(form__form_no="REF-T18")
    t8 = Signature.objects.filter(row__form__form_no="REF-T08")
    bundles = list(ImportedBundle.objects.values("digest", "stored_as"))
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
                "checkpoint_events": Event.objects.filter(action="audit.checkpoint.write").count(),
                "events": Event.objects.count(),
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


def vault_rekey(shares_file: str) -> None:
    """Unseal this process's keeper with 3 of the 5 shares in ``shares_file``, then rekey with the same 3; the
    new shares go back into the file (a test's shares, never printed)."""
    from handover.core.actors import system
    from handover.vault import lifecycle

    shares = json.loads(Path(shares_file).read_text())["shares"]
    _unseal(shares[:3])
    nonce = ""
    for share in shares[:3]:
        progress = lifecycle.vault_rekey(
            actor=system("crash"), share_text=share, nonce=nonce, shares=5, threshold=3
        )
        nonce = progress.nonce
    assert progress.done
    Path(shares_file).write_text(json.dumps({"shares": progress.shares}))
    print(json.dumps({"rekeyed": True}))


def vault_open(shares_file: str) -> None:
    """Whether 3 of the shares in ``shares_file`` unseal the vault, and the reason when not."""
    from handover.core.errors import DomainError
    from handover.vault import lifecycle

    try:
        _unseal(json.loads(Path(shares_file).read_text())["shares"][:3])
    except DomainError as exc:
        print(json.dumps({"open": False, "reason": str(exc.message)}))
        return
    print(json.dumps({"open": not lifecycle.vault_status().sealed, "reason": ""}))
