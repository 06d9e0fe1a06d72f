"""The pure-Python logistic regression of the lost-to-follow-up model, its AUC and
calibration (careloop.followup.logistic)."""

from __future__ import annotations

import math
import random

import pytest

from careloop.followup.logistic import auc, calibration, fit, sigmoid


def _synthetic(n: int, seed: int = 7) -> tuple[list[list[float]], list[int]]:
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(n):
        x1 = rng.gauss(2.0, 1.5)
        x2 = 1.0 if rng.random() < 0.3 else 0.0
        x3 = rng.gauss(0.0, 1.0)  # no effect
        p = sigmoid(-1.0 + 0.8 * x1 - 1.5 * x2 + 0.0 * x3)
        rows.append([x1, x2, x3])
        labels.append(1 if rng.random() < p else 0)
    return rows, labels


def test_fit_recovers_known_coefficients() -> None:
    rows, labels = _synthetic(6000)
    model = fit(rows, labels, ["x1", "x2", "x3"], l2=0.01)
    intercept, raw = model.raw_coefficients()
    assert model.converged
    assert intercept == pytest.approx(-1.0, abs=0.15)
    assert raw[0] == pytest.approx(0.8, abs=0.08)
    assert raw[1] == pytest.approx(-1.5, abs=0.15)
    assert raw[2] == pytest.approx(0.0, abs=0.08)
    # The same data give the same model, digit for digit.
    again = fit(rows, labels, ["x1", "x2", "x3"], l2=0.01)
    assert again.coefficients == model.coefficients


def test_l2_shrinks_and_a_constant_feature_is_harmless() -> None:
    rows, labels = _synthetic(800)
    rows = [[*r, 5.0] for r in rows]
    loose = fit(rows, labels, ["x1", "x2", "x3", "c"], l2=0.01)
    tight = fit(rows, labels, ["x1", "x2", "x3", "c"], l2=500.0)
    assert abs(tight.coefficients[0]) < abs(loose.coefficients[0]) / 2
    assert loose.coefficients[3] == 0.0
    assert all(math.isfinite(b) for b in loose.coefficients)


def test_auc_by_hand() -> None:
    # Positives 0.9, 0.4, 0.35; negatives 0.8, 0.3, 0.1, 0.4 (a tie with a positive).
    scores = [0.9, 0.8, 0.4, 0.4, 0.35, 0.3, 0.1]
    labels = [1, 0, 1, 0, 1, 0, 0]
    # Pairs won: 0.9 beats all 4 (4); 0.4 beats 0.3, 0.1, ties 0.4 (2.5); 0.35 beats 2 (2).
    assert auc(scores, labels) == pytest.approx(8.5 / 12)
    assert auc([0.1, 0.2], [0, 1]) == 1.0
    assert auc([0.2, 0.1], [0, 1]) == 0.0
    assert auc([0.5, 0.5], [1, 1]) is None


def test_calibration_by_decile() -> None:
    scores = [i / 100 for i in range(100)]
    labels = [1 if i >= 90 else 0 for i in range(100)]
    groups = calibration(scores, labels)
    assert len(groups) == 10
    assert [g["n"] for g in groups] == [10] * 10
    assert groups[0] == {"n": 10, "predicted": 0.045, "observed": 0.0}
    assert groups[-1]["observed"] == 1.0
