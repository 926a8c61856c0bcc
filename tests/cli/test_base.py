"""cli/base.py: one error format and one exit code for a refusal, whichever app's command refuses."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from handover.cli.base import EXIT_REFUSED, domain_run, refusal
from handover.core import context
from handover.core.errors import DomainError


def test_a_refusal_names_its_field_once_and_exits_1():
    named = refusal(DomainError("已封存", field="vault"))
    assert str(named) == "vault: 已封存" and named.returncode == EXIT_REFUSED
    bare = refusal(DomainError("已封存"))
    assert str(bare) == "已封存"  # no "None: …"


def test_a_command_run_has_one_request_id_and_turns_refusals_into_the_error():
    with pytest.raises(CommandError, match=r"^code: taken$"), domain_run():
        ids = {context.current().request_id, context.current().request_id}
        assert len(ids) == 1 and context.current().channel == "cli"
        raise DomainError("taken", field="code")


def test_the_apps_commands_use_the_format(db):
    args = ["engagement", "create", "--code", "qs", "--code-name", "青松项目", "--firm-name", "某证券"]
    args += ["--custodian", "托管方", "--disposal-date", "2026-12-01"]
    call_command(*args)
    with pytest.raises(CommandError) as refused:
        call_command(*args)
    assert str(refused.value).startswith("code: ") and refused.value.returncode == EXIT_REFUSED
