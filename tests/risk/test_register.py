"""The risk register: levels on the matrix, quality checks, and acceptance approved by a second person who is
neither the owner nor the one who asked (第八条), as an invariant over every combination of people."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import IntegrityError, transaction

from handover.core import clock
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Person
from handover.risk import rules
from handover.risk.models import Risk, RiskAcceptance, Treatment
from handover.risk.selectors.register import levels_of, quality_check
from handover.risk.services import register
from tests.risk.conftest import at

SCORES = {"inherent_likelihood": 4, "inherent_impact": 5, "current_likelihood": 3, "current_impact": 4}


def _person(world, user) -> Person:
    return Person.objects.get(engagement=world.engagement, user=user)


def _risk(world, actor, number="R-1", owner=None, **extra) -> Risk:
    return register.risk_create(actor=actor, engagement=world.engagement, number=number, title="交易网与办公网未隔离",
                                owner=owner or world.person_a, scores={**SCORES, **extra.pop("scores", {})},
                                **extra)  # fmt: skip


def test_the_default_matrix_is_5x5_and_never_falls_as_likelihood_or_impact_rise():
    matrix = rules.DEFAULT.matrix
    assert matrix.size == 5 and matrix.names == ("低", "中", "高", "极高")
    for likelihood, impact in itertools.product(range(1, 6), repeat=2):
        level = matrix.level(likelihood, impact)
        assert likelihood == 5 or matrix.level(likelihood + 1, impact) >= level
        assert impact == 5 or matrix.level(likelihood, impact + 1) >= level


def test_a_risk_has_its_three_levels(world, people):
    risk = _risk(world, people["tech"], scores={"residual_likelihood": 2, "residual_impact": 2})
    assert levels_of(risk, rules.DEFAULT.matrix) == ("极高", "高", "低")


@pytest.mark.parametrize(
    ("scores", "field"),
    [
        ({"inherent_likelihood": 6}, "inherent_likelihood"),
        ({"current_impact": 0}, "current_impact"),
        ({"current_impact": "高"}, "current_impact"),
        ({"residual_likelihood": 2}, "residual_impact"),  # one residual score without the other
    ],
)
def test_bad_scores_name_the_field_and_write_nothing(world, people, scores, field):
    with pytest.raises(DomainError) as refused:
        _risk(world, people["tech"], scores=scores)
    assert refused.value.field == field and not Risk.objects.exists()


def test_quality_check_residual_above_current_is_an_error_and_a_mitigation_needs_its_action(world, people):
    _risk(world, people["tech"], scores={"residual_likelihood": 5, "residual_impact": 5},
          treatment=Treatment.MITIGATE)  # fmt: skip
    found = {(f.severity, f.message) for f in quality_check(user=people["tech"], engagement=world.engagement,
                                                            today=at(2026, 12, 1).date())}  # fmt: skip
    assert ("error", "the residual level is above the current level") in found
    assert ("open", "mitigated, but no 表40 corrective action is linked") in found


def test_an_accepted_risk_past_its_expiry_is_an_open_item(world, people):
    risk = _risk(world, people["onsite"], owner=_person(world, people["firm_it"]),
                 scores={"residual_likelihood": 2, "residual_impact": 2})  # fmt: skip
    with clock.frozen(at(2026, 12, 1)):
        asked = register.acceptance_request(actor=people["onsite"], risk=risk, reason="系统下线前不改造",
                                            expires_on=dt.date(2026, 12, 31))  # fmt: skip
        register.acceptance_approve(actor=people["tech"], acceptance=asked)

    def open_items(day):
        return [f.message for f in quality_check(user=people["tech"], engagement=world.engagement, today=day)]

    assert open_items(dt.date(2026, 12, 31)) == []
    assert open_items(dt.date(2027, 1, 1)) == ["the acceptance has expired: assess the risk again"]


def test_one_person_is_never_enough_to_accept_a_risk(world, people):
    """Every combination of owner, requester and approver among four people: approval goes through exactly
    when the approver holds accept_risk and is neither the owner nor the requester."""
    actors = ("tech", "tech2", "onsite", "firm_it")
    for number, (owner, asker, approver) in enumerate(itertools.product(actors, repeat=3)):
        risk = _risk(world, people["tech"], number=f"R-{number}", owner=_person(world, people[owner]))
        with clock.frozen(at(2026, 12, 1)):
            asked = register.acceptance_request(actor=people[asker], risk=risk, reason="理由",
                                                expires_on=dt.date(2027, 3, 31))  # fmt: skip
            may = approver in ("tech", "tech2") and approver not in (owner, asker)
            try:
                with transaction.atomic():
                    register.acceptance_approve(actor=people[approver], acceptance=asked)
                went_through = True
            except PermissionDenied:
                went_through = False
        assert went_through == may, (owner, asker, approver)
        asked.refresh_from_db()
        assert (asked.approved_by_id is not None) == may


def test_the_database_refuses_an_acceptance_approved_by_its_owner(world, people):
    owner = _person(world, people["tech"])
    risk = _risk(world, people["tech"], owner=owner)
    asker = _person(world, people["onsite"])
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskAcceptance.objects.create(risk=risk, owner=owner, requested_by=asker, reason="x",
                                      expires_on=dt.date(2027, 1, 1), approved_by=owner,
                                      approved_at=at(2026, 12, 1))  # fmt: skip


def test_an_acceptance_needs_a_reason_and_a_future_expiry(world, people):
    risk = _risk(world, people["tech"])
    with clock.frozen(at(2026, 12, 1)):
        for reason, expires, field in (
            ("", dt.date(2027, 1, 1), "reason"),
            ("理由", dt.date(2026, 12, 1), "expires_on"),
        ):
            with pytest.raises(DomainError) as refused:
                register.acceptance_request(
                    actor=people["tech"], risk=risk, reason=reason, expires_on=expires
                )
            assert refused.value.field == field
    assert not RiskAcceptance.objects.exists()
