"""Reads of the risk register: levels on the matrix in force, and the quality checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.risk import rules
from handover.risk.models import Risk, RiskAcceptance, Treatment
from handover.risk.selectors.common import visible


def risk_list(*, user: Actor, engagement: Engagement) -> QuerySet[Risk]:
    """The engagement's risks with their owner and acceptances (newest first)."""
    visible(user, engagement, perms.VIEW_RISK)
    return (
        Risk.objects.filter(engagement=engagement)
        .select_related("owner", "capa_row__form")
        .prefetch_related(Prefetch("acceptances", queryset=RiskAcceptance.objects.order_by("-requested_at")))
    )


class Levels(NamedTuple):
    inherent: str
    current: str
    residual: str


def levels_of(risk: Risk, matrix: rules.Matrix) -> Levels:
    def name(likelihood: int | None, impact: int | None) -> str:
        if likelihood is None or impact is None:
            return ""
        return matrix.names[matrix.level(likelihood, impact) - 1]

    return Levels(
        name(risk.inherent_likelihood, risk.inherent_impact),
        name(risk.current_likelihood, risk.current_impact),
        name(risk.residual_likelihood, risk.residual_impact),
    )


@dataclass(frozen=True)
class Finding:
    """A quality-check result on one risk: ``error`` (wrong) or ``open`` (something to do)."""

    severity: str
    risk: str
    message: str


def _level(matrix: rules.Matrix, likelihood: int | None, impact: int | None) -> int:
    return 0 if likelihood is None or impact is None else matrix.level(likelihood, impact)


def quality_check(*, user: Actor, engagement: Engagement, today: dt.date) -> list[Finding]:
    """Errors: residual above current; current above inherent. Open items: an accepted risk past its expiry
    or with no approved acceptance, a mitigated risk with no 表40 action, a risk with no residual score."""
    matrix = rules.current().matrix
    found: list[Finding] = []
    for risk in risk_list(user=user, engagement=engagement):
        current = _level(matrix, risk.current_likelihood, risk.current_impact)
        inherent = _level(matrix, risk.inherent_likelihood, risk.inherent_impact)
        residual = _level(matrix, risk.residual_likelihood, risk.residual_impact)
        if residual > current:
            found.append(Finding("error", risk.number, _("the residual level is above the current level")))
        if current > inherent:
            found.append(Finding("error", risk.number, _("the current level is above the inherent level")))
        if risk.residual_likelihood is None:
            found.append(Finding("open", risk.number, _("no residual score yet")))
        if risk.treatment == Treatment.MITIGATE and risk.capa_row_id is None:
            found.append(
                Finding("open", risk.number, _("mitigated, but no 表40 corrective action is linked"))
            )
        if risk.treatment == Treatment.ACCEPT:
            approved = [a for a in risk.acceptances.all() if a.approved_at is not None]
            if not approved or max(a.expires_on for a in approved) < today:
                found.append(
                    Finding("open", risk.number, _("the acceptance has expired: assess the risk again"))
                )
    return found
