"""Engagements, the site tree, organisations, people and the roles they hold (第十二条~第十七条)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Phase(models.TextChoices):
    """第五条: the three periods of a custody."""

    PREPARATION = "preparation", pgettext_lazy("phase", "Preparation")
    HANDOVER = "handover", pgettext_lazy("phase", "Handover")
    STABILISATION = "stabilisation", pgettext_lazy("phase", "Stabilisation")


class Engagement(models.Model):
    """One custody (托管项目). Before the custodian enters, the firm's name is confidential (第十一条)."""

    code = models.SlugField(
        _("code"), max_length=40, unique=True, help_text=_("Letters, digits and hyphens; used in addresses.")
    )
    code_name = models.CharField(_("code name"), max_length=100, unique=True)
    firm_name = models.CharField(_("firm's real name"), max_length=200)
    custodian_name = models.CharField(_("custodian"), max_length=200)
    disposal_date = models.DateField(_("disposal date (D)"))
    phase = models.CharField(_("phase"), max_length=16, choices=Phase.choices, default=Phase.PREPARATION)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("engagement")
        verbose_name_plural = _("engagements")

    def __str__(self) -> str:
        return self.code_name


class SiteLevel(models.TextChoices):
    """第十三条 and 第二十四条: the levels at which posts are set and the handover is done."""

    HQ = "hq", _("Head office")
    REGION = "region", _("Regional centre")
    BRANCH = "branch", _("Branch")
    SERVICE = "service", _("Service point")


# Which levels may be the parent of which (服务部 only under a 营业部; a 营业部 under 区域中心 or 总部).
ALLOWED_PARENTS: dict[str, tuple[str, ...]] = {
    SiteLevel.HQ: (),
    SiteLevel.REGION: (SiteLevel.HQ,),
    SiteLevel.BRANCH: (SiteLevel.HQ, SiteLevel.REGION),
    SiteLevel.SERVICE: (SiteLevel.BRANCH,),
}


class Site(models.Model):
    """A place where the handover happens. ``path`` (ancestor ids, e.g. ``/1/4/9/``) makes subtree reads one query."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(_("site code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=SiteLevel.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent site"),
    )
    path = models.CharField(max_length=400, db_index=True, editable=False)
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["engagement", "code"], name="org_site_code_unique")]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_level_display()})"

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


class OrgType(models.TextChoices):
    """registers.md §2 单位 type, from §20.7 and §26.6."""

    CUSTODIAN = "custodian", _("Custodian")
    FIRM = "firm", _("Custodied firm")
    APP_VENDOR = "app_vendor", _("Application developer")
    EQUIPMENT_VENDOR = "equipment_vendor", _("Equipment supplier")
    LINE_CARRIER = "line_carrier", _("Line carrier")
    TELECOM = "telecom", _("Telecom")
    POWER = "power", _("Power utility")
    PROPERTY = "property", _("Property management")
    PARTNER_BANK = "partner_bank", _("Partner bank")
    SSE = "sse", _("Shanghai Stock Exchange")
    SZSE = "szse", _("Shenzhen Stock Exchange")
    SECURITIES_ASSOCIATION = "securities_association", _("Local securities association")
    CSRC_BUREAU = "csrc_bureau", _("Local CSRC bureau")
    OTHER_TECH = "other_tech", _("Other technical institution")
    OTHER = "other", _("Other")


class Organisation(models.Model):
    """A party to the engagement: the custodian, the firm, vendors, carriers, exchanges, regulators."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="organisations")
    name = models.CharField(_("name"), max_length=200)
    type = models.CharField(_("type"), max_length=32, choices=OrgType.choices)
    contact_person = models.CharField(_("contact person"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["type", "name"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "name"], name="org_organisation_name_unique")
        ]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    def trail_name(self) -> str:
        """How the audit trail names it: 第十一条, the firm's real name is confidential (read only through
        ``org.services.firm_name_reveal``, which records the read), so the firm is named by its type there."""
        return str(self.get_type_display()) if self.type == OrgType.FIRM else self.name


class Party(models.TextChoices):
    """registers.md §2 人员 party (第十二~十四条)."""

    TECH_GROUP = "tech_group", _("Technical group")
    ONSITE_POST = "onsite_post", _("On-site technical post")
    FIRM_IT = "firm_it", _("Firm IT")
    FIRM_FINANCE = "firm_finance", _("Firm finance")
    BUSINESS = "business", _("Business staff")
    VENDOR = "vendor", _("Vendor staff")


class EmploymentType(models.TextChoices):
    PERMANENT = "permanent", _("Permanent")
    OUTSOURCED = "outsourced", _("Outsourced on site")
    VENDOR_ONSITE = "vendor_onsite", _("Vendor on site")
    SECONDED = "seconded", _("Seconded")


class Employment(models.TextChoices):
    EMPLOYED = "employed", _("Employed")
    LEFT = "left", _("Left")


class Person(models.Model):
    """A person in the engagement; 表5 must include IT staff who left in the half year before D (§25.3)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="people")
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="people", verbose_name=_("organisation")
    )
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="people", verbose_name=_("site")
    )
    department = models.CharField(_("department"), max_length=100, blank=True)
    post = models.CharField(_("post"), max_length=100, blank=True)
    party = models.CharField(_("party"), max_length=16, choices=Party.choices)
    employment_type = models.CharField(
        _("employment type"), max_length=16, choices=EmploymentType.choices, default=EmploymentType.PERMANENT
    )
    employment = models.CharField(
        _("employment"), max_length=10, choices=Employment.choices, default=Employment.EMPLOYED
    )
    leave_date = models.DateField(_("leave date"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="persons",
        verbose_name=_("login account"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "user"], name="org_person_one_per_user"),
            models.CheckConstraint(
                condition=~models.Q(employment="left") | models.Q(leave_date__isnull=False),
                name="org_person_left_has_date",
            ),
        ]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """What a person may do, at a site (and its subtree) or engagement-wide."""

    TECH_GROUP = "tech_group", _("Technical group")
    ONSITE_POST = "onsite_post", _("On-site technical post")
    FIRM_IT = "firm_it", _("Firm IT")
    FIRM_FINANCE = "firm_finance", _("Firm finance")
    OBSERVER = "observer", _("Observer")
    AUDITOR = "auditor", _("Auditor")
    SYSADMIN = "sysadmin", _("System administrator")


class ObserverBody(models.TextChoices):
    WORKING_GROUP = "working_group", _("Custody working group")
    CSRC_BUREAU = "csrc_bureau", _("Local CSRC bureau")


class RoleAssignment(models.Model):
    """A role held by a person. Revoking keeps the row (``revoked_at``) so history stays readable."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="role_assignments")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="roles")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    site = models.ForeignKey(
        Site,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="role_assignments",
        verbose_name=_("site"),
        help_text=_("Empty for engagement-wide roles."),
    )
    observer_body = models.CharField(
        _("observer for"), max_length=16, choices=ObserverBody.choices, blank=True
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["role", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "role", "site"],
                condition=models.Q(revoked_at__isnull=True),
                name="org_role_active_unique",
            ),
        ]
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")

    def __str__(self) -> str:
        return f"{self.person} · {self.get_role_display()}"
