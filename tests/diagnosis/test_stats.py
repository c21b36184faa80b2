"""The statistics the verdicts rest on."""

from __future__ import annotations

import random

import pytest

from bot.diagnosis.stats import change_point, smoothed_rate, wilson_bounds


def test_wilson_bounds_contain_the_rate_and_tighten_with_samples() -> None:
    low_small, high_small = wilson_bounds(3, 100)
    low_big, high_big = wilson_bounds(300, 10_000)
    assert low_small < 0.03 < high_small
    assert low_big < 0.03 < high_big
    assert high_big - low_big < (high_small - low_small) / 5


@pytest.mark.parametrize(("events", "trials"), [(0, 50), (50, 50), (0, 0)])
def test_wilson_bounds_stay_in_range(events: int, trials: int) -> None:
    low, high = wilson_bounds(events, trials)
    assert 0.0 <= low <= high <= 1.0


def test_three_errors_in_sixty_turns_are_not_clearly_over_a_one_percent_budget() -> None:
    low, _ = wilson_bounds(1, 60)
    assert low < 0.01


def test_smoothing_trusts_history_in_proportion() -> None:
    assert smoothed_rate(0, 0, 0.01) == pytest.approx(0.01)
    assert smoothed_rate(500, 10_000, 0.01) == pytest.approx(0.0495, abs=1e-3)


def test_change_point_finds_the_minute_a_rate_jumped() -> None:
    rng = random.Random(3)
    series = [
        (m, float(sum(rng.random() < (0.3 if m >= 40 else 0.005) for _ in range(50))), 50.0)
        for m in range(60)
    ]
    assert change_point(series) in (39, 40, 41)


def test_no_change_point_in_steady_noise() -> None:
    rng = random.Random(4)
    series = [(m, float(sum(rng.random() < 0.01 for _ in range(50))), 50.0) for m in range(60)]
    assert change_point(series) is None
