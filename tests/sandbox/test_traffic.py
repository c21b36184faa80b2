"""The traffic simulator: contract-valid, deterministic, and its faults visible in raw counts."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from bot.sandbox.scenarios import SCENARIOS
from bot.sandbox.traffic import (
    RARE_APP_VERSION,
    Fault,
    Population,
    Rollout,
    Simulator,
    format_ts,
    write_files,
)
from tests.conftest import CONTRACTS

END = datetime(2026, 11, 27, 15, tzinfo=UTC)
WINDOW = timedelta(minutes=30)
WS = format_ts(int((END - WINDOW).timestamp() * 1000))
ONSET = format_ts(int((END - WINDOW + timedelta(minutes=6)).timestamp() * 1000))
BUDGET = {"edge": (0.01, 300.0), "cloud": (0.005, 2500.0)}  # bot.settings defaults
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
Event = dict[str, Any]


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / name).read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


EVENT_SCHEMA = _validator("router-event.schema.json")
ASSIGNMENT_SCHEMA = _validator("cohort-assignment.schema.json")


@cache
def run(name: str, seed: int = 1) -> tuple[Simulator, list[Event]]:
    """A scenario with a 1 h baseline: enough history to compare with, quick to generate."""
    sim = SCENARIOS[name](seed, END, window=WINDOW, baseline=timedelta(hours=1))
    return sim, list(sim.events())


def select(
    events: Iterable[Event], *, since: str = WS, until: str = "~", **dims: Any
) -> list[Event]:
    return [
        e for e in events if since <= e["ts"] < until and all(e[k] == v for k, v in dims.items())
    ]


def fail_rate(events: list[Event]) -> float:
    assert events, "no events in this slice"
    return float(sum(e["outcome"] != "ok" for e in events) / len(events))


def p95(events: list[Event]) -> float:
    values = sorted(e["latency_ms"] for e in events)
    return float(values[int(0.95 * (len(values) - 1))])


def check_record(validator: Draft202012Validator, record: dict[str, Any], *stamps: str) -> None:
    errors = [e.message for e in validator.iter_errors(record)]
    assert not errors, (record, errors)
    for key in stamps:  # date-time is only checked by jsonschema when rfc3339-validator is there
        assert TS.match(record[key]), record[key]
        assert datetime.fromisoformat(record[key]).utcoffset() == timedelta(0)


def test_scenarios_are_the_agreed_ones() -> None:
    assert set(SCENARIOS) == {
        "healthy", "healthy_peak", "innocent_rollout", "fault_in_baseline", "edge_and_cloud",
        "thin_traffic", "int8_oom_lowram", "bad_quant_build", "os_driver_regression",
        "cloud_region_outage", "cloud_latency", "new_cloud_model", "misrouting",
        "residency_violation", "edge_masked_by_fallback", "tiny_noisy_slice",
        "os_crash_new_build", "stale_config",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_records_follow_the_contracts(name: str) -> None:
    sim, events = run(name)
    for a in sim.assignments():
        check_record(ASSIGNMENT_SCHEMA, a, "effective_at")
    assert all(TS.match(e["ts"]) for e in events)
    unusual = [e for e in events if e["outcome"] != "ok" or e["attempt"] or e["crash_fingerprint"]]
    for e in events[:100] + unusual[:150] + select(events, since=ONSET)[:50]:
        check_record(EVENT_SCHEMA, e, "ts")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_events_are_ordered_unique_and_fall_back_in_pairs(name: str) -> None:
    sim, events = run(name)
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= format_ts(int(sim.start.timestamp() * 1000))
    keys = Counter((e["request_id"], e["attempt"]) for e in events)
    assert keys.most_common(1)[0][1] == 1
    turns: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        turns[e["request_id"]].append(e)
    for attempts in turns.values():
        first = attempts[0]
        assert first["attempt"] == 0
        if first["tier"] == "edge" and first["outcome"] != "ok":  # every fault here falls back
            assert len(attempts) == 2, attempts
            second = attempts[1]
            assert (second["attempt"], second["tier"]) == (1, "cloud")
            assert second["ts"] >= first["ts"] and second["cohort"] == first["cohort"]
        else:
            assert len(attempts) == 1, attempts


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_expected_failures_show_against_the_budgets(name: str) -> None:
    """Failing tiers are clearly over budget in the window; the others are within it."""
    sim, events = run(name)
    window = select(events)
    for tier, (max_rate, max_p95) in BUDGET.items():
        tier_events = [e for e in window if e["tier"] == tier]
        rate, latency = fail_rate(tier_events), p95(tier_events)
        if tier in sim.expected.failing:
            assert rate > 2 * max_rate or latency > max_p95, (tier, rate, latency)
        elif name != "thin_traffic":  # a couple of errors in ~60 events is not evidence
            assert rate < max_rate and latency < max_p95, (tier, rate, latency)
    for tier, dims in sim.expected.suspects.items():
        assert select(window, **({} if tier == "router" else {"tier": tier}), **dims)
    rolled = {(a["cohort"], a["model_id"]) for a in sim.assignments()[12:]}
    assert sim.expected.changes <= rolled


def test_the_same_seed_gives_the_same_traffic() -> None:
    def lines(seed: int) -> list[str]:
        sim = SCENARIOS["int8_oom_lowram"](seed, END, window=WINDOW, baseline=timedelta(0))
        return list(sim.event_lines())

    first = lines(3)
    assert first == lines(3)
    assert first != lines(4)
    assert json.loads(first[0])["request_id"] == "3-000000001"


def test_faults_do_not_change_which_turns_happen() -> None:
    healthy, broken = run("healthy")[1], run("os_driver_regression")[1]
    assert [(e["request_id"], e["ts"]) for e in healthy if e["attempt"] == 0] == [
        (e["request_id"], e["ts"]) for e in broken if e["attempt"] == 0
    ]


def test_lowram_is_always_a_bit_worse() -> None:
    edge = select(run("healthy_peak")[1], since="", tier="edge")
    lowram = fail_rate([e for e in edge if e["device_class"] == "lowram-4gb"])
    others = fail_rate([e for e in edge if e["device_class"] != "lowram-4gb"])
    assert 0.002 < lowram < 0.007 and 0.001 < others < 0.003


def test_healthy_peak_is_five_times_the_traffic() -> None:
    turns = [len(select(run(n)[1], attempt=0)) for n in ("healthy", "healthy_peak")]
    assert 4.6 < turns[1] / turns[0] < 5.4


def test_int8_oom_lowram() -> None:
    sim, events = run("int8_oom_lowram")
    oom = select(events, tier="edge", model_id="router-3.2-int8", device_class="lowram-4gb")
    assert 0.25 < fail_rate(oom) < 0.45
    assert {e["crash_fingerprint"] for e in oom if e["error_code"] == "OOM"} != {None}
    fine = select(events, tier="edge", model_id="router-3.2-int8", device_class="midrange-8gb")
    assert fail_rate(fine) < 0.01
    before = select(events, since="", until=WS, tier="edge", device_class="lowram-4gb")
    assert fail_rate(before[: len(before) // 2]) < 0.015  # before the rollout
    assert sim.expected.top_suspect == {"model_id": "router-3.2-int8", "device_class": "lowram-4gb"}


def test_bad_quant_build_fails_on_every_device_class() -> None:
    events = select(run("bad_quant_build")[1], tier="edge", model_id="router-3.3-int8")
    by_class = {e["device_class"] for e in events}
    assert len(by_class) == 6
    for device_class in by_class:
        assert 0.08 < fail_rate(select(events, device_class=device_class)) < 0.25
    assert {e["error_code"] for e in events if e["outcome"] == "error"} >= {"QUANT_MISMATCH"}


def test_os_driver_regression_hits_every_build() -> None:
    events = select(run("os_driver_regression")[1], since=ONSET, tier="edge")
    crashed = select(events, os_version="android-15")
    assert 0.18 < fail_rate(crashed) < 0.32
    assert len({e["model_id"] for e in crashed if e["error_code"] == "DRIVER_CRASH"}) >= 3
    assert fail_rate(select(events, os_version="android-14")) < 0.01


def test_edge_and_cloud_fail_together() -> None:
    events = run("edge_and_cloud")[1]
    assert fail_rate(select(events, since=ONSET, tier="edge", device_class="midrange-8gb")) > 0.12
    assert fail_rate(select(events, since=ONSET, tier="cloud", region="eu-central-1")) > 0.35
    assert fail_rate(select(events, since=ONSET, tier="cloud", region="eu-west-1")) < 0.01


def test_cloud_region_outage_and_latency() -> None:
    outage = run("cloud_region_outage")[1]
    assert fail_rate(select(outage, since=ONSET, tier="cloud", region="us-east-1")) > 0.7
    assert fail_rate(select(outage, since=ONSET, tier="cloud", region="us-west-2")) < 0.01
    slow = run("cloud_latency")[1]
    before = select(slow, since="", until=WS, tier="cloud", region="us-west-2")
    after = select(slow, since=ONSET, tier="cloud", region="us-west-2")
    assert p95(after) > 3.5 * p95(before) and fail_rate(after) < 0.005


def test_new_cloud_model_fails_only_where_it_runs() -> None:
    events = select(run("new_cloud_model")[1], tier="cloud")
    new = select(events, model_id="assistant-large-2026-11")
    assert {e["cohort"] for e in new} == {"us-android-stable", "us-ios-stable"}
    assert min(e["ts"] for e in new) >= ONSET
    assert 0.05 < fail_rate(new) < 0.12
    assert fail_rate(select(events, model_id="assistant-large-2026-10")) < 0.005


def test_misrouting_sends_the_cohort_to_cloud() -> None:
    events = run("misrouting")[1]

    def edge_share(since: str, until: str) -> float:
        turns = select(events, since=since, until=until, cohort="us-android-stable", attempt=0)
        return float(sum(e["tier"] == "edge" for e in turns) / len(turns))

    assert edge_share("", WS) > 0.6 and edge_share(ONSET, "~") < 0.1


def test_residency_violation_is_a_handful_of_eu_turns_in_us_east_1() -> None:
    events = run("residency_violation")[1]
    eu = {"eu-android-stable", "eu-android-beta"}
    abroad = [e for e in events if e["cohort"] in eu and not e["region"].startswith("eu-")]
    assert 5 <= len(abroad) <= 60
    assert {(e["cohort"], e["region"], e["tier"]) for e in abroad} == {
        ("eu-android-stable", "us-east-1", "cloud")
    }
    assert all(e["ts"] >= ONSET for e in abroad) and all(e["outcome"] == "ok" for e in abroad)


def test_edge_masked_by_fallback_keeps_users_happy() -> None:
    events = run("edge_masked_by_fallback")[1]
    assert fail_rate(select(events, since=ONSET, tier="edge", model_id="router-3.1-int8")) > 0.15
    final: dict[str, Event] = {e["request_id"]: e for e in select(events, since=ONSET)}
    assert fail_rate(list(final.values())) < 0.005


def test_chronic_fault_is_as_bad_before_the_window_as_in_it() -> None:
    events = select(run("fault_in_baseline")[1], since="", tier="edge", device_class="tablet-8gb")
    since = format_ts(int((END - WINDOW - timedelta(hours=5)).timestamp() * 1000))
    before, during = fail_rate(select(events, since=since, until=WS)), fail_rate(select(events))
    assert before > 0.015 and during > 0.015 and 0.4 < during / before < 2.5


def test_thin_traffic_and_tiny_slice_have_few_errors() -> None:
    thin = select(run("thin_traffic")[1], attempt=0)
    assert 50 <= len(thin) <= 150
    assert sum(e["outcome"] != "ok" for e in thin) <= 5
    tiny = select(run("tiny_noisy_slice")[1], tier="edge")
    rare = select(tiny, app_version=RARE_APP_VERSION)
    assert len(rare) < 0.01 * len(tiny) and 1 <= sum(e["outcome"] != "ok" for e in rare) <= 25


def test_innocent_rollout_switches_the_cohort() -> None:
    sim, events = run("innocent_rollout")
    edge = select(events, since="", tier="edge", cohort="us-android-stable")
    assert {e["model_id"] for e in select(edge, until=ONSET)} == {"router-3.1-fp16"}
    assert {e["model_id"] for e in select(edge, since=ONSET)} == {"router-3.2-int8"}
    assert sim.expected.changes == {("us-android-stable", "router-3.2-int8")}


def _sim(rate: Any, *, minutes: int = 20, **kwargs: Any) -> Simulator:
    start = END - timedelta(minutes=minutes)
    return Simulator(Population.default(7), seed=7, start=start, end=END, rate_per_minute=rate,
                     **kwargs)  # fmt: skip


@pytest.mark.parametrize(("percent", "low", "high"), [(0, 0, 0), (30, 0.2, 0.4), (100, 1, 1)])
def test_rollout_percent_is_respected(percent: float, low: float, high: float) -> None:
    at = END - timedelta(minutes=15)
    rollout = Rollout(at, "us-android-stable", "edge", "router-3.2-int8", rollout_percent=percent)
    sim = _sim(400, rollouts=[rollout])
    after = select(sim.events(), since=format_ts(int(at.timestamp() * 1000)),
                   tier="edge", cohort="us-android-stable")  # fmt: skip
    share = sum(e["model_id"] == "router-3.2-int8" for e in after) / len(after)
    assert low <= share <= high
    assert sim.assignments()[-1]["rollout_percent"] == percent


def test_rate_is_respected_also_when_it_changes() -> None:
    turns = [e for e in _sim(600).events() if e["attempt"] == 0]
    assert 0.96 < len(turns) / 12000 < 1.04
    half = END - timedelta(minutes=10)
    changing = _sim(lambda at: 100.0 if at < half else 1000.0).events()
    counts = Counter(e["ts"] < format_ts(int(half.timestamp() * 1000)) for e in changing)
    assert 850 < counts[True] < 1150 and 9400 < counts[False] < 10600


def test_fault_knobs() -> None:
    start = END - timedelta(minutes=20)
    faults = [
        Fault(start, match={"cohort": "us-ios-stable"}, config_hash="cfg-stale",
              latency_add_ms=1000, timeout_rate=0.5, fallback=False),
    ]  # fmt: skip
    events = select(_sim(300, faults=faults).events(), since="", cohort="us-ios-stable")
    assert {e["config_hash"] for e in events} == {"cfg-stale"}
    assert min(e["latency_ms"] for e in events) >= 1000
    assert 0.4 < sum(e["outcome"] == "timeout" for e in events) / len(events) < 0.6
    assert all(e["attempt"] == 0 for e in events)  # no fallback
    with pytest.raises(ValueError, match="unknown fault match keys"):
        Fault(start, match={"device": "x"})
    with pytest.raises(ValueError, match="unknown cohort"):
        _sim(1, rollouts=[Rollout(start, "nowhere", "edge", "router-3.2-int8")])


def test_assignments_start_a_week_before_and_carry_the_cohort() -> None:
    sim = run("bad_quant_build")[0]
    initial, later = sim.assignments()[:12], sim.assignments()[12:]
    assert {a["effective_at"] for a in initial} == {
        format_ts(int((sim.start - timedelta(days=7)).timestamp() * 1000))
    }
    assert {(a["cohort"], a["tier"]) for a in initial} == {
        (c, t) for c in sim.population.cohorts for t in ("edge", "cloud")
    }
    assert all(a["residency"] == ("eu" if a["cohort"].startswith("eu-") else None) for a in initial)
    assert all(a["config_hash"].startswith("cfg-") for a in initial)
    assert [(a["model_id"], a["quantization"]) for a in later] == [("router-3.3-int8", "int8")] * 3


def test_population_has_every_combination_and_a_rare_app() -> None:
    pop = Population.default(5)
    assert len(pop.devices) == 5000 and len(pop.cohorts) >= 6
    combos = {(d.cohort, d.device_class, d.os_version) for d in pop.devices}
    assert len(combos) == 5 * 4 * 2 + 2 * 2
    assert 5 <= sum(d.app_version == RARE_APP_VERSION for d in pop.devices) <= 20
    assert all((d.device_class.startswith("iphone")) == d.os_version.startswith("ios")
               for d in pop.devices)  # fmt: skip
    assert pop == Population.default(5)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_files(tmp_path: Path, suffix: str) -> None:
    sim = _sim(200, minutes=5)
    events_path, cohorts_path = tmp_path / f"events.ndjson{suffix}", tmp_path / "cohorts.ndjson"
    counts = write_files(sim, events_path, cohorts_path)
    opener: Any = gzip.open if suffix else open
    with opener(events_path, "rt") as f:
        lines = f.read().splitlines()
    assert counts == (len(lines), len(cohorts_path.read_text().splitlines()))
    assert lines == list(sim.event_lines()) and counts[1] == 12
