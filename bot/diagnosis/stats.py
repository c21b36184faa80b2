"""The statistics behind a verdict, small enough to explain to a tired on-call engineer.

- Wilson score bounds on a rate: "clearly over budget" means the *lower* bound is over it, so a
  handful of errors on thin traffic never reads as an outage.
- Smoothed baselines: a slice's baseline rate is pulled toward its tier's baseline by a prior
  worth `PRIOR_REQUESTS` requests, so a slice with little history is judged against the tier.
- One change point in a minute series (two Bernoulli segments, maximum likelihood): when a
  slice started failing, to line it up with the rollouts before it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_CLEAR = 2.576  # two-sided 99%: what we call "statistically clear"
PRIOR_REQUESTS = 200.0


def wilson_bounds(successes: float, trials: float, z: float = Z_CLEAR) -> tuple[float, float]:
    """Lower and upper Wilson score bounds of a proportion; (0, 1) with no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, successes / trials))
    z2 = z * z
    centre = p + z2 / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    denominator = 1 + z2 / trials
    return max(0.0, (centre - margin) / denominator), min(1.0, (centre + margin) / denominator)


def smoothed_rate(
    events: float, trials: float, prior_rate: float, prior_trials: float = PRIOR_REQUESTS
) -> float:
    """(events + prior) / (trials + prior weight): a rate that trusts history in proportion."""
    return (events + prior_rate * prior_trials) / (trials + prior_trials)


def _log_likelihood(events: float, trials: float) -> float:
    if trials <= 0 or events <= 0 or events >= trials:
        return 0.0
    p = events / trials
    return events * math.log(p) + (trials - events) * math.log(1 - p)


def change_point(series: Sequence[tuple[int, float, float]]) -> int | None:
    """Index where an upward shift in the rate most likely began, or None if there is none.

    `series` holds (time, events, trials) in time order.
    """
    total_e = sum(e for _, e, _ in series)
    total_n = sum(n for _, _, n in series)
    if total_n <= 0 or len(series) < 2:
        return None
    best, best_gain = None, 0.0
    base = _log_likelihood(total_e, total_n)
    before_e = before_n = 0.0
    for i in range(1, len(series)):
        before_e += series[i - 1][1]
        before_n += series[i - 1][2]
        after_e, after_n = total_e - before_e, total_n - before_n
        if before_n <= 0 or after_n <= 0 or after_e / after_n <= before_e / before_n:
            continue
        gain = _log_likelihood(before_e, before_n) + _log_likelihood(after_e, after_n) - base
        if gain > best_gain:
            best, best_gain = i, gain
    return best if best_gain > 5.0 else None  # ~ a likelihood ratio of e^5: a real shift
