"""The register pages, for all 41 from one set of views: index, list (filters, search, keyset paging with a
constant number of queries), forms with messages on the field, signatures, versions, row history."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from handover.audit.models import Event
from handover.org.models import OrgType, Role, RoleAssignment
from handover.registers import catalogue, services
from handover.registers.models import Form, FormState, InformationSystem, Row, Signature
from tests.factories import OrganisationFactory, register_form, t8_values


@pytest.fixture
def people(world):
    return {
        "firm_it": world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it_a"),
        "onsite": world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite_a"),
        "onsite_b": world.login_with(Role.ONSITE_POST, site=world.branch_b, username="onsite_b"),
        "finance": world.login_with(Role.FIRM_FINANCE, site=world.branch_a, username="finance_a"),
        "tech": world.login_with(Role.TECH_GROUP, username="tech"),
        "observer": world.login_with(Role.OBSERVER, username="observer"),
    }


def url(world, name, **kwargs):
    return reverse(f"registers:{name}", kwargs={"code": world.engagement.code, **kwargs})


def t8_form(world, people, site=None, rows=1, **values):
    """A 表8 form at branch A (or ``site``) with rows added through the services."""
    site = site or world.branch_a
    actor = people["firm_it"] if site == world.branch_a else people["tech"]
    form = services.form_create(
        actor=actor, engagement=world.engagement, site=site, register_no=8, form_date=date(2026, 12, 1)
    )
    for n in range(rows):
        data = {**t8_values(world.engagement, site), "media_no": f"HD-{n:03d}", **values}
        services.row_add(actor=actor, form=form, data=data)
    return form


def test_index_groups_the_41_registers_by_annex_with_counts_of_the_users_sites(client, world, people):
    t8_form(world, people, rows=2)
    t8_form(world, people, site=world.branch_b, rows=3)
    client.force_login(people["firm_it"])
    page = client.get(url(world, "index")).content.decode()
    for annex in catalogue.ANNEXES:
        assert f'data-annex="{annex}"' in page
    assert len(re.findall(r'data-register="\d+"', page)) == 41
    assert 'data-testid="rows-8">2<' in page  # branch A's two rows, not branch B's three
    assert "乙营业部" not in page
    client.force_login(people["tech"])
    page = client.get(url(world, "index")).content.decode()
    assert 'data-testid="rows-8">5<' in page and "乙营业部" in page
    page = client.get(url(world, "index") + f"?site={world.branch_b.pk}").content.decode()
    assert 'data-testid="rows-8">3<' in page
    page = client.get(url(world, "index") + "?phase=stabilisation").content.decode()
    assert 'data-annex="附件五"' in page and 'data-annex="附件四"' not in page


def test_an_onsite_post_sees_nothing_of_another_branch(client, world, people):
    form_b = t8_form(world, people, site=world.branch_b, media_no="乙介质")
    row_b = form_b.rows.get()
    client.force_login(people["onsite"])
    listing = client.get(url(world, "row_list", register_no=8)).content.decode()
    assert "乙介质" not in listing and "乙营业部" not in listing
    for name, kwargs in (
        ("form_detail", {"form_id": form_b.pk}),
        ("row_detail", {"row_id": row_b.pk}),
        ("row_edit", {"row_id": row_b.pk}),
        ("row_create", {"form_id": form_b.pk}),
    ):
        response = client.get(url(world, name, **kwargs))
        assert response.status_code == 404, name
        assert "乙介质" not in response.content.decode()
    # Asking for the other branch as a filter shows nothing either.
    listing = client.get(
        url(world, "row_list", register_no=8) + f"?site={world.branch_b.pk}"
    ).content.decode()
    assert "乙介质" not in listing


def test_list_filters_by_site_state_enum_column_and_full_text(client, world, people):
    form = t8_form(world, people, rows=2)
    services.row_add(
        actor=people["firm_it"],
        form=form,
        data={**t8_values(world.engagement, world.branch_a), "purpose": "交接全备份", "media_no": "特殊介质"},
        remarks="封存于备用机房",
    )
    t8_form(world, people, site=world.branch_b, media_no="乙介质")
    client.force_login(people["tech"])
    base = url(world, "row_list", register_no=8)

    def seqs(query):
        page = client.get(base + query).content.decode()
        return page, len(re.findall(r'<tr data-seq="\d+"', page))

    assert seqs("")[1] == 4
    assert seqs(f"?site={world.branch_a.pk}")[1] == 3
    assert seqs("?purpose=交接全备份")[1] == 1
    assert seqs("?purpose=改密前备份")[1] == 3
    assert seqs("?q=特殊介质")[1] == 1  # Chinese text inside the JSON values
    assert seqs("?q=hd-000")[1] == 1  # case-insensitive
    assert seqs("?q=备用机房")[1] == 1  # 备注
    assert seqs("?form_state=submitted")[1] == 0
    services.form_submit(actor=people["firm_it"], form=form)
    assert seqs("?form_state=submitted")[1] == 3
    _page, n = seqs("?purpose=not-a-value")
    assert n == 4  # an unknown value is ignored, not an error page


def _generate(world, people, n):
    """``n`` rows of 表8 at branch A in one form, written with bulk_create (scenery for paging)."""
    form = register_form(world.engagement, world.branch_a)
    values = t8_values(world.engagement, world.branch_a)
    Row.objects.bulk_create(
        (Row(form=form, seq=i, data={**values, "media_no": f"M{i:05d}"}) for i in range(1, n + 1)),
        batch_size=1000,
    )
    return form


def _walk_forward(client, base):
    seen, link = [], base
    while link:
        page = client.get(link).content.decode()
        seen += [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', page)]
        found = re.search(r'href="\?([^"]*after=[^"]+)"', page)
        link = base + "?" + found.group(1).replace("&amp;", "&") if found else None
    return seen


def test_keyset_pages_visit_every_row_once_forwards_and_backwards(client, world, people):
    _generate(world, people, 130)
    client.force_login(people["firm_it"])
    base = url(world, "row_list", register_no=8)
    assert _walk_forward(client, base) == list(range(1, 131))
    last = client.get(base + "?last=1").content.decode()
    assert [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', last)] == list(range(81, 131))
    before = re.search(r'href="\?before=([\d.]+)"', last).group(1)
    previous = client.get(base + f"?before={before}").content.decode()
    assert [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', previous)] == list(range(31, 81))


def _queries(client, link):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(link)
    assert response.status_code == 200
    return [q["sql"].upper() for q in captured.captured_queries], response.content.decode()


@pytest.mark.parametrize("who", ["firm_it", "tech"])  # a branch's scope, and the whole engagement
def test_the_list_costs_the_same_queries_on_the_first_and_the_last_page(
    client, world, people, django_assert_num_queries, who
):
    _generate(world, people, 5000)
    client.force_login(people[who])
    base = url(world, "row_list", register_no=8)
    client.get(base)  # the session's first request
    for query in ("?", "?purpose=改密前备份&q=M0&"):
        first, page = _queries(client, base + query)
        middle = re.search(r"after=([\d.]+)", page).group(1)
        with django_assert_num_queries(len(first)):
            last = client.get(base + query + "last=1").content.decode()
        assert 'data-seq="5000"' in last
        with django_assert_num_queries(len(first)):
            client.get(base + query + f"after={middle}")
        assert len(first) <= 12, first  # session, user, roles, sites, one page of rows, its references
        assert not any("COUNT(" in sql or "OFFSET" in sql for sql in first)


def _more_sites_and_forms(world, sites, forms_per_site):
    """``sites`` more 营业部 under the region, each with ``forms_per_site`` 表8 forms of 2 rows (one with a
    file, so the page looks up attachments) and a signed row; more of branch A's forms too."""
    from tests.factories import make_site

    made = [make_site(world.engagement, f"X{k:02d}", "branch", world.region) for k in range(sites)]
    for site in [*made, world.branch_a]:
        values = t8_values(world.engagement, site)
        for _ in range(forms_per_site):
            form = register_form(world.engagement, site)
            Row.objects.bulk_create(
                Row(form=form, seq=i, data={**values, "media_no": f"N{i}"}) for i in (1, 2)
            )


@pytest.mark.parametrize("who", ["onsite", "tech"])  # a branch's scope, and the whole engagement
@pytest.mark.parametrize("page", ["row_list", "form_list", "index"])
def test_the_register_pages_cost_the_same_queries_whatever_the_number_of_forms_and_sites(
    client, world, people, who, page
):
    """Issue 18: a register page's queries do not grow with the forms and sites it lists (no query per row,
    form, site or permission); the row list also with a site filter, as the handover day's posts read it."""
    t8_form(world, people, rows=3)
    client.force_login(people[who])
    links = [url(world, page, **({} if page == "index" else {"register_no": 8}))]
    if page == "row_list":
        links.append(links[0] + f"?site={world.branch_a.pk}")
    client.get(links[0])  # the session's first request
    before = [_queries(client, link) for link in links]
    _more_sites_and_forms(world, sites=4, forms_per_site=3)
    after = [_queries(client, link) for link in links]
    assert [len(q) for q, _page in before] == [len(q) for q, _page in after], (before, after)
    if page != "index":  # branch A's new forms are listed, not skipped
        assert after[0][1].count("BA-T08") > before[0][1].count("BA-T08")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_open_a_form_with_the_official_header_and_header_fields(client, world, people):
    client.force_login(people["firm_it"])
    create = url(world, "form_create", register_no=3)
    # 表3's header: report period and cycle, and the network topology as a file (an ``att`` field).
    response = client.post(
        create,
        {
            "site": world.branch_a.pk,
            "form_date": "2026-12-01",
            "header-report_cycle": "月报",
            "header-topology": SimpleUploadedFile("拓扑.png", b"MZ\x90\x00 not an image"),
        },
    )
    assert response.status_code == 200 and Form.objects.count() == 0
    errors = response.context["header"].errors
    assert "report_period" in errors  # required, named on its field
    assert "topology" in errors and "拓扑.png" in errors["topology"][0]  # refused by content
    response = client.post(
        create,
        {
            "site": world.branch_a.pk,
            "form_date": "2026-12-01",
            "header-report_cycle": "月报",
            "header-report_period": "2026-11",
            "header-topology": SimpleUploadedFile("拓扑.png", PNG),
        },
    )
    form = Form.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/register-forms/{form.pk}/")
    assert form.form_no == "BA-T03-20261201-001" and form.header["report_cycle"] == "月报"
    file = form.attachments.get(column="topology")
    assert form.header["topology"] == file.sha256 == hashlib.sha256(PNG).hexdigest()
    page = client.get(response["Location"]).content.decode()
    assert "BA-T03-20261201-001" in page and "甲营业部" in page and "2026-11" in page and "拓扑.png" in page
    # A finance login reads registers but does not open forms.
    client.force_login(people["finance"])
    assert client.get(create).status_code == 403


def test_row_form_has_a_widget_per_type_and_puts_every_message_on_its_field(client, world, people):
    form = t8_form(world, people, rows=0)
    values = t8_values(world.engagement, world.branch_a)
    client.force_login(people["firm_it"])
    page = client.get(url(world, "row_create", form_id=form.pk)).content.decode()
    assert 'type="datetime-local" name="started_at"' in page
    assert '<select name="purpose"' in page and '<option value="改密前备份">改密前备份</option>' in page
    assert 'type="number" name="copies"' in page and '<textarea name="content"' in page
    assert '<select name="system_id"' in page and "集中交易系统" in page
    bad = {
        **values,
        "content": "root 密码：Abc123456",  # a secret in free text
        "started_at": "yesterday",
        "copies": "two",
        "purpose": "",
        "asset_id": "999999",  # not a host the user may choose
    }
    response = client.post(url(world, "row_create", form_id=form.pk), bad)
    assert response.status_code == 200 and not form.rows.exists()
    errors = response.context["row_form"].errors
    assert "asset_id" in errors
    # The form refuses the host before the service runs; without it the service names the rest.
    response = client.post(url(world, "row_create", form_id=form.pk), {**bad, "asset_id": values["asset_id"]})
    errors = response.context["row_form"].errors
    assert set(errors) == {"content", "started_at", "copies", "purpose"}
    assert "registers.md §1.3" in errors["content"][0]
    page = response.content.decode()
    secret_field = page[page.index('data-field="content"') :]
    assert "errorlist" in secret_field[: secret_field.index("</div>")]
    assert not Event.objects.filter(action="registers.row.create").exists()
    response = client.post(url(world, "row_create", form_id=form.pk), values)
    row = form.rows.get()
    assert (
        response.status_code == 302 and row.data["copies"] == 2 and row.data["started_at"].startswith("2026")
    )


def _sign(client, world, row, kind):
    return client.post(url(world, "row_sign", row_id=row.pk), {"kind": kind}, follow=True)


def test_dual_signature_by_two_people_and_never_both_by_one(client, world, people):
    form = t8_form(world, people)
    row = form.rows.get()
    client.force_login(people["firm_it"])
    detail = client.get(url(world, "row_detail", row_id=row.pk)).content.decode()
    assert 'data-testid="sign-executor"' in detail and 'data-testid="sign-supervisor"' not in detail
    _sign(client, world, row, "executor")
    client.force_login(people["onsite_b"])  # the other branch's post may not supervise here
    assert _sign(client, world, row, "supervisor").status_code == 404
    client.force_login(people["onsite"])
    page = _sign(client, world, row, "supervisor").content.decode()
    assert Signature.objects.filter(row=row).count() == 2
    assert 'data-kind="executor"' in page and 'data-kind="supervisor"' in page
    # The row list and the form page name both signers in the row's cells (read as names: issue 18).
    for listing in (url(world, "row_list", register_no=8), url(world, "form_detail", form_id=form.pk)):
        html = client.get(listing).content.decode()
        assert f'data-testid="executor">{people["firm_it"].persons.get().name}</td>' in html
        assert f'data-testid="supervisor">{people["onsite"].persons.get().name}</td>' in html
    # One person holding both roles signs one side only.
    both = world.login_with(Role.FIRM_IT, site=world.branch_a, username="both")
    RoleAssignment.objects.create(
        engagement=world.engagement, person=both.persons.get(), role=Role.ONSITE_POST, site=world.branch_a
    )
    other = services.row_add(
        actor=people["firm_it"], form=form, data=t8_values(world.engagement, world.branch_a)
    )
    client.force_login(both)
    _sign(client, world, other, "executor")
    page = _sign(client, world, other, "supervisor").content.decode()
    assert Signature.objects.filter(row=other).count() == 1
    assert "第八条" in page


def test_signed_row_is_corrected_as_a_new_version_and_both_stay_visible(client, world, people):
    form = t8_form(world, people)
    row = form.rows.get()
    client.force_login(people["firm_it"])
    _sign(client, world, row, "executor")
    assert client.get(url(world, "row_edit", row_id=row.pk)).status_code == 200
    values = {**t8_values(world.engagement, world.branch_a), "copies": "3"}
    response = client.post(url(world, "row_edit", row_id=row.pk), values)
    assert "__all__" in response.context["row_form"].errors  # signed: frozen
    row.refresh_from_db()
    assert row.data["copies"] == 2
    response = client.post(url(world, "row_correct", row_id=row.pk), values)
    assert response.status_code == 200 and "reason" in response.context["reason"].errors
    assert Row.objects.filter(form=form).count() == 1
    response = client.post(
        url(world, "row_correct", row_id=row.pk), {**values, "correction-reason": "份数登记错误"}
    )
    new = Row.objects.get(form=form, is_current=True)
    assert response.status_code == 302 and new.version == 2 and new.data["copies"] == 3
    page = client.get(url(world, "row_detail", row_id=new.pk)).content.decode()
    assert page.count('data-testid="version"') == 2 and "份数登记错误" in page
    assert 'data-action="registers.row.correct"' in page and 'data-action="registers.row.sign"' in page
    assert 'data-action="registers.row.create"' in page
    old = client.get(url(world, "row_detail", row_id=row.pk)).content.decode()
    assert old.count('data-testid="version"') == 2


def test_form_lifecycle_submit_footer_signatures_and_correction(client, world, people):
    form = t8_form(world, people)
    row = form.rows.get()
    client.force_login(people["firm_it"])
    client.post(url(world, "form_submit", form_id=form.pk))
    form.refresh_from_db()
    assert form.state == FormState.SUBMITTED
    page = client.post(url(world, "form_sign", form_id=form.pk), follow=True).content.decode()
    assert Signature.objects.filter(form=form).count() == 0  # row 1 still needs its pair
    assert '<li class="error">' in page
    _sign(client, world, row, "executor")
    client.force_login(people["onsite"])
    _sign(client, world, row, "supervisor")
    for name in ("onsite", "firm_it"):
        client.force_login(people[name])
        client.post(url(world, "form_sign", form_id=form.pk))
    form.refresh_from_db()
    assert form.state == FormState.SIGNED
    page = client.get(url(world, "form_detail", form_id=form.pk)).content.decode()
    assert page.count("onsite_a") >= 1 and 'data-testid="sign-form"' not in page
    response = client.post(url(world, "form_correct", form_id=form.pk), {"reason": "补登一行"})
    new = Form.objects.get(form_no=form.form_no, is_current=True)
    assert response.status_code == 302 and new.version == 2 and new.state == FormState.DRAFT
    page = client.get(url(world, "form_detail", form_id=new.pk)).content.decode()
    assert 'data-testid="versions"' in page and "补登一行" in page
    assert f'href="/e/{world.engagement.code}/register-forms/{form.pk}/"' in page
    old_page = client.get(url(world, "form_detail", form_id=form.pk)).content.decode()
    assert 'data-testid="superseded"' in old_page and 'data-testid="add-row"' not in old_page


def test_observers_do_not_see_registers_and_finance_does_not_fill(client, world, people):
    form = t8_form(world, people)
    client.force_login(people["observer"])
    assert client.get(url(world, "index")).status_code == 403
    client.force_login(people["finance"])
    assert client.get(url(world, "form_detail", form_id=form.pk)).status_code == 200
    assert client.get(url(world, "row_create", form_id=form.pk)).status_code == 403


def test_a_register_number_outside_1_41_is_not_found(client, world, people):
    client.force_login(people["tech"])
    response = client.get(url(world, "row_list", register_no=42))
    assert response.status_code == 404 and "表42" in response.content.decode()


def test_labels_follow_the_language_and_keep_the_official_chinese(client, world, people):
    form = t8_form(world, people, rows=0)
    client.force_login(people["firm_it"])
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(url(world, "row_create", form_id=form.pk)).content.decode()
    assert "Purpose (备份目的)" in page and "改密前备份" in page
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    page = client.get(url(world, "row_create", form_id=form.pk)).content.decode()
    assert "备份目的" in page and "Purpose (备份目的)" not in page


def test_a_typed_reference_to_one_register_row_is_stored_as_its_id(client, world, people):
    """表39's 来源登记行 names one row: typed as its id on the row page, stored as that id (not a list); two
    ids are refused on the field, and nothing is written."""
    source = t8_form(world, people).rows.get()
    other = t8_form(world, people, media_no="HD-OTHER").rows.get()
    form = services.form_create(
        actor=people["onsite"],
        engagement=world.engagement,
        site=world.branch_a,
        register_no=39,
        form_date=date(2026, 12, 1),
    )
    vendor = OrganisationFactory(engagement=world.engagement, name="恒信软件", type=OrgType.APP_VENDOR)
    values = {
        "risk_no": "BA-R-001",
        "phase": "交接期",
        "site_id": world.branch_a.pk,
        "exc_type": "E05 数据备份异常",
        "found_at": "2026-12-01T21:10",
        "description": "备份无法读取",
        "impact": "无",
        "trading_impact": "否",
        "steps_done": "改用文件备份",
        "vendor_org_id": vendor.pk,
        "outcome": "替代方式完成",
        "reported_tg_at": "2026-12-01T21:40",
        "state": "处理中",
    }
    client.force_login(people["onsite"])
    create = url(world, "row_create", form_id=form.pk)
    response = client.post(create, {**values, "source_row_ref": f"{source.pk}, {other.pk}"})
    assert response.status_code == 200 and not form.rows.exists()
    assert "source_row_ref" in response.context["row_form"].errors
    response = client.post(create, {**values, "source_row_ref": str(source.pk)})
    assert response.status_code == 302, response.context["row_form"].errors
    assert form.rows.get().data["source_row_ref"] == source.pk


def test_opening_a_table6_form_builds_it_from_table5(client, world, people):
    """表6 is computed, never typed: opening one on its page builds its rows from the site's 表5."""
    system = InformationSystem.objects.create(
        engagement=world.engagement, site=world.branch_a, name="柜台系统"
    )
    t5 = services.form_create(
        actor=people["firm_it"],
        engagement=world.engagement,
        site=world.branch_a,
        register_no=5,
        form_date=date(2026, 12, 1),
    )
    services.row_add(
        actor=people["firm_it"],
        form=t5,
        data={
            "person_id": world.person_a.pk,
            "site_id": world.branch_a.pk,
            "dept": "信息技术部",
            "post": "系统管理员",
            "systems": [system.pk],
            "employment_type": "正式",
            "employment": "在职",
            "phone": "0571-88000000",
        },
    )
    client.force_login(people["onsite"])
    response = client.post(
        url(world, "form_create", register_no=6), {"site": world.branch_a.pk, "form_date": "2026-12-01"}
    )
    form = Form.objects.get(register_no=6)
    assert response.status_code == 302 and response["Location"].endswith(f"/register-forms/{form.pk}/")
    row = form.rows.get()
    assert row.data["dept"] == "信息技术部" and row.data["active_count"] == 1
    assert Event.objects.filter(action="registers.form.compute").exists()


def test_the_system_and_host_pickers_offer_the_forms_line_of_the_site_tree(client, world, people):
    """Issue 13: a host belongs to the chosen system and a system to the row's site — the pickers of a 甲营业部
    form offer head office's and 甲营业部's systems and hosts, not 乙营业部's, and name each host's systems."""
    from handover.registers.models import Asset, InformationSystem

    form = t8_form(world, people, rows=0)
    here = t8_values(world.engagement, world.branch_a, name="柜台系统")
    t8_values(world.engagement, world.hq, name="集中交易系统")
    t8_values(world.engagement, world.branch_b, name="乙营业部网上交易")
    Asset.objects.get(pk=here["asset_id"]).systems.add(InformationSystem.objects.get(pk=here["system_id"]))
    client.force_login(people["tech"])
    page = client.get(url(world, "row_create", form_id=form.pk)).content.decode()
    systems = page[page.index('<select name="system_id"') :].split("</select>")[0]
    hosts = page[page.index('<select name="asset_id"') :].split("</select>")[0]
    assert "柜台系统" in systems and "集中交易系统" in systems and "乙营业部网上交易" not in systems
    assert f"{world.branch_a.code.lower()}-db01" in hosts and f"{world.hq.code.lower()}-db01" in hosts
    assert f"{world.branch_b.code.lower()}-db01" not in hosts
    assert "· 柜台系统" in hosts  # a host names the systems it runs
