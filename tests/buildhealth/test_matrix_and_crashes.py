"""The compatibility matrix and crash fingerprints of a build that crashes on one OS version."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import text

from bot.buildhealth import service
from bot.buildhealth.builds import UnknownBuild
from bot.buildhealth.crashes import new_in_window
from bot.buildhealth.matrix import OVER, THIN, UNDER
from bot.diagnosis.service import which_tier
from bot.sandbox.scenarios import CHRONIC_CRASH, CRASH_BUILD, NEW_CRASH
from bot.sandbox.slack_blocks import check_blocks
from bot.settings import Settings
from bot.slack.views.which_tier import which_tier_message
from bot.store import Store
from bot.timeutil import to_epoch_ms, to_rfc3339
from tests.conftest import CONTRACTS
from tests.diagnosis.conftest import BASELINE, END
from tests.test_cli import tierbot

WINDOW = timedelta(minutes=30)
ROLLOUT = END - WINDOW - timedelta(minutes=10)
REPORT_SCHEMA = Draft202012Validator(
    json.loads((CONTRACTS / "which-tier-report.schema.json").read_text()),
    format_checker=FormatChecker(),
)


def _raw_cells(store: Store) -> dict[tuple[str, str], tuple[int, int]]:
    """(requests, failures) per cell counted from raw events: what the rollups must match."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT device_class, os_version, COUNT(*), "
                "SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END) FROM router_events "
                "WHERE model_id = :m AND ts_ms >= :a AND ts_ms < :b "
                "GROUP BY device_class, os_version"
            ),
            {"m": CRASH_BUILD, "a": to_epoch_ms(END - WINDOW), "b": to_epoch_ms(END)},
        )
        return {(d, o): (int(n), int(f)) for d, o, n, f in rows}


def test_the_matrix_marks_the_crashing_os_over_budget(crash_store: Store) -> None:
    settings = Settings()
    with crash_store.sessions() as session:
        matrix = service.matrix(
            session=session, model_id=CRASH_BUILD, end=END, window=WINDOW, settings=settings
        )
    assert matrix.tier == "edge" and matrix.budget_error_rate == settings.budgets.edge.error_rate
    raw = _raw_cells(crash_store)
    assert {(c.device_class, c.os_version) for c in matrix.cells} == set(raw)
    for cell in matrix.cells:
        assert (cell.requests, cell.failures) == raw[(cell.device_class, cell.os_version)]
        if cell.os_version == "android-15":
            assert cell.status == OVER, cell
            assert cell.top_error_codes[0][0] == "NPU_CRASH"
            assert cell.error_rate_lower is not None and cell.error_rate_lower > 0.01
        else:
            assert cell.status == UNDER, cell
        assert cell.p95_latency_ms is not None and cell.p95_latency_ms > 0
    statuses = [c.status for c in matrix.cells]
    assert statuses == sorted(statuses, key=lambda s: s != OVER)  # worst first
    document = matrix.to_dict()
    assert {"device_class", "os_version", "requests", "error_rate"} <= set(document["cells"][0])


def test_cells_with_too_little_traffic_show_no_rate(crash_store: Store) -> None:
    settings = Settings(build_health={"matrix_min_requests": 1_000_000})
    with crash_store.sessions() as session:
        matrix = service.matrix(
            session=session, model_id=CRASH_BUILD, end=END, window=WINDOW, settings=settings
        )
    assert matrix.cells and all(c.status == THIN and c.error_rate is None for c in matrix.cells)
    assert all(c["error_rate"] is None for c in matrix.to_dict()["cells"])


def test_an_unknown_build_is_named(crash_store: Store) -> None:
    with crash_store.sessions() as session, pytest.raises(UnknownBuild, match="router-9"):
        service.matrix(
            session=session, model_id="router-9", end=END, window=WINDOW, settings=Settings()
        )


def test_the_crash_that_came_with_the_build_is_new(crash_store: Store) -> None:
    with crash_store.sessions() as session:
        report = service.crashes(
            session=session, model_id=CRASH_BUILD, end=END, settings=Settings()
        )
        chronic = service.crashes(
            session=session, model_id="router-3.1-fp16", end=END, settings=Settings()
        )
        fresh = new_in_window(session=session, tier="edge", start=END - WINDOW, end=END)
    assert set(report.predecessors) == {"router-3.1-fp16", "router-3.1-int8"}
    top = report.fingerprints[0]
    assert (top.fingerprint, top.new) == (NEW_CRASH, True)
    assert set(top.os_versions) == {"android-15"} and len(top.device_classes) == 4
    assert top.first_seen >= ROLLOUT - timedelta(minutes=1) and top.last_seen < END
    assert all(f.new is False for f in report.fingerprints[1:])  # the chronic one, if it hit
    assert [f.fingerprint for f in report.new] == [NEW_CRASH]
    # the chronic crash hits every build: its oldest build has nothing before it to compare with
    assert CHRONIC_CRASH in {f.fingerprint for f in chronic.fingerprints}
    assert chronic.predecessors == [] and all(f.new is None for f in chronic.fingerprints)
    assert [(f.model_id, f.fingerprint) for f in fresh] == [(CRASH_BUILD, NEW_CRASH)]


def test_the_which_tier_report_lists_new_fingerprints_when_edge_fails(crash_store: Store) -> None:
    with crash_store.sessions() as session:
        report = which_tier(session=session, budgets=Settings().budgets, end=END, baseline=BASELINE)
    assert "edge" in report.failing
    document = report.to_dict()
    assert not list(REPORT_SCHEMA.iter_errors(document))
    listed = document["tiers"]["edge"]["new_crash_fingerprints"]
    assert [(f["model_id"], f["fingerprint"], f["new"]) for f in listed] == [
        (CRASH_BUILD, NEW_CRASH, True)
    ]
    assert "new_crash_fingerprints" not in document["tiers"]["cloud"]
    blocks = which_tier_message(report, window_label="30m").to_dict()["blocks"]
    assert check_blocks(blocks) == []
    said = str(blocks)
    assert "Crash fingerprints new with their build" in said and NEW_CRASH in said


def test_the_cli_prints_the_matrix_and_crashes_as_json(crash_store: Store) -> None:
    url = crash_store.engine.url.render_as_string(hide_password=False)
    end = to_rfc3339(END)
    done = tierbot(url, "matrix", CRASH_BUILD, "--end", end, "--window", "30m", "--json")
    assert done.returncode == 0, done.stderr.decode()
    cells = json.loads(done.stdout)["cells"]
    assert cells[0]["os_version"] == "android-15" and cells[0]["status"] == OVER
    assert sum(c["requests"] for c in cells) == sum(n for n, _ in _raw_cells(crash_store).values())

    done = tierbot(url, "crashes", CRASH_BUILD, "--end", end, "--json")
    assert done.returncode == 0, done.stderr.decode()
    assert (
        json.loads(done.stdout)["fingerprints"][0] | {"new": True}
        == json.loads(done.stdout)["fingerprints"][0]
    )

    table = tierbot(url, "matrix", CRASH_BUILD, "--end", end, "--window", "30m")
    assert table.returncode == 0 and b"android-15" in table.stdout and b"over" in table.stdout
    missing = tierbot(url, "crashes", "router-9")
    assert missing.returncode == 1 and b"router-9" in missing.stderr
