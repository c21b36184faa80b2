"""Block Kit views stay within Slack's limits whatever the report holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.console.blocks_text import blocks_to_text, choices, mrkdwn
from bot.diagnosis.report import Change, Report, RouterReport, Suspect, TierReport
from bot.probes.results import Check, ProbeResult
from bot.rollouts.service import Assignment
from bot.sandbox.slack_blocks import check_blocks
from bot.slack.features import subcommands
from bot.slack.views.cohort import cohort_message
from bot.slack.views.help import help_message
from bot.slack.views.status import status_message
from bot.slack.views.which_tier import which_tier_message

END = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
LONG = "x" * 400


def _tier(name: str, status: str) -> TierReport:
    return TierReport(
        tier=name, status=status, requests=1000, failures=40, error_rate=0.04,  # type: ignore[arg-type]
        p95_latency_ms=120.0, fallback_rate=0.04 if name == "edge" else None,
        baseline_requests=50_000, baseline_error_rate=0.002, baseline_p95_latency_ms=118.0,
        budget_error_rate=0.01, budget_p95_latency_ms=300.0, burn_rate=4.0,
        burn_rates={"1h": 4.0}, fast_burn=False, slow_burn=False,
    )  # fmt: skip


def _report(suspects: int, changes: int) -> Report:
    return Report(
        window_start=END - timedelta(minutes=30),
        window_end=END,
        baseline_start=END - timedelta(hours=24),
        baseline_end=END - timedelta(minutes=30),
        tiers={"edge": _tier("edge", "failing"), "cloud": _tier("cloud", "healthy")},
        router=RouterReport(status="healthy", turns=2000),
        suspects=[
            Suspect(
                tier="edge",
                dimensions={"cohort": f"{LONG}-{i}", "model_id": LONG},
                share_of_excess=0.5,
                metric="errors",
                requests=100,
                traffic_share=0.1,
                error_rate=0.3,
                baseline_error_rate=0.001,
                related_change=LONG,
            )
            for i in range(suspects)
        ],
        changes=[
            Change(
                cohort=f"{LONG}-{i}",
                tier="edge",
                model_id=LONG,
                effective_at=END,
                previous_model_id=None,
                quantization="int8",
                rollout_percent=100,
            )
            for i in range(changes)
        ],
        verdict="edge FAILING: " + LONG * 20,
    )


def test_a_huge_which_tier_report_still_fits_in_one_message() -> None:
    message = which_tier_message(_report(suspects=40, changes=40), window_label="30m")
    blocks = message.to_dict()["blocks"]

    assert check_blocks(blocks) == []
    assert len(choices(blocks)) == 3  # at most three cohort buttons, distinct action_ids


def test_a_quiet_report_has_no_suspects_and_no_buttons() -> None:
    message = which_tier_message(_report(suspects=0, changes=0), window_label="30m")
    blocks = message.to_dict()["blocks"]
    assert check_blocks(blocks) == [] and choices(blocks) == []
    assert blocks[0]["text"]["text"] == "Failing: edge"


def test_status_with_many_probes_fits() -> None:
    probes = [
        ProbeResult(target=f"edge/{LONG}-{i}", tier="edge", started_at=END, duration_ms=5.0,
                    checks={"sqnr": Check(ok=False, value=3.0, limit=20.0, detail=LONG)})
        for i in range(30)
    ]  # fmt: skip
    blocks = status_message(_report(1, 1), probes).to_dict()["blocks"]
    assert check_blocks(blocks) == []
    assert [c.action_id for c in choices(blocks)] == ["tier_failed"]


def test_a_long_cohort_history_is_cut_and_says_so() -> None:
    history = [
        Assignment(cohort="beta", tier="edge", model_id=f"router-{i}",
                   effective_at=END - timedelta(hours=60 - i),
                   quantization="int8", rollout_percent=100, residency="eu", config_hash=None,
                   previous_model_id=f"router-{i - 1}" if i else None, source="test")
        for i in range(60)
    ]  # fmt: skip
    message = cohort_message("beta", history, END)
    blocks = message.to_dict()["blocks"]
    assert check_blocks(blocks) == []
    assert message.text == "cohort beta: edge router-59 since 2026-11-27 13:00 UTC"
    assert "45 earlier changes" in blocks_to_text(blocks)


def test_help_fits_and_lists_every_subcommand() -> None:
    message = help_message()
    assert check_blocks(message.to_dict()["blocks"]) == []
    for name in subcommands():
        assert f"`/tier {name}" in message.to_dict()["blocks"][0]["text"]["text"]


def test_blocks_read_as_text_with_numbered_buttons() -> None:
    blocks = which_tier_message(_report(suspects=2, changes=0), window_label="30m").to_dict()[
        "blocks"
    ]
    text = blocks_to_text(blocks, first_choice=3)
    assert text.startswith("FAILING: EDGE\nedge FAILING:")
    assert f"[3] Cohort {LONG[:60]}" in text and "[4] Cohort" in text
    assert mrkdwn("*edge* :red_circle: _slow_ <https://x|the log> `tier_cohort_1`") == (
        "edge ● slow the log `tier_cohort_1`"
    )


def test_an_empty_window_says_so_rather_than_nothing_failing() -> None:
    report = _report(suspects=0, changes=0)
    report.tiers = {"edge": _tier("edge", "no_data"), "cloud": _tier("cloud", "no_data")}
    blocks = which_tier_message(report, window_label="30m").to_dict()["blocks"]
    assert blocks[0]["text"]["text"] == "No data in the window"
