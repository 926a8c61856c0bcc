"""Issue 17: a file never shows an internal id. Two rows of one name are told apart as a person would: the
plain name where it reads back from the form's site, else with the row's site in full-width brackets, then
a person's department; the import takes back exactly what the export wrote, and still reads ``name#id``."""

from __future__ import annotations

import io
import re
import subprocess

import pytest

from handover.core.actors import system
from handover.org.models import Person
from handover.registers import catalogue
from handover.registers.io import exporting, importing
from handover.registers.io.refs import References
from handover.registers.io.template import template_bytes
from handover.registers.models import Account, Form, InformationSystem, Row
from tests.factories import PersonFactory
from tests.registers.io_support import Scenery, fill_template, read_openpyxl, valid_row

ID_SUFFIX = re.compile(r"#\d")  # 表1 points at no other register's row (编号#序号), so no # at all


@pytest.fixture
def scenery(world):
    return Scenery(world)


@pytest.fixture
def twins(scenery):
    """集中交易系统 at 甲营业部 and at 乙营业部; 甲员工 at both; two 张三 at 甲营业部, told apart by department."""
    w = scenery.world
    other = InformationSystem.objects.create(engagement=w.engagement, site=w.branch_b, name="集中交易系统")
    PersonFactory(engagement=w.engagement, organisation=w.org, site=w.branch_b, name="甲员工")
    ops = PersonFactory(
        engagement=w.engagement, organisation=w.org, site=w.branch_a, name="张三", department="运维部"
    )
    dev = PersonFactory(
        engagement=w.engagement, organisation=w.org, site=w.branch_a, name="张三", department="开发部"
    )
    return other, ops, dev


def _import(scenery, content, name="t01.xlsx", site=None):
    return importing.register_import(
        actor=system("test"),
        engagement=scenery.world.engagement,
        site=site or scenery.world.branch_a,
        register_no=1,
        filename=name,
        content=content,
    )


def _export(scenery, form, fmt):
    out = io.BytesIO()
    exporting.register_export(
        actor=system("test"), engagement=scenery.world.engagement, register_no=1, fmt=fmt, out=out, form=form
    )
    return out.getvalue()


def _filled(scenery, **cells):
    row = valid_row(1, scenery)
    labels = [c.zh for c in catalogue.columns(1)]
    for label, value in cells.items():
        row[1 + labels.index(label)] = value
    return fill_template(template_bytes(1), [row], {"日期": "2026-12-01", "填报单位/站点": "BA"})


def test_same_names_at_two_sites_and_at_one_site_round_trip_without_ids(scenery, twins):
    other, _ops, dev = twins
    form = Form.objects.get(form_no=_import(scenery, _filled(scenery)).form_no)
    row = Row.objects.get(form=form)
    own = scenery.system.pk
    # Point the row at both 集中交易系统 and at the 张三 of 开发部, as a person may choose in the form.
    Row.objects.filter(pk=row.pk).update(data={**row.data, "systems": [own, other.pk], "person_id": dev.pk})

    xlsx = _export(scenery, form, "xlsx")
    table = read_openpyxl(xlsx)
    cells = [str(c) for line in table for c in line if c is not None]
    assert (
        "集中交易系统、集中交易系统（乙营业部）" in cells
    )  # its own site's system plain, the other's by site
    assert "张三（开发部）" in cells  # same name at the same site: by department
    csv_text = _export(scenery, form, "csv").decode("utf-8-sig")
    pdf = subprocess.run(
        ["pdftotext", "-", "-"], input=_export(scenery, form, "pdf"), capture_output=True, check=True
    ).stdout.decode()
    for text in ("\n".join(cells), csv_text, pdf):
        assert not ID_SUFFIX.search(text)
    assert "乙营业部" in "".join(pdf.split())

    for fmt, content in (("xlsx", xlsx), ("csv", csv_text.encode("utf-8-sig"))):
        again = _import(scenery, content, name=f"export.{fmt}")
        assert again.unchanged == [1] and not again.created and not again.updated, fmt
    stored = Row.objects.get(form=form, is_current=True).data
    assert stored["systems"] == [own, other.pk] and stored["person_id"] == dev.pk


def test_a_name_is_plain_where_the_form_is_and_qualified_elsewhere(scenery, twins):
    other, _ops, _dev = twins
    w = scenery.world
    refs = References(w.engagement)
    column = next(c for c in catalogue.columns(1) if c.key == "systems")
    assert refs.label(column, [other.pk], site_id=w.branch_b.pk) == ["集中交易系统"]
    assert refs.label(column, [other.pk], site_id=w.branch_a.pk) == ["集中交易系统（乙营业部）"]
    # From the 区域中心 and 总部 both lie in the subtree: the site tells them apart.
    assert refs.label(column, [scenery.system.pk], site_id=w.region.pk) == ["集中交易系统（甲营业部）"]
    assert refs.label(column, [scenery.system.pk], site_id=w.hq.pk) == ["集中交易系统（甲营业部）"]
    # The site may be written by its code too; the old name#id still reads back.
    assert refs.resolve(column, "集中交易系统（BB）", site_id=w.branch_a.pk, row={}) == other.pk
    assert refs.resolve(column, f"集中交易系统#{other.pk}", site_id=w.branch_a.pk, row={}) == other.pk


def test_an_old_name_hash_id_file_imports(scenery, twins):
    other, _ops, dev = twins
    result = _import(scenery, _filled(scenery, 负责系统=f"集中交易系统#{other.pk}", 姓名=f"张三#{dev.pk}"))
    data = Row.objects.get(form__form_no=result.form_no).data
    assert data["systems"] == [other.pk] and data["person_id"] == dev.pk


def test_an_ambiguous_name_is_refused_where_it_stands_with_what_to_write(scenery, twins):
    with pytest.raises(importing.ImportRefused) as refused:
        _import(scenery, _filled(scenery, 姓名="张三"))
    [issue] = refused.value.issues
    assert issue.row is not None and issue.column == "姓名"
    assert "张三（运维部）" in issue.reason and "张三（开发部）" in issue.reason
    assert not re.search(r"#\d", issue.reason)
    assert Person.objects.filter(name="张三").count() == 2


def test_one_login_on_one_host_at_two_layers_is_told_apart_by_layer(scenery):
    w = scenery.world
    database = Account.objects.create(
        engagement=w.engagement,
        system=scenery.system,
        asset=scenery.asset,
        layer="数据库",
        login_name="root",
        account_class="超级用户",
    )
    refs = References(w.engagement)
    column = next(c for c in catalogue.columns(9) if c.key == "account_id")
    site = w.branch_a.pk
    assert refs.label(column, scenery.account.pk, site_id=site) == "root@srv01（操作系统）"
    assert refs.label(column, database.pk, site_id=site) == "root@srv01（数据库）"
    for pk in (scenery.account.pk, database.pk):
        assert refs.resolve(column, refs.label(column, pk, site_id=site), site_id=site, row={}) == pk


def test_an_unknown_name_is_refused_where_it_stands_with_how_to_write_one(scenery):
    with pytest.raises(importing.ImportRefused) as refused:
        _import(scenery, _filled(scenery, 负责系统="不存在的系统"))
    [issue] = refused.value.issues
    assert issue.row is not None and issue.column == "负责系统"
    assert issue.reason.startswith("未找到：不存在的系统。") and "名称（站点）" in issue.reason
