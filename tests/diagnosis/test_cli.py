"""`tierbot which-tier` as a user runs it: one JSON document with --json, else the verdict first."""

from __future__ import annotations

import json

from bot.sandbox.scenarios import SCENARIOS
from tests.diagnosis.conftest import BASELINE, END
from tests.test_cli import tierbot


def test_which_tier_cli_json_and_text(database_url: str, tmp_path: object) -> None:
    from pathlib import Path

    from bot.sandbox.traffic import write_files

    out = Path(str(tmp_path))
    sim = SCENARIOS["cloud_region_outage"](seed=5, end=END, rate_per_minute=60, baseline=BASELINE)
    write_files(sim, out / "events.ndjson.gz", out / "cohorts.ndjson")
    assert tierbot(database_url, "import", "cohorts", str(out / "cohorts.ndjson")).returncode == 0
    assert tierbot(database_url, "import", "events", str(out / "events.ndjson.gz")).returncode == 0
    args = ("which-tier", "--end", "2026-11-27T14:00:00Z", "--baseline", "6h")
    result = tierbot(database_url, *args, "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)  # exactly one document: json.loads refuses trailing data
    assert report["failing"] == ["cloud"]
    assert report["suspects"][0]["dimensions"] == {"region": "us-east-1"}
    assert report["window"] == {
        "start": "2026-11-27T13:30:00.000Z",
        "end": "2026-11-27T14:00:00.000Z",
    }
    text = tierbot(database_url, *args).stdout.decode()
    assert text.splitlines()[0].startswith("cloud FAILING: us-east-1 fails")


def test_which_tier_rejects_a_bad_window(database_url: str) -> None:
    result = tierbot(database_url, "which-tier", "--window", "half an hour")
    assert result.returncode == 1 and "not a duration" in result.stderr.decode()
    result = tierbot(database_url, "which-tier", "--end", "2026-11-27T14:00:00")
    assert result.returncode == 1 and "no UTC offset" in result.stderr.decode()


def test_which_tier_with_no_data(database_url: str) -> None:
    report = json.loads(tierbot(database_url, "which-tier", "--json").stdout)
    assert report["failing"] == [] and report["tiers"]["edge"]["status"] == "no_data"
