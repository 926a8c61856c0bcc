"""The hash chain: canonical bytes, appending through ``event_record``, verification, the append-only
triggers and signed checkpoint files. In-memory chains first, then the real database (SQLite or PostgreSQL,
whichever the suite runs on)."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import DatabaseError, connection, transaction
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from handover.audit import chain, checkpoint, events, selectors, services
from handover.audit.checkpoint import Checkpoint, CheckpointError
from handover.audit.models import Event
from handover.audit.verify import verify_rows
from handover.org import events as org_events
from tests.factories import UserFactory

T0 = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)


def make_rows(count: int, *, algorithm: str = "sha256") -> list[dict[str, Any]]:
    """A correctly chained list of event rows, as ``selectors.chain_rows`` yields them."""
    rows: list[dict[str, Any]] = []
    for seq in range(1, count + 1):
        rows.append(
            {
                "seq": seq,
                "occurred_at": T0 + timedelta(seconds=seq),
                "actor_id": 7,
                "actor_username": "张三",
                "engagement_id": 1,
                "site_id": seq % 3 or None,
                "action": org_events.SITE_UPDATE,
                "object_type": "org.site",
                "object_id": str(seq),
                "before": {"name": f"营业部{seq}"},
                "after": {"name": f"营业部{seq}（新）", "tags": ["甲", seq]},
                "request_id": f"req{seq}",
                "client_addr": "10.0.0.1",
                "channel": "web",
                "outcome": "success",
                "prev_hash": "",
            }
        )
    rechain(rows, 0, algorithm=algorithm)
    return rows


def rechain(rows: list[dict[str, Any]], start: int, *, algorithm: str = "sha256") -> None:
    """Recompute prev_hash and hash from index ``start`` on: what an attacker rewriting the chain does."""
    digest = chain.hasher(algorithm)
    prev = rows[start - 1]["hash"] if start else chain.GENESIS
    for row in rows[start:]:
        row["prev_hash"] = prev
        row["hash"] = prev = digest(chain.canonical(row))


def cp_of(rows: list[dict[str, Any]], seq: int, *, algorithm: str = "sha256") -> Checkpoint:
    head = next(r["hash"] for r in rows if r["seq"] == seq)
    return Checkpoint(seq=seq, head_hash=head, algorithm=algorithm, created_at="2026-12-01T09:00:00+00:00")


def kinds(report: Any) -> list[tuple[str, int]]:
    return [(p.kind, p.seq) for p in report.problems]


# --- canonical bytes ------------------------------------------------------------------------------------


def test_canonical_bytes_are_pinned_so_existing_chains_stay_verifiable():
    row = {
        "seq": 1,
        "occurred_at": datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),
        "actor_id": 3,
        "actor_username": "李四",
        "engagement_id": 2,
        "site_id": None,
        "action": "org.site.create",
        "object_type": "org.site",
        "object_id": "5",
        "before": None,
        "after": {"z": 1, "a": {"y": "营业部", "b": [1, 2.5, True, None]}},
        "request_id": "r1",
        "client_addr": "127.0.0.1",
        "channel": "cli",
        "outcome": "success",
        "prev_hash": chain.GENESIS,
    }
    expected = (
        '[1,"2026-12-01T01:30:00.123456Z",3,"李四",2,null,"org.site.create","org.site","5",null,'
        '{"a":{"b":[1,2.5,true,null],"y":"营业部"},"z":1},"r1","127.0.0.1","cli","success",'
        f'"{chain.GENESIS}"]'
    ).encode()
    assert chain.canonical(row) == expected
    assert chain.hasher("sha256")(expected) == hashlib.sha256(expected).hexdigest()
    assert chain.hasher("SM3")(expected) == hashlib.new("sm3", expected).hexdigest()


def test_canonical_ignores_the_stored_hash_and_the_order_of_nested_keys():
    row = make_rows(1)[0]
    shuffled = {**row, "after": dict(reversed(list(row["after"].items()))), "hash": "whatever"}
    assert chain.canonical(shuffled) == chain.canonical(row)


def test_unknown_hash_algorithm_is_refused():
    with pytest.raises(ValueError, match="sha256 or sm3"):
        chain.hasher("md5")


# --- verification of in-memory chains -------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sm3"])
def test_intact_chain_verifies_with_its_head(algorithm):
    rows = make_rows(20, algorithm=algorithm)
    report = verify_rows(rows, algorithm=algorithm, checkpoints=[cp_of(rows, 20, algorithm=algorithm)])
    assert report.ok, report.problems
    assert (report.events, report.head_seq, report.head_hash) == (20, 20, rows[-1]["hash"])


def test_empty_chain_verifies_and_a_checkpoint_of_an_empty_chain_is_accepted():
    empty = Checkpoint(seq=0, head_hash=chain.GENESIS, algorithm="sha256", created_at="x")
    report = verify_rows([], algorithm="sha256", checkpoints=[empty])
    assert report.ok
    assert (report.events, report.head_seq, report.head_hash) == (0, 0, chain.GENESIS)


def test_chain_hashed_with_one_algorithm_fails_under_the_other():
    rows = make_rows(3, algorithm="sm3")
    assert kinds(verify_rows(rows, algorithm="sha256")) == [("edited", 1), ("edited", 2), ("edited", 3)]


def test_edited_event_is_reported_at_its_seq_and_the_rest_still_link():
    rows = make_rows(10)
    rows[4]["after"]["name"] = "篡改"
    assert kinds(verify_rows(rows, algorithm="sha256")) == [("edited", 5)]


def test_every_problem_is_reported_not_only_the_first():
    rows = make_rows(10)
    rows[1]["actor_username"] = "mallory"
    rows[7]["outcome"] = "failure"
    del rows[5]
    assert kinds(verify_rows(rows, algorithm="sha256")) == [("edited", 2), ("deleted", 6), ("edited", 8)]


def test_deleted_events_are_reported_with_the_missing_range():
    rows = make_rows(10)
    del rows[3:6]
    report = verify_rows(rows, algorithm="sha256")
    assert kinds(report) == [("deleted", 4)]
    assert "events 4–6 deleted" in report.problems[0].detail


def test_deleting_the_first_event_is_caught():
    rows = make_rows(5)[1:]
    assert kinds(verify_rows(rows, algorithm="sha256")) == [("deleted", 1)]


def test_event_relinked_to_another_predecessor_is_reported():
    rows = make_rows(6)
    rows[3]["prev_hash"] = rows[1]["hash"]
    rows[3]["hash"] = chain.hasher("sha256")(
        chain.canonical(rows[3])
    )  # consistent in itself: only the link lies
    rechain(rows, 4)
    assert kinds(verify_rows(rows, algorithm="sha256")) == [("relinked", 4)]


def test_events_out_of_order_are_reported():
    rows = make_rows(5)
    rows[2], rows[3] = rows[3], rows[2]
    found = kinds(verify_rows(rows, algorithm="sha256"))
    assert ("deleted", 3) in found
    assert ("relinked", 3) in found


def test_truncated_tail_is_caught_only_with_a_checkpoint():
    rows = make_rows(10)
    signed = cp_of(rows, 8)
    del rows[6:]
    assert verify_rows(rows, algorithm="sha256").ok
    report = verify_rows(rows, algorithm="sha256", checkpoints=[signed])
    assert kinds(report) == [("truncated", 7)]
    assert "signed event 8" in report.problems[0].detail


def test_rewritten_chain_is_consistent_but_the_checkpoint_catches_it():
    rows = make_rows(10)
    signed = cp_of(rows, 7)
    rows[2]["after"]["name"] = "篡改"
    rechain(rows, 2)
    assert verify_rows(rows, algorithm="sha256").ok
    report = verify_rows(rows, algorithm="sha256", checkpoints=[signed])
    assert kinds(report) == [("rewritten", 7)]


def test_rewrite_after_the_last_checkpoint_is_not_caught_by_it():
    rows = make_rows(10)
    signed = cp_of(rows, 5)
    rows[7]["after"] = {"name": "later"}
    rechain(rows, 7)
    assert verify_rows(rows, algorithm="sha256", checkpoints=[signed]).ok


def test_checkpoint_made_with_another_algorithm_is_reported():
    rows = make_rows(4)
    report = verify_rows(rows, algorithm="sha256", checkpoints=[cp_of(rows, 4, algorithm="sm3")])
    assert kinds(report) == [("rewritten", 4)]


def test_event_signed_in_a_checkpoint_but_missing_is_reported():
    rows = make_rows(8)
    signed = cp_of(rows, 5)
    del rows[4]
    found = kinds(verify_rows(rows, algorithm="sha256", checkpoints=[signed]))
    assert found == [("deleted", 5), ("deleted", 5)]


def test_any_single_change_to_any_field_of_any_event_is_detected():
    """A property test over a seeded stream of random single-field edits."""
    rng = random.Random(20261201)
    base = make_rows(12)
    fields = [f for f in chain.FIELDS if f not in {"seq", "prev_hash"}]
    for _ in range(300):
        rows = copy.deepcopy(base)
        index, name = rng.randrange(len(rows)), rng.choice(fields)
        rows[index][name] = mutate(rows[index][name], rng)
        assert kinds(verify_rows(rows, algorithm="sha256")) == [("edited", index + 1)], (index, name)


def mutate(value: Any, rng: random.Random) -> Any:
    if isinstance(value, datetime):
        return value + timedelta(microseconds=rng.randint(1, 10**6))
    if isinstance(value, dict):
        return {**value, "name": rng.choice(["x", "营业部", "", None, 0])}
    if isinstance(value, int):
        return value + rng.randint(1, 5)
    if value is None:
        return rng.choice([0, "", 1])
    return value + rng.choice(["x", "中", " "])


# --- appending through the service, on the real database --------------------------------------------------


class Actor:
    audit_name = "system:test"


def record(**kwargs: Any) -> Event:
    kwargs.setdefault("actor", Actor())
    kwargs.setdefault("action", org_events.SITE_UPDATE)
    return services.event_record(**kwargs)


def stored(seq: int) -> dict[str, Any]:
    """The row as read back from the database by the verifier's own selector."""
    return next(r for r in selectors.chain_rows() if r["seq"] == seq)


@pytest.fixture
def sm3(settings: Any) -> Iterator[None]:
    settings.HANDOVER_AUDIT_HASH = "sm3"
    services._hash_fn.cache_clear()
    yield
    services._hash_fn.cache_clear()


def test_event_record_appends_gapless_seqs_each_linking_to_the_previous_hash(db):
    head_seq, head_hash = selectors.chain_head()
    appended = [record(object_id=str(n)) for n in range(5)]
    assert [e.seq for e in appended] == list(range(head_seq + 1, head_seq + 6))
    assert appended[0].prev_hash == head_hash
    for earlier, later in itertools.pairwise(appended):
        assert later.prev_hash == earlier.hash
    assert selectors.chain_head() == (appended[-1].seq, appended[-1].hash)
    assert verify_rows(selectors.chain_rows(), algorithm="sha256").ok


def test_first_event_of_an_empty_trail_links_to_genesis(db):
    assert not Event.objects.exists()
    first = record()
    assert (first.seq, first.prev_hash) == (1, chain.GENESIS)


def test_event_record_fills_who_what_and_where(world):
    user = UserFactory(username="wang")
    event = record(
        actor=user, obj=world.branch_a, engagement_id=world.engagement.pk, site_id=world.branch_a.pk
    )
    row = stored(event.seq)
    assert (row["actor_id"], row["actor_username"]) == (user.pk, "wang")
    assert (row["object_type"], row["object_id"]) == ("org.site", str(world.branch_a.pk))
    assert (row["engagement_id"], row["site_id"], row["outcome"]) == (
        world.engagement.pk,
        world.branch_a.pk,
        "success",
    )
    assert len(row["request_id"]) == 32


RICH_AFTER = {
    "名称": "甲营业部（原：乙营业部）",
    "disposal_date": date(2026, 12, 1),
    "signed_at": datetime(2026, 12, 1, 9, 30, 15, 250000, tzinfo=ZoneInfo("Asia/Shanghai")),
    "amount": Decimal("1234567.10"),
    "nested": {"z": {"deep": ["一", 2, 3.5, None, False]}, "a": "\u2028行分隔"},
    "empty": {},
    "big": 2**62 + 1,
    "ratio": 0.1,
    "whole": 1.0,
}


def test_stored_hash_recomputes_from_the_stored_row_with_chinese_dates_and_nested_values(db):
    event = record(before={"名称": "乙营业部", "list": [{"b": 1, "a": 2}]}, after=RICH_AFTER)
    row = stored(event.seq)
    assert row["after"]["名称"] == "甲营业部（原：乙营业部）"
    assert row["after"]["disposal_date"] == "2026-12-01"
    assert row["after"]["signed_at"] == "2026-12-01T09:30:15.250+08:00"
    assert row["after"]["amount"] == "1234567.10"
    assert row["after"]["nested"]["z"]["deep"] == ["一", 2, 3.5, None, False]
    assert row["before"]["list"] == [{"a": 2, "b": 1}]
    assert chain.hasher("sha256")(chain.canonical(row)) == row["hash"] == event.hash
    assert verify_rows(selectors.chain_rows(), algorithm="sha256").ok


def test_chain_rows_reads_exactly_what_the_orm_reads(db):
    for n in range(7):
        record(before=None if n % 2 else {"n": n}, after={**RICH_AFTER, "n": n})
    record(after=None)
    via_orm = list(Event.objects.order_by("seq").values(*chain.FIELDS, "hash"))
    assert list(selectors.chain_rows(batch=3)) == via_orm
    assert [type(r["occurred_at"]) for r in selectors.chain_rows()] == [datetime] * 8
    assert all(r["occurred_at"].utcoffset() == timedelta(0) for r in selectors.chain_rows())


@pytest.mark.parametrize("number", [1e16, -1e17, 3.14159e300, -0.0, 2.5e-8, 123456789.125])
def test_floats_that_jsonb_would_rewrite_still_verify(db, number):
    """PostgreSQL's jsonb keeps numbers as numeric: 1e16 comes back as 10000000000000000, -0.0 as 0.0."""
    event = record(after={"value": number, "list": [number]})
    row = stored(event.seq)
    assert row["after"]["value"] == number
    assert chain.hasher("sha256")(chain.canonical(row)) == row["hash"]


def test_sm3_chain_is_hashed_with_sm3_and_verifies_only_as_sm3(db, sm3):
    events_ = [record(after={"n": n, "名": "国密"}) for n in range(3)]
    for event in events_:
        row = stored(event.seq)
        assert row["hash"] == hashlib.new("sm3", chain.canonical(row)).hexdigest()
    assert verify_rows(selectors.chain_rows(), algorithm="sm3").ok
    assert {p.kind for p in verify_rows(selectors.chain_rows(), algorithm="sha256").problems} == {"edited"}


def test_unknown_action_code_raises_and_writes_nothing(db):
    before = Event.objects.count()
    with pytest.raises(ValueError, match=r"not in any app's events\.py"):
        record(action="org.site.explode")
    assert Event.objects.count() == before


def test_secret_looking_keys_are_redacted_at_any_depth(db):
    secrets = {"password": "hunter2-pw", "token": "tok-123456", "totp_secret": "JBSWY3DPEHPK3PXP"}
    event = record(
        before={"name": "db01", **secrets},
        after={
            "name": "db01",
            "key": "k-98765",
            "connection": {"host": "10.0.0.5", "secret": "s-4242"},
            "accounts": [{"user": "root", "password": "root-pw-1"}],
        },
    )
    row = stored(event.seq)
    assert row["before"] == {
        "name": "db01",
        "password": "[redacted]",
        "token": "[redacted]",
        "totp_secret": "[redacted]",
    }
    assert row["after"]["key"] == "[redacted]"
    assert row["after"]["connection"] == {"host": "10.0.0.5", "secret": "[redacted]"}
    assert row["after"]["accounts"] == [{"user": "root", "password": "[redacted]"}]
    text = json.dumps(row, default=str, ensure_ascii=False)
    for leaked in ["hunter2-pw", "tok-123456", "JBSWY3DPEHPK3PXP", "k-98765", "s-4242", "root-pw-1"]:
        assert leaked not in text
    assert chain.hasher("sha256")(chain.canonical(row)) == row["hash"]


def test_snapshot_leaves_secret_fields_out(db):
    user = UserFactory(username="zhao")
    data = services.snapshot(user)
    assert data["username"] == "zhao"
    assert "password" not in data
    assert "totp_secret_sealed" not in data


# --- the database refuses changes ------------------------------------------------------------------------

REFUSED = "append-only"


def refused(action: Any) -> None:
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        action()


def test_orm_update_and_delete_are_refused_by_the_database(db):
    events_ = [record(after={"n": n}) for n in range(3)]
    target = events_[1]
    refused(lambda: Event.objects.filter(seq=target.seq).update(after={"n": "forged"}))
    refused(lambda: Event.objects.filter(seq=target.seq).delete())
    refused(lambda: Event.objects.all().delete())
    target.action = "forged"
    refused(lambda: target.save(update_fields=["action"]))
    refused(lambda: Event.objects.get(seq=events_[-1].seq).delete())
    assert Event.objects.count() == 3
    assert stored(target.seq)["after"] == {"n": 1}
    assert verify_rows(selectors.chain_rows(), algorithm="sha256").ok


def test_raw_sql_update_delete_and_truncate_are_refused(db):
    record()
    statements = ["UPDATE audit_event SET actor_username = 'x'", "DELETE FROM audit_event"]
    if connection.vendor == "postgresql":
        statements.append("TRUNCATE audit_event")
    for statement in statements:
        with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert Event.objects.count() == 1


def test_appending_is_still_allowed_after_a_refused_change(db):
    first = record()
    refused(lambda: Event.objects.filter(seq=first.seq).delete())
    second = record()
    assert (second.seq, second.prev_hash) == (first.seq + 1, first.hash)


# --- checkpoints -----------------------------------------------------------------------------------------


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def cp_file(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    cp = Checkpoint(seq=42, head_hash="ab" * 32, algorithm="sha256", created_at="2026-12-01T09:00:00+00:00")
    return checkpoint.write(cp, key, tmp_path / "cp.json")


def test_checkpoint_round_trips_with_its_key(cp_file, key):
    cp = checkpoint.read(cp_file, key.public_key())
    assert (cp.seq, cp.head_hash, cp.algorithm, cp.path) == (42, "ab" * 32, "sha256", str(cp_file))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", 41),
        ("head_hash", "cd" * 32),
        ("algorithm", "sm3"),
        ("created_at", "2026-12-02T09:00:00+00:00"),
    ],
)
def test_checkpoint_with_edited_json_is_rejected(cp_file, key, field, value):
    document = json.loads(cp_file.read_text())
    document[field] = value
    cp_file.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="signature does not match"):
        checkpoint.read(cp_file, key.public_key())


def test_checkpoint_signed_by_another_key_is_rejected_even_if_it_carries_that_key(cp_file, key):
    with pytest.raises(CheckpointError, match="signed by another key"):
        checkpoint.read(cp_file, Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(
    "text",
    ["not json", "{}", '{"seq": "x", "head_hash": "", "algorithm": "", "created_at": "", "signature": ""}'],
)
def test_unreadable_checkpoint_is_rejected(tmp_path, key, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        checkpoint.read(path, key.public_key())


def test_checkpoint_of_another_format_is_rejected(cp_file, key):
    document = json.loads(cp_file.read_text())
    document["format"] = "something-else/1"
    cp_file.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="not a Handover audit checkpoint"):
        checkpoint.read(cp_file, key.public_key())


def test_checkpoint_key_is_created_owner_only_and_reused(tmp_path):
    path = tmp_path / "keys" / "checkpoint.key"
    first = checkpoint.load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    second = checkpoint.load_or_create_key(path)
    assert checkpoint.public_key_text(first.public_key()) == checkpoint.public_key_text(second.public_key())


def test_checkpoint_write_signs_the_head_then_records_itself(db, settings, tmp_path):
    settings.HANDOVER_CHECKPOINT_KEY = tmp_path / "keys" / "checkpoint.key"
    for n in range(3):
        record(after={"n": n})
    head_seq, head_hash = selectors.chain_head()
    path, seq = services.checkpoint_write(actor=None, directory=tmp_path / "out")
    assert seq == head_seq
    assert path.parent == tmp_path / "out"
    trusted = checkpoint.load_or_create_key(settings.HANDOVER_CHECKPOINT_KEY).public_key()
    cp = checkpoint.read(path, trusted)
    assert (cp.seq, cp.head_hash, cp.algorithm) == (head_seq, head_hash, "sha256")
    latest = Event.objects.order_by("-seq").first()
    assert (latest.seq, latest.action, latest.after["seq"]) == (
        head_seq + 1,
        events.CHECKPOINT_WRITE,
        head_seq,
    )
    assert verify_rows(selectors.chain_rows(), algorithm="sha256", checkpoints=[cp]).ok


def test_keys_that_name_a_secret_are_redacted_wherever_they_are(db):
    from handover.audit.services import event_record

    event = event_record(
        actor=None,
        action="org.site.create",
        after={"db_password": "p1", "nested": {"api_token": "t1", "client_secret": "s1"}, "name": "甲"},
    )
    event.refresh_from_db()
    assert event.after == {
        "db_password": "[redacted]",
        "nested": {"api_token": "[redacted]", "client_secret": "[redacted]"},
        "name": "甲",
    }


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_format_time_is_strftime_of_utc_to_the_byte(moment: datetime, offset_minutes: int) -> None:
    """format_time goes through isoformat for speed; every chain was hashed with this strftime form."""
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert chain.format_time(aware) == aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
