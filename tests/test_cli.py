"""The `tierbot` command as a user runs it: a real process, files, gzip, stdin, exit codes."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.migrate import head_revision
from tests.factories import assignment, event, ndjson


def tierbot(
    database_url: str, *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TIERBOT_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_import_gzip_file_twice(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress(ndjson(event(n) for n in range(300))))
    first = tierbot(database_url, "import", "events", str(path), "--json")
    assert first.returncode == 0, first.stderr.decode()
    assert json.loads(first.stdout)["stored"] == 300
    second = tierbot(database_url, "import", "events", str(path), "--json")
    assert json.loads(second.stdout) | {"errors": []} == {
        "kind": "router_events",
        "source": f"file:{path}",
        "stored": 0,
        "duplicates": 300,
        "rejected": 0,
        "errors": [],
        "errors_omitted": 0,
    }


def test_import_from_stdin_reports_bad_lines_and_exits_2(database_url: str) -> None:
    data = ndjson([event(1), event(2, tier="fog")]) + b"{not json\n"
    result = tierbot(database_url, "import", "events", "-", stdin=data)
    assert result.returncode == 2
    text = result.stdout.decode()
    assert "line 2: field 'tier': must be one of cloud, edge" in text
    assert "line 3: field '(record)': not valid JSON" in text


def test_import_cohorts_json_array_and_stats(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "cohorts.json"
    path.write_text(json.dumps([assignment(), assignment("us-android-stable")]))
    result = tierbot(database_url, "import", "cohorts", str(path))
    assert result.returncode == 0, result.stderr.decode()
    tierbot(database_url, "import", "events", "-", stdin=ndjson(event(n) for n in range(5)))
    stats = tierbot(database_url, "stats")
    assert "5 raw router events, 2 cohort assignments" in stats.stdout.decode()


def test_a_missing_file_is_a_clear_error(database_url: str) -> None:
    result = tierbot(database_url, "import", "events", "/nonexistent/events.ndjson")
    assert result.returncode == 1
    assert "no such file" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_db_upgrade_then_current(database_url: str) -> None:
    upgraded = tierbot(database_url, "db", "upgrade")
    assert upgraded.returncode == 0 and f"revision {head_revision()}" in upgraded.stdout.decode()
    current = tierbot(database_url, "db", "current")
    assert f"current: {head_revision()}" in current.stdout.decode()


@pytest.mark.parametrize("age", ["0s", "soon"])
def test_prune_rejects_bad_ages(database_url: str, age: str) -> None:
    result = tierbot(database_url, "prune", "--older-than", age)
    assert result.returncode == 1 and "duration" in result.stderr.decode()


def test_prune_removes_old_raw_events_and_keeps_rollups(database_url: str) -> None:
    tierbot(
        database_url,
        "import",
        "events",
        "-",
        stdin=ndjson([event(1, ts="2020-01-01T00:00:00Z"), event(2)]),
    )
    result = tierbot(database_url, "prune", "--older-than", "30d")
    assert "pruned 1 raw router events" in result.stdout.decode()
    stats = tierbot(database_url, "stats").stdout.decode()
    assert "1 raw router events" in stats and "2020-01-01" in stats
