"""Settings come from the environment; production refuses unsafe configurations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from handover.settings import env

ROOT = Path(__file__).resolve().parent.parent


def run_production(tmp_path, **extra: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HANDOVER_")}
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "handover.settings.production",
            "HANDOVER_DATA_DIR": str(tmp_path),
            "HANDOVER_ALLOWED_HOSTS": "handover.example",
        },
        **extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "handover", "check", "--deploy", "--fail-level", "WARNING"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_production(tmp_path)
    assert result.returncode != 0
    assert "HANDOVER_SECRET_KEY is not set" in result.stderr


def test_production_refuses_to_start_with_debug_on(tmp_path):
    result = run_production(tmp_path, HANDOVER_SECRET_KEY="k" * 60, HANDOVER_DEBUG="true")
    assert result.returncode != 0
    assert "HANDOVER_DEBUG is on" in result.stderr


def test_production_deploy_check_is_clean(tmp_path):
    """Clean, but for the warning that this machine's SQLite has the WAL-reset bug (core/checks.py), which is
    due wherever the library in use has it (Debian's 3.40 here): then it is the one issue said."""
    from handover.core import sqlitesafety

    result = run_production(tmp_path, HANDOVER_SECRET_KEY="x7Qp-" * 12)
    if sqlitesafety.wal_reset_bug():
        assert "handover.W001" in result.stderr + result.stdout, result.stdout + result.stderr
        assert "identified 1 issue" in result.stderr + result.stdout, result.stdout + result.stderr
        return
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_every_variable_is_documented_in_the_example_file_and_the_docs():
    example = (ROOT / ".env.example").read_text()
    docs = (ROOT / "docs" / "configuration.md").read_text()
    for variable in env.VARIABLES:
        assert f"{variable.name}=" in example
        assert f"`{variable.name}`" in docs


def test_a_bad_boolean_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("HANDOVER_DEBUG", "maybe")
    with pytest.raises(Exception, match="HANDOVER_DEBUG"):
        env.get_bool("HANDOVER_DEBUG")


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_immediate_transactions():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite settings")
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_both_databases_keep_their_connection_between_requests_with_a_health_check(tmp_path):
    # Opening a SQLite connection per request was a third of the CPU of the cheapest request (docs/benchmarks.md,
    # the handover day's ceiling); PostgreSQL's were kept already.
    from handover.settings.base import database_config

    sqlite = database_config("", tmp_path)
    postgres = database_config("postgres://handover@127.0.0.1:5432/handover", tmp_path)
    for config in (sqlite, postgres):
        assert config["CONN_MAX_AGE"] == 60
        assert config["CONN_HEALTH_CHECKS"] is True
    assert sqlite["ENGINE"] == "handover.core.sqlite3"


def test_the_local_database_file_is_in_wal_mode(tmp_path):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handover.settings.local",
        "HANDOVER_DATA_DIR": str(tmp_path),
    }
    environment.pop("HANDOVER_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "handover", "migrate", "-v", "0"], env=environment, check=True)
    import sqlite3

    with sqlite3.connect(tmp_path / "handover.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.django_db
def test_pages_are_chinese_even_for_an_english_browser_until_the_switch_is_used(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="zh-hans"' in page.content.decode() and "登录" in page.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    page = client.get("/accounts/login/")
    assert '<html lang="en"' in page.content.decode() and "Log in" in page.content.decode()


def test_pdf_rendering_logs_no_progress_lines(caplog: pytest.LogCaptureFixture) -> None:
    """WeasyPrint and fontTools log each PDF's steps at INFO; `handover package build` printed them all."""
    import weasyprint

    with caplog.at_level("INFO"):
        weasyprint.HTML(string="<p style='font-family: Noto Sans CJK SC'>交接</p>").write_pdf()
    chatter = [r for r in caplog.records if r.name.split(".")[0] in ("weasyprint", "fontTools")]
    assert [r for r in chatter if r.levelname in ("DEBUG", "INFO")] == []
