"""`tierbot probe ...` as a user runs it: a real process, JSON out, exit 0 when probes fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.errors import TierbotError
from bot.sandbox.cloud import CloudStandIn
from bot.sandbox.models import MODELS_DIR
from tests.probes.conftest import API_KEY, MODEL


def tierbot(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TIERBOT_DATABASE_URL": database_url, "COLUMNS": "200", **env},
        timeout=120,
        check=False,
    )


def test_probe_run_json_reports_the_bad_build_and_exits_0(
    database_url: str, tmp_path: Path
) -> None:
    registered = tierbot(database_url, "probe", "register-demo")
    assert registered.returncode == 0, registered.stderr
    assert "router-int8-badscale" in registered.stdout
    run = tierbot(
        database_url,
        "probe",
        "run",
        "--tier",
        "edge",
        "--json",
        TIERBOT_PROBES__OPEN_AFTER_FAILURES="1",
    )
    assert run.returncode == 0, run.stderr
    results = {r["target"]: r for r in json.loads(run.stdout)}
    assert set(results) == {"edge/router-fp32", "edge/router-int8", "edge/router-int8-badscale"}
    bad = results["edge/router-int8-badscale"]
    assert bad["tier"] == "edge" and bad["ok"] is False
    assert bad["checks"]["top1_agreement"]["value"] < 0.9
    assert results["edge/router-int8"]["ok"] is True
    assert "ALERT edge/router-int8-badscale" in run.stderr  # the alert opened (threshold 1)
    status = tierbot(database_url, "probe", "status")
    assert "alert open edge/router-int8-badscale" in status.stdout


def test_probe_run_cloud_from_settings_in_the_environment(
    database_url: str, cloud: tuple[CloudStandIn, str]
) -> None:
    stand_in, url = cloud
    stand_in.faults("eu").status = 503
    endpoints = [
        {
            "name": "eu",
            "region": "eu-west-1",
            "protocol": "oip",
            "base_url": f"{url}/eu",
            "model": MODEL,
        },
        {
            "name": "us",
            "region": "us-east-1",
            "protocol": "openai",
            "base_url": url,
            "model": MODEL,
            "api_key": API_KEY,
        },
    ]
    run = tierbot(
        database_url,
        "probe",
        "run",
        "--tier",
        "cloud",
        "--json",
        TIERBOT_PROBES__CLOUD_ENDPOINTS=json.dumps(endpoints),
    )
    assert run.returncode == 0, run.stderr
    results = {r["target"]: r for r in json.loads(run.stdout)}
    assert results["cloud/us-east-1/us"]["ok"] is True
    assert results["cloud/eu-west-1/eu"]["checks"]["ready"]["value"] == 503.0
    assert API_KEY not in run.stdout + run.stderr


def test_register_refuses_a_wrong_hash_and_run_fails_only_when_tierbot_cannot(
    database_url: str, tmp_path: Path
) -> None:
    refused = tierbot(
        database_url,
        "probe",
        "register",
        "router-int8",
        "--file",
        str(MODELS_DIR / "router-int8.onnx"),
        "--sha256",
        "ab" * 32,
    )
    assert refused.returncode == 1 and "not registered" in refused.stderr
    sideways = CliRunner().invoke(app, ["probe", "run", "--tier", "sideways"])
    assert isinstance(sideways.exception, TierbotError)
    assert "--tier must be edge, cloud or all" in str(sideways.exception)
    no_db = tierbot(f"sqlite:///{tmp_path}/missing/dir/x.db", "probe", "run")
    assert no_db.returncode != 0
