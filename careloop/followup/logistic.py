"""A small logistic regression in pure Python (no numpy in the deployment): standardised
features, an L2 penalty, Newton-Raphson (IRLS) with a fixed greatest number of steps, so the
same data always give the same model; the AUC and calibration by decile to judge it.

Used by the lost-to-follow-up model (``followup.lost_risk``); nothing here reads the
database."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_STEPS = 50
TOLERANCE = 1e-9


@dataclass
class Fitted:
    """A fitted model: the intercept and coefficients on the standardised features, and the
    means and scales that standardise them."""

    names: list[str]
    intercept: float
    coefficients: list[float]
    means: list[float]
    scales: list[float]
    steps: int = 0
    converged: bool = False
    extra: dict[str, float] = field(default_factory=dict)

    def standardised(self, row: Sequence[float]) -> list[float]:
        return [(x - m) / s for x, m, s in zip(row, self.means, self.scales, strict=True)]

    def linear(self, row: Sequence[float]) -> float:
        z = self.standardised(row)
        return self.intercept + sum(b * x for b, x in zip(self.coefficients, z, strict=True))

    def probability(self, row: Sequence[float]) -> float:
        return sigmoid(self.linear(row))

    def contributions(self, row: Sequence[float]) -> list[float]:
        """Each feature's part of the log-odds, against an average patient (0 at the mean)."""
        z = self.standardised(row)
        return [b * x for b, x in zip(self.coefficients, z, strict=True)]

    def raw_coefficients(self) -> tuple[float, list[float]]:
        """The intercept and coefficients on the features' own scales."""
        raw = [b / s for b, s in zip(self.coefficients, self.scales, strict=True)]
        return self.intercept - sum(r * m for r, m in zip(raw, self.means, strict=True)), raw


def sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    e = math.exp(value)
    return e / (1.0 + e)


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Solve ``matrix @ x = vector`` (symmetric positive definite) by Gaussian elimination
    with partial pivoting."""
    n = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            raise ValueError("singular system")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            if factor:
                for c in range(col, n + 1):
                    a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def fit(
    rows: Sequence[Sequence[float]],
    labels: Sequence[int],
    names: Sequence[str],
    *,
    l2: float = 1.0,
    max_steps: int = MAX_STEPS,
) -> Fitted:
    """Fit P(label = 1) = sigmoid(b0 + Σ bj·zj), zj the standardised features, minimising
    the log loss plus ``l2``/2·Σ bj² (the intercept not penalised)."""
    n = len(rows)
    if n == 0 or n != len(labels):
        raise ValueError("rows and labels must be non-empty and as many")
    p = len(names)
    means = [sum(r[j] for r in rows) / n for j in range(p)]
    scales = []
    for j in range(p):
        var = sum((r[j] - means[j]) ** 2 for r in rows) / n
        scales.append(math.sqrt(var) if var > 1e-12 else 1.0)  # a constant feature stays 0
    z = [[(r[j] - means[j]) / scales[j] for j in range(p)] + [1.0] for r in rows]
    k = p + 1  # the intercept last
    beta = [0.0] * k
    rate = sum(labels) / n
    if 0 < rate < 1:
        beta[p] = math.log(rate / (1 - rate))
    steps, converged = 0, False
    for steps in range(1, max_steps + 1):  # noqa: B007 - the count is kept
        grad = [0.0] * k
        hess = [[0.0] * k for _ in range(k)]
        for x, y in zip(z, labels, strict=True):
            mu = sigmoid(sum(b * v for b, v in zip(beta, x, strict=True)))
            w = mu * (1 - mu)
            d = y - mu
            for i in range(k):
                xi = x[i]
                grad[i] += d * xi
                wi = w * xi
                row = hess[i]
                for j in range(i, k):
                    row[j] += wi * x[j]
        for i in range(k):
            for j in range(i):
                hess[i][j] = hess[j][i]
        for i in range(p):
            grad[i] -= l2 * beta[i]
            hess[i][i] += l2
        hess[p][p] += 1e-9  # all one label: keep the system solvable
        delta = _solve(hess, grad)
        beta = [b + d for b, d in zip(beta, delta, strict=True)]
        if max(abs(d) for d in delta) < TOLERANCE:
            converged = True
            break
    return Fitted(list(names), beta[p], beta[:p], means, scales, steps, converged)


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """The area under the ROC curve: the chance a random positive scores above a random
    negative (ties count half), by ranks; None without both labels."""
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1  # ranks from 1, ties their average
        for t in range(i, j + 1):
            ranks[order[t]] = mid
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def calibration(
    scores: Sequence[float], labels: Sequence[int], groups: int = 10
) -> list[dict[str, float]]:
    """Predicted against observed by group of predictions (deciles, lowest first): n, mean
    predicted, observed rate."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    n = len(order)
    found = []
    for g in range(groups):
        part = order[g * n // groups : (g + 1) * n // groups]
        if not part:
            continue
        found.append(
            {
                "n": len(part),
                "predicted": round(sum(scores[i] for i in part) / len(part), 4),
                "observed": round(sum(labels[i] for i in part) / len(part), 4),
            }
        )
    return found
