"""The chart's data comes from the minute rollups, and the chart is drawn even with no data."""

from __future__ import annotations

from datetime import timedelta

from bot.diagnosis.series import tier_minute_series
from bot.diagnosis.service import which_tier
from bot.settings import Budgets
from bot.slack.charts import which_tier_chart
from bot.store import Store
from tests.diagnosis.conftest import END, load_scenario


def test_the_series_shows_the_bad_rollout_and_the_chart_draws_it(store: Store) -> None:
    load_scenario(store, "int8_oom_lowram", 3, baseline=timedelta(hours=2))
    start = END - timedelta(hours=1)
    with store.sessions() as session:
        series = tier_minute_series(session=session, start=start, end=END)
        report = which_tier(session=session, budgets=Budgets(), end=END)

    edge, cloud = series["edge"].points, series["cloud"].points
    assert len(edge) == 60 and len(cloud) > 0
    assert [p.minute for p in edge] == sorted(p.minute for p in edge)
    before = [
        p.error_rate or 0 for p in edge if p.minute < report.window_start - timedelta(minutes=15)
    ]
    during = [p.error_rate or 0 for p in edge if p.minute >= report.window_start]
    assert sum(during) / len(during) > 5 * max(sum(before) / len(before), 0.001)
    assert all(p.p95_latency_ms and 10 < p.p95_latency_ms < 1000 for p in edge)

    png = which_tier_chart(report, series, context_start=start)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_an_empty_store_still_gets_a_chart(store: Store) -> None:
    with store.sessions() as session:
        series = tier_minute_series(session=session, start=END - timedelta(hours=1), end=END)
        report = which_tier(session=session, budgets=Budgets(), end=END)
    assert all(not s.points for s in series.values())
    png = which_tier_chart(report, series, context_start=END - timedelta(hours=1))
    assert png.startswith(b"\x89PNG")
