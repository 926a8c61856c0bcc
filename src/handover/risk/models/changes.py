"""Prudent change (三(二)三 审慎变更, 保证充分测试, 及时履行投资者告知义务; guideline 第三十一条第3、5项, 第三十八条):
a request to build, change or remove a system, with its risk assessment, test evidence and rollback plan, a
window, two approvals by persons other than the requester (第八条), the investor notice a change needs published
ahead of its window, and its execution outside trading sessions and the freeze periods (三(七)四 重要时期)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Person
from handover.registers.models import InformationSystem, Row


class ChangeKind(models.TextChoices):
    NEW = "new", _("Build (新建)")
    MODIFY = "modify", _("Change (变更)")
    REMOVE = "remove", _("Remove (移除)")


class ChangeState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    DONE = "done", _("Done")
    ROLLED_BACK = "rolled_back", _("Rolled back")
    CANCELLED = "cancelled", _("Cancelled")


class Change(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("change no."), max_length=20)
    kind = models.CharField(_("kind"), max_length=10, choices=ChangeKind.choices)
    title = models.CharField(_("change"), max_length=200)
    system = models.ForeignKey(
        InformationSystem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    system_name = models.CharField(_("system"), max_length=200)
    trading_system = models.BooleanField(_("a trading system"), default=False)
    risk_assessment = models.TextField(_("risk assessment"))
    test_evidence = models.TextField(_("test evidence"))
    rollback_plan = models.TextField(_("rollback plan"))
    window_start = models.DateTimeField(_("window starts"))
    window_end = models.DateTimeField(_("window ends"))
    notice_required = models.BooleanField(_("investors must be told"), default=False)
    notice_published_at = models.DateTimeField(_("notice published at"), null=True, blank=True)
    notice_reference = models.CharField(_("notice"), max_length=300, blank=True)
    t36_row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The registers' rows the change is recorded in: 表28 maintenance, 表30 operations, 表31 parameters, 表36
    # requests, 表37 new systems.
    rows = models.ManyToManyField(Row, blank=True, related_name="+", verbose_name=_("register rows"))
    state = models.CharField(_("state"), max_length=12, choices=ChangeState.choices, default="requested")
    requested_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    executed_by = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    executed_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(_("result"), blank=True)

    class Meta:
        ordering = ["-window_start", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "number"], name="risk_change_number_once"),
            models.CheckConstraint(
                condition=Q(window_end__gt=F("window_start")), name="risk_change_window_order"
            ),
            models.CheckConstraint(
                condition=~Q(risk_assessment="") & ~Q(test_evidence="") & ~Q(rollback_plan=""),
                name="risk_change_prudent",
            ),
        ]
        verbose_name = _("change")
        verbose_name_plural = _("changes")

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class ChangeApproval(models.Model):
    """One approval; a change runs after two, by two persons, neither of them its requester (第八条)."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="approvals")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    requester = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["change", "person"], name="risk_changeapproval_once"),
            models.CheckConstraint(
                condition=~Q(person=F("requester")), name="risk_changeapproval_not_requester"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.change_id} by {self.person_id}"


class FreezePeriod(models.Model):
    """A period of importance (三(七)四 重要时期网络和信息安全保障) in which no change runs, with its reason."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to"))
    reason = models.CharField(_("reason"), max_length=200)
    created_by_name = models.CharField(max_length=150)

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="risk_freeze_order"),
            models.CheckConstraint(condition=~Q(reason=""), name="risk_freeze_reason"),
        ]
        verbose_name = _("freeze period")

    def __str__(self) -> str:
        return f"{self.starts_on}–{self.ends_on} {self.reason}"
