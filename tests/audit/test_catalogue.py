"""The event catalogue reads the installed apps (issue 17, a new app's touch points): an app that declares
events in its ``events.py`` is known once it is installed, with no list in the audit app to edit."""

from __future__ import annotations

from django.conf import settings
from django.test import override_settings

from handover.audit import catalogue
from handover.risk import events as risk_events
from handover.vault import events as vault_events


def test_every_installed_app_with_events_is_read():
    read = {module.__name__ for module in catalogue.event_modules()}
    assert {"handover.vault.events", "handover.registers.events", "handover.risk.events"} <= read
    assert "handover.web.events" not in read  # no events module: not an app that declares events
    assert catalogue.exists(vault_events.REVEAL_OPEN) and all(
        catalogue.exists(code) for code in risk_events.ACTIONS
    )


def test_a_new_app_s_events_are_found_once_it_is_installed(tmp_path, monkeypatch):
    app = tmp_path / "eventful"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "events.py").write_text('ACTIONS = {"eventful.thing_do": "Thing done"}\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(catalogue, "_actions", dict(catalogue._actions))
    assert not catalogue.exists("eventful.thing_do")
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "eventful"]):
        catalogue.load_all()
        assert catalogue.exists("eventful.thing_do")
        assert catalogue.label("eventful.thing_do") == "Thing done"
