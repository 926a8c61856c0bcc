"""The names a list shows for references: read as columns for some entities (issue 18), always as ``str()``."""

from __future__ import annotations

from types import SimpleNamespace

from handover.org.models import OrgType
from handover.registers import selectors
from handover.registers.columns import Column
from handover.registers.models import (
    Asset,
    BackupItem,
    CommunicationLine,
    Contract,
    Document,
    InformationSystem,
)
from handover.registers.selectors.refs import _LABEL_FIELDS
from tests.factories import OrganisationFactory


def test_the_labels_read_as_columns_are_what_str_gives(world):
    e, site = world.engagement, world.branch_a
    vendor = OrganisationFactory(engagement=e, name="恒生电子", type=OrgType.APP_VENDOR)
    entities = {
        "system": [InformationSystem.objects.create(engagement=e, site=site, name="集中交易系统")],
        "asset": [
            Asset.objects.create(engagement=e, site=site, name="交易主机", hostname="srv01"),
            Asset.objects.create(engagement=e, site=site, name="无主机名的柜子"),
        ],
        "line": [
            CommunicationLine.objects.create(
                engagement=e,
                line_no="L-001",
                purpose="报盘",
                a_site=site,
                b_end="上交所",
                medium="地面",
                role="主",
            )
        ],
        "document": [Document.objects.create(engagement=e, site=site, category="制度", title="<应急预案>")],
        "backup_item": [
            BackupItem.objects.create(engagement=e, site=site, media_type="磁带", media_no="T-9")
        ],
        "contract": [Contract.objects.create(engagement=e, contract_no="HT-2026-01", counterparty=vendor)],
    }
    assert set(entities) == set(_LABEL_FIELDS)
    columns = tuple(Column(key=ref, zh=ref, en=ref, type="ref", ref=ref) for ref in entities)
    rows = [
        SimpleNamespace(data={ref: objs[i % len(objs)].pk for ref, objs in entities.items()})
        for i in range(2)
    ]
    labels = selectors.ref_labels(engagement=e, columns=columns, rows=rows)  # type: ignore[arg-type]
    for ref, objs in entities.items():
        assert labels[ref] == {obj.pk: str(obj) for obj in objs}, ref
