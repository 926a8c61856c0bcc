"""The entities many registers share (registers.md §2; DESIGN.md decision 1).

A system named in 表7 is the same row that 表8, 表10, 表14 and 表16 point at, and the vault's secrets belong
to an account of such a system. Enum fields store the official Chinese term, as the registers do, so a value
reads the same in a row, an export and here. Nothing here holds a secret: a software licence key or a
password lives in the vault, and only its reference is kept (registers.md §1.3).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Organisation, Person, Site
from handover.registers.columns import Choice
from handover.registers.definitions.common import (
    ACCOUNT_CLASS,
    ACCOUNT_LAYER,
    ASSET_CLASS,
    DOCUMENT_CATEGORY,
    LINE_MEDIUM,
    LINE_ROLE,
    SYSTEM_CATEGORY,
)


def _choices(values: tuple[Choice, ...]) -> list[tuple[str, str]]:
    return [(choice.zh, choice.zh) for choice in values]


class AccountStatus(models.TextChoices):
    ACTIVE = "启用", _("Enabled")
    DISABLED = "停用", _("Disabled")
    DELETED = "已删除", _("Deleted")


class _Entity(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class InformationSystem(_Entity):
    """信息系统: a system of the firm at a site (第二十二条, 第二十六条第1项); 表7 is its master checklist."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="systems")
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(
        _("category"), max_length=20, choices=_choices(SYSTEM_CATEGORY), default="其他"
    )
    vendor = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    version = models.CharField(_("version"), max_length=100, blank=True)
    platform = models.CharField(_("platform (OS / database / middleware)"), max_length=200, blank=True)

    class Meta:
        ordering = ["site_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "site", "name"], name="registers_system_name_unique"
            )
        ]
        verbose_name = _("information system")
        verbose_name_plural = _("information systems")

    def __str__(self) -> str:
        return self.name


class Asset(_Entity):
    """设备: an electronic device of the firm (第二十六条第7项), including the hosts the systems run on."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="assets")
    fixed_asset_no = models.CharField(_("fixed-asset number"), max_length=100, blank=True)
    name = models.CharField(_("name"), max_length=200)
    hostname = models.CharField(_("host name or address"), max_length=255, blank=True)
    asset_class = models.CharField(_("class"), max_length=20, choices=_choices(ASSET_CLASS), default="服务器")
    model = models.CharField(_("model"), max_length=200, blank=True)
    serial = models.CharField(_("serial number"), max_length=200, blank=True)
    room = models.CharField(_("room / rack"), max_length=200, blank=True)
    systems = models.ManyToManyField(InformationSystem, blank=True, related_name="assets")
    condition = models.CharField(_("condition"), max_length=200, blank=True)

    class Meta:
        ordering = ["site_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "fixed_asset_no"],
                condition=~Q(fixed_asset_no=""),
                name="registers_asset_no_unique",
            ),
            models.UniqueConstraint(
                fields=["engagement", "site", "hostname"],
                condition=~Q(hostname=""),
                name="registers_asset_hostname_unique",
            ),
        ]
        verbose_name = _("asset")
        verbose_name_plural = _("assets")

    def __str__(self) -> str:
        return self.hostname or self.name


class Software(_Entity):
    """软件 (第二十六条第6项); the licence key, if any, is in the vault and only referenced here."""

    name = models.CharField(_("name"), max_length=200)
    software_class = models.CharField(_("class"), max_length=100, blank=True)
    version = models.CharField(_("version"), max_length=100, blank=True)
    vendor = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    licence_ref = models.CharField(_("licence (vault reference)"), max_length=100, blank=True)
    installed_on = models.ManyToManyField(Asset, blank=True, related_name="software")

    class Meta:
        ordering = ["name", "version"]
        verbose_name = _("software")
        verbose_name_plural = _("software")

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


class Contract(_Entity):
    """合同 and its performance (第二十六条第6项: 信息系统合同及合同执行情况, 运维费用支付)."""

    contract_no = models.CharField(_("contract number"), max_length=100)
    counterparty = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    contract_type = models.CharField(_("type"), max_length=100, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, null=True, blank=True)
    starts_on = models.DateField(_("term from"), null=True, blank=True)
    ends_on = models.DateField(_("term to"), null=True, blank=True)
    payment_method = models.CharField(_("payment method"), max_length=200, blank=True)
    paid = models.DecimalField(_("paid"), max_digits=16, decimal_places=2, null=True, blank=True)
    unpaid = models.DecimalField(_("unpaid"), max_digits=16, decimal_places=2, null=True, blank=True)
    status = models.CharField(_("status"), max_length=100, blank=True)

    class Meta:
        ordering = ["contract_no"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "contract_no"], name="registers_contract_no_unique")
        ]
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")

    def __str__(self) -> str:
        return self.contract_no


class Account(_Entity):
    """账户: a login on a system or device (第二十六条第2、3项); its secret, if handed over, is in the vault."""

    system = models.ForeignKey(InformationSystem, on_delete=models.PROTECT, related_name="accounts")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts")
    layer = models.CharField(_("layer"), max_length=10, choices=_choices(ACCOUNT_LAYER))
    login_name = models.CharField(_("login name"), max_length=200)
    account_class = models.CharField(_("class"), max_length=10, choices=_choices(ACCOUNT_CLASS))
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(
        _("status"), max_length=4, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )

    class Meta:
        ordering = ["system_id", "layer", "login_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "asset", "layer", "login_name"], name="registers_account_unique"
            ),
            models.UniqueConstraint(
                fields=["system", "layer", "login_name"],
                condition=Q(asset__isnull=True),
                name="registers_account_unique_no_host",
            ),
        ]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return f"{self.login_name}@{self.asset or self.system}"


class CommunicationLine(_Entity):
    """通讯线路 (第二十六条第6项, 第三十五条第1项: 重要通信线路备份及带宽, 报盘线路「天地」备份)."""

    line_no = models.CharField(_("line number"), max_length=100)
    purpose = models.CharField(_("purpose"), max_length=200)
    a_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="lines")
    b_end = models.CharField(_("other end"), max_length=200)
    carrier = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    medium = models.CharField(_("medium"), max_length=4, choices=_choices(LINE_MEDIUM))
    bandwidth = models.CharField(_("bandwidth"), max_length=50, blank=True)
    role = models.CharField(_("role"), max_length=2, choices=_choices(LINE_ROLE))

    class Meta:
        ordering = ["line_no"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "line_no"], name="registers_line_no_unique")
        ]
        verbose_name = _("communication line")
        verbose_name_plural = _("communication lines")

    def __str__(self) -> str:
        return self.line_no


class Document(_Entity):
    """技术资料 (表34's layout, SOURCED; 第二十六条第6项)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="documents")
    category = models.CharField(_("category"), max_length=20, choices=_choices(DOCUMENT_CATEGORY))
    title = models.CharField(_("title"), max_length=300)
    doc_no = models.CharField(_("document number"), max_length=100, blank=True)
    location = models.CharField(_("location"), max_length=200, blank=True)

    class Meta:
        ordering = ["site_id", "category", "title"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.title


class BackupItem(_Entity):
    """备份件: a backup medium, sealed on the handover day (第二十二条 封存, 第二十六条第4项 异地备份)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="backup_items")
    media_type = models.CharField(_("media type"), max_length=20)
    media_no = models.CharField(_("media number"), max_length=100)
    copies = models.PositiveSmallIntegerField(_("copies"), default=1)
    location = models.CharField(_("location"), max_length=200, blank=True)
    seal_no = models.CharField(_("seal number"), max_length=100, blank=True)
    offsite = models.BooleanField(_("off-site copy"), default=False)
    checksum = models.CharField(_("data digest"), max_length=200, blank=True)

    class Meta:
        ordering = ["site_id", "media_no"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "media_no"], name="registers_backup_media_unique")
        ]
        verbose_name = _("backup item")
        verbose_name_plural = _("backup items")

    def __str__(self) -> str:
        return self.media_no
