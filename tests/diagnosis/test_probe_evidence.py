"""A probe failing now is evidence in the which-tier report, even before traffic shows it."""

from __future__ import annotations

from datetime import timedelta

from bot.db import transaction
from bot.diagnosis.service import which_tier
from bot.probes.results import Check, ProbeResult
from bot.probes.store import save_result
from bot.settings import Settings
from bot.store import Store
from tests.diagnosis.conftest import BASELINE, END, load_scenario


def _probe(target: str, ok: bool, minutes_before_end: int) -> ProbeResult:
    agreement = Check(
        ok=ok, value=0.64 if not ok else 1.0, limit=0.98, detail="golden top-1 agreement"
    )
    return ProbeResult(
        target=target,
        tier="edge",
        started_at=END - timedelta(minutes=minutes_before_end),
        duration_ms=12.0,
        checks={"top1_agreement": agreement},
    )


def test_a_failing_probe_degrades_an_otherwise_healthy_tier(store: Store) -> None:
    load_scenario(store, "healthy", 1, rate=30, baseline=timedelta(hours=2))
    with transaction(store.sessions) as session:
        save_result(
            session=session, result=_probe("edge/router-int8-badscale", False, 5), runner="t"
        )
        save_result(session=session, result=_probe("edge/router-int8", False, 20), runner="t")
        save_result(
            session=session, result=_probe("edge/router-int8", True, 10), runner="t"
        )  # recovered
    with store.sessions() as session:
        report = which_tier(session=session, budgets=Settings().budgets, end=END, baseline=BASELINE)
    edge = report.tiers["edge"]
    assert edge.status == "degraded" and report.failing == []
    probe_findings = [f for f in edge.findings if f.rule == "probe_failing"]
    assert len(probe_findings) == 1
    assert "router-int8-badscale" in probe_findings[0].detail and "0.64" in probe_findings[0].detail
    assert report.tiers["cloud"].status == "healthy"
    assert "edge degraded" in report.verdict
