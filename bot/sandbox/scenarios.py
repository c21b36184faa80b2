"""Named scenarios for the traffic simulator: each a fault plan with what a diagnosis must say.

A plan gets the window's start and the fault onset (a few minutes into the window) and returns
faults, rollouts and the `Expected` diagnosis; `SCENARIOS` builds a `Simulator` from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.sandbox.traffic import (
    CLOUD,
    EDGE,
    RARE_APP_VERSION,
    Expected,
    Fault,
    Population,
    Rollout,
    Simulator,
    _utc,
    fingerprint,
)


@dataclass
class _Plan:
    faults: list[Fault] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)
    expected: Expected = field(default_factory=Expected)
    rate_factor: float = 1.0
    fixed_rate: float | None = None


def _scenario(plan: Callable[[datetime, datetime], _Plan]) -> Callable[..., Simulator]:
    """Wrap a plan (window start, fault onset) -> faults/rollouts into a scenario builder."""

    def build(
        seed: int,
        end: datetime,
        rate_per_minute: float = 300,
        window: timedelta = timedelta(minutes=30),
        baseline: timedelta = timedelta(hours=24),
    ) -> Simulator:
        end = _utc(end)
        ws = end - window
        p = plan(ws, ws + min(window / 5, timedelta(minutes=6)))
        rate = p.fixed_rate if p.fixed_rate is not None else rate_per_minute * p.rate_factor
        sim = Simulator(
            Population.default(seed), seed=seed, start=ws - baseline, end=end,
            rate_per_minute=rate, faults=p.faults, rollouts=p.rollouts,
        )  # fmt: skip
        sim.expected = p.expected
        return sim

    build.__name__ = build.__qualname__ = plan.__name__.lstrip("_")
    build.__doc__ = plan.__doc__
    return build


def _one(tier: str, dims: dict[str, str], *changes: tuple[str, str]) -> Expected:
    """Expected for a single failing component whose top suspect is `dims`."""
    return Expected(frozenset({tier}), dims, tier, frozenset(changes), {tier: dims})


def _healthy(ws: datetime, onset: datetime) -> _Plan:
    """Nothing wrong: baseline noise only."""
    return _Plan()


def _healthy_peak(ws: datetime, onset: datetime) -> _Plan:
    """Five times the traffic, nothing wrong: volume alone must not look like a failure."""
    return _Plan(rate_factor=5.0)


def _innocent_rollout(ws: datetime, onset: datetime) -> _Plan:
    """A new edge build reaches a cohort and works: a change to list, not to blame."""
    change = ("us-android-stable", "router-3.2-int8")
    return _Plan(
        rollouts=[Rollout(onset, change[0], EDGE, change[1])],
        expected=Expected(changes=frozenset({change})),
    )


def _fault_in_baseline(ws: datetime, onset: datetime) -> _Plan:
    """A chronic edge fault on one slice since 6 h before the window, unchanged: not new."""
    dims = {"tier": EDGE, "device_class": "tablet-8gb"}
    return _Plan([Fault(ws - timedelta(hours=6), match=dims, error_rate=0.03,
                        error_code="TOKENIZER_ERROR")])  # fmt: skip


def _edge_and_cloud(ws: datetime, onset: datetime) -> _Plan:
    """Edge OOMs on midrange phones while eu-central-1 returns 503s, at the same time."""
    edge, cloud = {"device_class": "midrange-8gb"}, {"region": "eu-central-1"}
    return _Plan(
        [
            Fault(onset, match={"tier": EDGE, **edge}, error_rate=0.2, error_code="OOM",
                  crash_fingerprint=fingerprint("OOM onnxruntime::BFCArena::Extend midrange")),
            Fault(onset, match={"tier": CLOUD, **cloud}, error_rate=0.5, error_code="HTTP_503"),
        ],
        expected=Expected(frozenset({EDGE, CLOUD}), suspects={EDGE: edge, CLOUD: cloud}),
    )  # fmt: skip


def _thin_traffic(ws: datetime, onset: datetime) -> _Plan:
    """About 3 turns a minute and a couple of errors: too little evidence to call a failure."""
    return _Plan(
        [Fault(onset, match={"tier": EDGE}, error_rate=0.05, error_code="LOW_CONFIDENCE")],
        fixed_rate=3.0,
    )


def _int8_oom_lowram(ws: datetime, onset: datetime) -> _Plan:
    """router-3.2-int8 reaches two android cohorts 10 min before the window; lowram phones OOM."""
    at, build = ws - timedelta(minutes=10), "router-3.2-int8"
    cohorts = ("eu-android-stable", "us-android-stable")
    fault = Fault(
        at, match={"model_id": build, "device_class": "lowram-4gb"}, error_rate=0.35,
        error_code="OOM", crash_fingerprint=fingerprint(f"OOM BFCArena::AllocateRaw {build}"),
    )  # fmt: skip
    return _Plan(
        [fault],
        [Rollout(at, c, EDGE, build) for c in cohorts],
        _one(
            EDGE, {"model_id": build, "device_class": "lowram-4gb"}, *((c, build) for c in cohorts)
        ),
    )


def _bad_quant_build(ws: datetime, onset: datetime) -> _Plan:
    """A badly quantized int8 build fails ~15% on every device class of the 3 cohorts it reaches."""
    build = "router-3.3-int8"
    cohorts = ("eu-android-stable", "us-android-stable", "us-ios-stable")
    return _Plan(
        [Fault(onset, match={"model_id": build}, error_rate=0.15, error_code="QUANT_MISMATCH")],
        [Rollout(onset, c, EDGE, build) for c in cohorts],
        _one(EDGE, {"model_id": build}, *((c, build) for c in cohorts)),
    )


def _os_driver_regression(ws: datetime, onset: datetime) -> _Plan:
    """An OS update breaks the NPU driver: android-15 crashes on every build, no rollout."""
    fault = Fault(
        onset, match={"tier": EDGE, "os_version": "android-15"}, error_rate=0.25,
        error_code="DRIVER_CRASH", crash_fingerprint=fingerprint("SIGSEGV libnnapi android-15"),
    )  # fmt: skip
    return _Plan([fault], expected=_one(EDGE, {"os_version": "android-15"}))


def _cloud_region_outage(ws: datetime, onset: datetime) -> _Plan:
    """us-east-1 answers 80% of its requests with 503."""
    dims = {"region": "us-east-1"}
    fault = Fault(onset, match={"tier": CLOUD, **dims}, error_rate=0.8, error_code="HTTP_503")
    return _Plan([fault], expected=_one(CLOUD, dims))


def _cloud_latency(ws: datetime, onset: datetime) -> _Plan:
    """us-west-2 gets 4x slower, errors stay normal: cloud fails on p95 latency."""
    dims = {"region": "us-west-2"}
    return _Plan([Fault(onset, match={"tier": CLOUD, **dims}, latency_factor=4.0)],
                 expected=_one(CLOUD, dims))  # fmt: skip


def _new_cloud_model(ws: datetime, onset: datetime) -> _Plan:
    """assistant-large-2026-11 reaches the two big us cohorts and fails ~8% of its requests."""
    build, cohorts = "assistant-large-2026-11", ("us-android-stable", "us-ios-stable")
    return _Plan(
        [Fault(onset, match={"model_id": build}, error_rate=0.08, error_code="HTTP_500")],
        [Rollout(onset, c, CLOUD, build) for c in cohorts],
        _one(CLOUD, {"model_id": build}, *((c, build) for c in cohorts)),
    )


def _misrouting(ws: datetime, onset: datetime) -> _Plan:
    """The router sends us-android-stable to edge 5% of the time instead of 70%."""
    dims = {"cohort": "us-android-stable"}
    return _Plan([Fault(onset, match=dims, edge_share=0.05)], expected=_one("router", dims))


def _residency_violation(ws: datetime, onset: datetime) -> _Plan:
    """For one minute eu-android-stable cloud turns are served in us-east-1 (residency: eu)."""
    cohort = "eu-android-stable"
    fault = Fault(onset, onset + timedelta(minutes=1), {"tier": CLOUD, "cohort": cohort},
                  serve_region="us-east-1")  # fmt: skip
    return _Plan([fault], expected=_one("router", {"cohort": cohort, "region": "us-east-1"}))


def _edge_masked_by_fallback(ws: datetime, onset: datetime) -> _Plan:
    """router-3.1-int8 fails 20%, but cloud answers every fallback: users barely notice."""
    dims = {"model_id": "router-3.1-int8"}
    fault = Fault(onset, match=dims, error_rate=0.2, error_code="INFERENCE_ERROR")
    return _Plan([fault], expected=_one(EDGE, dims))


def _tiny_noisy_slice(ws: datetime, onset: datetime) -> _Plan:
    """The rare app version (~10 devices) errors a lot, but on too few turns to matter."""
    dims = {"tier": EDGE, "app_version": RARE_APP_VERSION}
    return _Plan([Fault(onset, match=dims, error_rate=0.3, error_code="TOKENIZER_ERROR")])


CRASH_BUILD = "router-3.2-int8"
NEW_CRASH = fingerprint(f"SIGSEGV nnapi::ExecuteGraph {CRASH_BUILD} android-15")
CHRONIC_CRASH = fingerprint("OOM onnxruntime::BFCArena::Extend lowram")
NEW_CONFIG, OLD_CONFIG = "cfg-d41b", "cfg-7a1c"
STALE_COHORT = "us-android-stable"


def _os_crash_new_build(ws: datetime, onset: datetime) -> _Plan:
    """router-3.2-int8 reaches two android cohorts 10 min before the window and crashes in the
    NPU driver on android-15 only (a fingerprint new with it); a chronic lowram OOM crash, the
    same on every build, runs all along."""
    at = ws - timedelta(minutes=10)
    cohorts = ("us-android-stable", "apac-android-stable")
    faults = [
        Fault(at, match={"model_id": CRASH_BUILD, "os_version": "android-15"}, error_rate=0.3,
              error_code="NPU_CRASH", crash_fingerprint=NEW_CRASH),
        Fault(ws - timedelta(days=2), match={"tier": EDGE, "device_class": "lowram-4gb"},
              error_rate=0.004, error_code="OOM", crash_fingerprint=CHRONIC_CRASH),
    ]  # fmt: skip
    return _Plan(
        faults,
        [Rollout(at, c, EDGE, CRASH_BUILD) for c in cohorts],
        _one(
            EDGE,
            {"model_id": CRASH_BUILD, "os_version": "android-15"},
            *((c, CRASH_BUILD) for c in cohorts),
        ),
    )


def _stale_config(ws: datetime, onset: datetime) -> _Plan:
    """us-android-stable gets config cfg-d41b 2 h before the window, but its android-14 phones
    keep running cfg-7a1c until the fault onset: stale config, while nothing fails."""
    at = ws - timedelta(hours=2)
    build = {EDGE: "router-3.1-fp16", CLOUD: "assistant-large-2026-10"}
    return _Plan(
        [Fault(at, onset, {"cohort": STALE_COHORT, "os_version": "android-14"},
               config_hash=OLD_CONFIG)],
        [Rollout(at, STALE_COHORT, tier, model, config_hash=NEW_CONFIG)
         for tier, model in build.items()],
    )  # fmt: skip


SCENARIOS: dict[str, Callable[..., Simulator]] = {
    b.__name__: b
    for b in map(
        _scenario,
        (
            _healthy, _healthy_peak, _innocent_rollout, _fault_in_baseline, _edge_and_cloud,
            _thin_traffic, _int8_oom_lowram, _bad_quant_build, _os_driver_regression,
            _cloud_region_outage, _cloud_latency, _new_cloud_model, _misrouting,
            _residency_violation, _edge_masked_by_fallback, _tiny_noisy_slice, _os_crash_new_build,
            _stale_config,
        ),
    )
}  # fmt: skip
