"""M3: the checkpoint key may not sit in the data folder, and each checkpoint is shipped to a second place
(a folder on another mount, the auditors' email) with the place recorded in its event."""

from __future__ import annotations

import json

import pytest
from django.core import mail

from handover.audit import checkpoint, selectors, services


@pytest.fixture
def away(settings, tmp_path):
    settings.HANDOVER_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.HANDOVER_CHECKPOINT_KEY = tmp_path / "signer" / "checkpoint.key"
    settings.HANDOVER_CHECKPOINT_SHIP_DIR = tmp_path / "other-mount"
    settings.HANDOVER_CHECKPOINT_SHIP_EMAIL = ["auditors@example.com"]
    return tmp_path


def test_a_key_inside_the_data_folder_is_refused(db, settings, away):
    settings.HANDOVER_CHECKPOINT_KEY = settings.DATA_DIR / "keys" / "checkpoint.key"
    with pytest.raises(services.CheckpointKeyMisplaced) as refused:
        services.checkpoint_write(actor=None)
    assert refused.value.field == "HANDOVER_CHECKPOINT_KEY"
    assert not settings.HANDOVER_CHECKPOINT_KEY.exists()
    assert selectors.last_checkpoint_event() is None
    assert not list(away.glob("**/*.json"))


def test_the_default_key_is_outside_the_data_folder(settings):
    assert not checkpoint.key_inside(settings.HANDOVER_CHECKPOINT_KEY, settings.DATA_DIR)


def test_checkpoint_is_shipped_to_a_folder_and_mailed_and_the_places_recorded(db, away):
    written, seq = services.checkpoint_write(actor=None)
    copy = away / "other-mount" / written.name
    assert copy.read_bytes() == written.read_bytes()
    assert (copy.stat().st_mode & 0o777) == 0o600
    [message] = mail.outbox
    assert message.to == ["auditors@example.com"]
    assert json.loads(message.attachments[0][1])["seq"] == seq
    after = selectors.last_checkpoint_event().after
    assert after["shipped"] == [f"folder:{copy}", "email:auditors@example.com"]
    assert after["not_shipped"] == []


def test_a_second_place_that_cannot_be_reached_is_recorded(db, away, settings):
    (away / "blocked").write_text("a file, not a folder")
    settings.HANDOVER_CHECKPOINT_SHIP_DIR = away / "blocked"
    settings.HANDOVER_CHECKPOINT_SHIP_EMAIL = []
    written, _ = services.checkpoint_write(actor=None)
    assert written.exists()
    after = selectors.last_checkpoint_event().after
    assert after["shipped"] == [] and after["not_shipped"][0].startswith(f"folder:{away / 'blocked'}")
