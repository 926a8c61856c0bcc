"""Files on the register pages: export of a form and of the filtered list (xlsx / PDF / CSV) as attachments,
the blank template, and the import page (all or nothing, the errors as a table, the failed rows, progress)."""

from __future__ import annotations

import io
from datetime import date
from urllib.parse import quote

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from handover.audit.models import Event
from handover.org.models import Role
from handover.registers import catalogue, events, services
from handover.registers.io import frame
from handover.registers.io.template import template_bytes
from handover.registers.models import Form, FormState, ImportJob, ImportState, Row
from tests.factories import t8_values
from tests.registers.io_support import Scenery, fill_template, read_openpyxl, valid_row

T8_TITLE = "表8：交接日系统备份登记表"


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def people(world):
    return {
        "firm_it": world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it_a"),
        "onsite": world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite_a"),
        "tech": world.login_with(Role.TECH_GROUP, username="tech"),
        "finance": world.login_with(Role.FIRM_FINANCE, site=world.branch_a, username="finance_a"),
    }


def url(world, name, **kwargs):
    return reverse(f"registers:{name}", kwargs={"code": world.engagement.code, **kwargs})


def t8_form(world, people, site, media_no):
    actor = people["firm_it"] if site == world.branch_a else people["tech"]
    form = services.form_create(
        actor=actor, engagement=world.engagement, site=site, register_no=8, form_date=date(2026, 12, 1)
    )
    services.row_add(actor=actor, form=form, data={**t8_values(world.engagement, site), "media_no": media_no})
    return form


def all_cells(content: bytes) -> set:
    """Every value of every sheet (an export of several forms has a sheet per form)."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return {v for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row}


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_form_exported_as_xlsx_from_its_page_holds_the_title_and_the_row(client, world, people):
    form = t8_form(world, people, world.branch_a, "甲-介质-001")
    client.force_login(people["onsite"])
    page = client.get(url(world, "form_detail", form_id=form.pk)).content.decode()
    link = url(world, "form_export", form_id=form.pk, fmt="xlsx")
    assert f'href="{link}"' in page
    response = client.get(link)
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert quote(f"表8_交接日系统备份登记表_{form.form_no}_v1.xlsx") in disposition
    cells = read_openpyxl(body(response))
    values = [v for row in cells for v in row if v is not None]
    assert T8_TITLE in values and form.form_no in values and "甲-介质-001" in values
    exported = Event.objects.filter(action=events.EXPORT).get()
    assert exported.actor_username == "onsite_a" and exported.after["format"] == "xlsx"


def test_a_form_exported_as_csv_and_pdf(client, world, people):
    form = t8_form(world, people, world.branch_a, "甲-介质-002")
    client.force_login(people["firm_it"])
    csv = body(client.get(url(world, "form_export", form_id=form.pk, fmt="csv"))).decode("utf-8-sig")
    assert T8_TITLE in csv and "甲-介质-002" in csv
    for label in ("介质编号", "序号"):
        assert label in csv
    pdf = client.get(url(world, "form_export", form_id=form.pk, fmt="pdf"))
    assert pdf["Content-Type"] == "application/pdf"
    assert body(pdf).startswith(b"%PDF")
    assert client.get(url(world, "form_export", form_id=form.pk, fmt="docx")).status_code == 404


def test_a_branch_posts_list_export_holds_only_its_sites_rows_with_the_pages_filters(client, world, people):
    t8_form(world, people, world.branch_a, "甲-介质-003")
    t8_form(world, people, world.branch_a, "甲-介质-004")
    t8_form(world, people, world.branch_b, "乙-介质-001")
    client.force_login(people["onsite"])
    listing = client.get(url(world, "row_list", register_no=8) + "?q=甲-介质-003").content.decode()
    assert url(world, "row_export", register_no=8, fmt="xlsx") + "?q=" in listing
    values = all_cells(body(client.get(url(world, "row_export", register_no=8, fmt="xlsx"))))
    assert {"甲-介质-003", "甲-介质-004"} <= values and "乙-介质-001" not in values
    values = all_cells(
        body(client.get(url(world, "row_export", register_no=8, fmt="xlsx") + "?q=甲-介质-003"))
    )
    assert "甲-介质-003" in values and "甲-介质-004" not in values
    client.force_login(people["tech"])
    both = body(client.get(url(world, "row_export", register_no=8, fmt="csv"))).decode("utf-8-sig")
    assert "甲-介质-003" in both and "乙-介质-001" in both


def test_the_blank_template_downloads_as_xlsx_and_csv(client, world, people):
    client.force_login(people["finance"])  # a reader may take the template; only fillers import
    listing = client.get(url(world, "row_list", register_no=8)).content.decode()
    assert url(world, "register_template", register_no=8, fmt="xlsx") in listing
    assert 'data-testid="import-sites"' not in listing
    xlsx = client.get(url(world, "register_template", register_no=8, fmt="xlsx"))
    assert quote("表8_交接日系统备份登记表_模板.xlsx") in xlsx["Content-Disposition"]
    header = next(r for r in read_openpyxl(body(xlsx)) if r and r[0] == "序号")
    assert [h for h in header if h] == frame.frame(8).labels
    csv = body(client.get(url(world, "register_template", register_no=8, fmt="csv"))).decode("utf-8-sig")
    assert T8_TITLE in csv and "介质编号" in csv


def _upload(client, world, content, name="表8.xlsx"):
    return client.post(
        url(world, "import_page", register_no=8, site_id=world.branch_a.pk),
        {"file": SimpleUploadedFile(name, content)},
    )


def second_row(scenery):
    """A valid row that is not the first one again: another 备份对象类别 (the natural key differs)."""
    row = valid_row(8, scenery, 2)
    column = next(c for c in catalogue.columns(8) if c.key == "object_type")
    row[1 + catalogue.columns(8).index(column)] = column.choices[1].zh
    return row


def _filled(scenery, *rows):
    return fill_template(template_bytes(8), list(rows), {"日期": "2026-12-01", "填报单位/站点": "BA"})


def test_a_good_file_imported_through_the_page_creates_the_rows(client, world, people):
    scenery = Scenery(world)
    client.force_login(people["firm_it"])
    listing = client.get(url(world, "row_list", register_no=8)).content.decode()
    assert url(world, "import_page", register_no=8, site_id=world.branch_a.pk) in listing
    assert url(world, "import_page", register_no=8, site_id=world.branch_b.pk) not in listing
    content = _filled(scenery, valid_row(8, scenery, 1), second_row(scenery))
    response = _upload(client, world, content)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == url(world, "import_job", job_id=job.pk)
    assert job.state == ImportState.DONE, job.errors
    page = client.get(response["Location"]).content.decode()
    form = Form.objects.get(form_no=job.result["form_no"])
    assert form.site == world.branch_a and form.rows.filter(is_current=True).count() == 2
    assert 'data-testid="created">1, 2<' in page and form.form_no in page
    # The outcome opens the form the rows went into, to submit and sign it.
    assert f'href="{url(world, "form_detail", form_id=form.pk)}" data-testid="imported-form"' in page
    assert 'data-testid="nothing-imported"' not in page and "打开表单" in page
    # The same file again updates by natural key: nothing created, nothing duplicated.
    page = client.get(_upload(client, world, content)["Location"]).content.decode()
    assert 'data-testid="created">—<' in page and form.rows.filter(is_current=True).count() == 2
    # UX review H2: a file naming a signed form writes nothing, and the page says so instead of "已导入".
    Form.objects.filter(pk=form.pk).update(state=FormState.SIGNED)
    named = fill_template(template_bytes(8), [valid_row(8, scenery, 1)],
                          {"日期": "2026-12-01", "填报单位/站点": "BA", "编号": form.form_no})  # fmt: skip
    page = client.get(_upload(client, world, named)["Location"]).content.decode()
    assert 'data-testid="nothing-imported"' in page and "编号" in page


def test_a_signed_row_is_left_untouched_and_the_page_says_so(client, world, people):
    scenery = Scenery(world)
    client.force_login(people["firm_it"])
    first = valid_row(8, scenery, 1)
    client.get(_upload(client, world, _filled(scenery, first))["Location"])
    row = Row.objects.get(form__form_no=ImportJob.objects.get().result["form_no"])
    services.row_sign(actor=people["firm_it"], row=row, kind="executor")
    changed = list(first)
    changed[-1] = "改过的备注"
    page = client.get(_upload(client, world, _filled(scenery, changed))["Location"]).content.decode()
    assert 'data-testid="signed-untouched">1<' in page
    row.refresh_from_db()
    assert row.remarks == "备注文字"


def test_a_bad_file_lists_every_error_in_chinese_and_writes_nothing(client, world, people):
    scenery = Scenery(world)
    client.force_login(people["firm_it"])
    bad = second_row(scenery)
    keys = [c.key for c in catalogue.columns(8)]
    bad[1 + keys.index("purpose")] = "随便备份"
    bad[1 + keys.index("media_no")] = None
    content = _filled(scenery, valid_row(8, scenery, 1), bad)
    before = (Row.objects.count(), Form.objects.count())
    page = client.get(_upload(client, world, content)["Location"]).content.decode()
    assert (Row.objects.count(), Form.objects.count()) == before
    assert not Event.objects.filter(action=events.ROWS_IMPORT).exists()
    assert 'data-testid="import-errors"' in page and "未导入" in page
    purpose, media = (next(c.zh for c in catalogue.columns(8) if c.key == k) for k in ("purpose", "media_no"))
    assert f"<td>{purpose}</td>" in page and f"<td>{media}</td>" in page
    job = ImportJob.objects.get()
    assert job.state == ImportState.REFUSED and {e[1] for e in job.errors} == {purpose, media}
    failed = client.get(url(world, "import_failed_rows", job_id=job.pk))
    assert failed.status_code == 200 and "attachment; filename*=utf-8''" in failed["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(body(failed))).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[1][-1] == "错误" and len(rows) == 3  # title, header, the one failed row
    assert purpose in rows[2][-1] and media in rows[2][-1]


def test_a_file_that_is_not_a_register_is_refused_on_the_page(client, world, people):
    client.force_login(people["firm_it"])
    page = client.get(_upload(client, world, b"hello", name="notes.txt")["Location"]).content.decode()
    assert "notes.txt" in page and 'data-testid="import-errors"' in page
    assert ImportJob.objects.get().state == ImportState.FAILED and not Row.objects.exists()


def test_the_import_page_refuses_a_reader_and_another_branch(client, world, people):
    client.force_login(people["finance"])
    assert client.get(url(world, "import_page", register_no=8, site_id=world.branch_a.pk)).status_code == 403
    client.force_login(people["onsite"])
    assert client.get(url(world, "import_page", register_no=8, site_id=world.branch_b.pk)).status_code == 404
    page = client.get(url(world, "import_page", register_no=8, site_id=world.branch_a.pk))
    assert page.status_code == 200 and 'name="file"' in page.content.decode()


def test_a_running_import_shows_a_progress_bar_that_polls_until_done(client, world, people):
    job = ImportJob.objects.create(
        engagement=world.engagement,
        site=world.branch_a,
        register_no=8,
        filename="大文件.xlsx",
        content=b"PK",
        state=ImportState.VALIDATING,
        done_rows=2_500,
        total_rows=5_000,
    )
    client.force_login(people["onsite"])
    link = url(world, "import_job", job_id=job.pk)
    page = client.get(link).content.decode()
    assert f'hx-get="{link}" hx-trigger="every 1s"' in page and 'http-equiv="refresh"' in page
    partial = client.get(link, headers={"HX-Request": "true"})
    text = partial.content.decode()
    assert '<progress max="100" value="45">' in text and "2500" in text and "<html" not in text
    job.state, job.result = ImportState.DONE, {"lines": ["完成"], "created": [1]}
    job.save()
    finished = client.get(link, headers={"HX-Request": "true"})
    assert finished["HX-Refresh"] == "true"
    page = client.get(link).content.decode()
    assert "hx-trigger" not in page and "完成" in page
