"""The demo's incident: a badly quantized int8 build reaches one cohort and fails 15% of turns.

Its router builds are the shipped ONNX files registered under the names the traffic uses, so the
probe, the router data and the rollback all talk about the same builds: `router-3.3-int8` is the
int8 file with the broken scale, `router-3.1-fp16` (what the cohort ran before; the fp32 file
stands in for it) is the reference it is judged against.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.sandbox.traffic import EDGE, Fault, Population, Rollout, Simulator, _utc

DEMO_COHORT = "eu-android-stable"
DEMO_BAD_BUILD = "router-3.3-int8"
DEMO_GOOD_BUILD = "router-3.1-fp16"
DEMO_ONNX_NAMES = {
    "router-fp32": DEMO_GOOD_BUILD,
    "router-int8": "router-3.1-int8",
    "router-int8-badscale": DEMO_BAD_BUILD,
}
WINDOW = timedelta(minutes=30)
ONSET_IN_WINDOW = timedelta(minutes=6)
PICKUP = timedelta(minutes=1)  # devices fetch their cohort config every minute or so


def demo_incident(
    seed: int,
    end: datetime,
    rate_per_minute: float = 120,
    baseline: timedelta = timedelta(hours=24),
    *,
    rolled_back_at: datetime | None = None,
    until: datetime | None = None,
) -> Simulator:
    """24 h of baseline, then the bad build 24 min before `end`; optionally its rollback.

    With `rolled_back_at`, the cohort's devices go back to the good build a minute after it
    (they poll their config), and the traffic runs on `until`.
    """
    end = _utc(end)
    onset = end - WINDOW + ONSET_IN_WINDOW
    rollouts = [Rollout(onset, DEMO_COHORT, EDGE, DEMO_BAD_BUILD)]
    if rolled_back_at is not None:
        rollouts.append(Rollout(_utc(rolled_back_at) + PICKUP, DEMO_COHORT, EDGE, DEMO_GOOD_BUILD))
    fault = Fault(
        onset, match={"model_id": DEMO_BAD_BUILD}, error_rate=0.15, error_code="QUANT_MISMATCH"
    )
    return Simulator(
        Population.default(seed),
        seed=seed,
        start=end - WINDOW - baseline,
        end=until or end,
        rate_per_minute=rate_per_minute,
        faults=[fault],
        rollouts=rollouts,
    )
