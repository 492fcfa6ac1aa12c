"""The NeurIPS 2023 Machine Unlearning Challenge's forgetting score, on any device.

For every forget example x we have its statistic φ(x) (logit-scaled confidence, :func:`~sure_unlearn.
attacks.stats.logit_confidence`) under N_u unlearned models (one original, different unlearning seeds)
and N_r retrained models (different training seeds). How well could any simple rule tell the two
samples apart? Each decision rule gives FPR and FNR over the models, and the (ε, δ) it certifies is

    ε = max( log(1 − δ − FPR) − log FNR,  log(1 − δ − FNR) − log FPR ),   δ = 1e-5, floored at 0;

FPR = FNR = 0 gives ε = ∞ (perfect separation) and a rule with exactly one of them 0 is discarded
(too few models to trust it). ε_x is the largest ε over the rules, clipped to [0, 50]. The rules:

1. *Single thresholds*: "positive" is the sample with the larger median; t sweeps [min, max] of all
   2N values at 100 thresholds per unit of φ, and a model is called positive when φ ≥ t.
2. *Intervals around the peakier sample* (the one with the smaller range w): a model is called peaky
   when l ≤ φ ≤ r, with the right end r within ±2 of the peaky sample's maximum and the left end l
   within ±2 of r − w, each swept at 100 per unit (400 × 400 rules). Both sweeps have step 4/399, so
   the left ends take only 799 distinct values; counts come from ``searchsorted`` and only change at data
   points, so the 160,000 rules reduce to the pairs of count runs that can meet (at most (2N+1)²).
   On equal ranges the negative sample (the smaller median) is the peaky one, as in the official code.

*Peakiness guard*: if (range of the narrower sample)/(range of the wider) < 0.01, ε_x = 50. This is
what scores a deterministic unlearner (every seed gives the same model, a point mass) and the
``original`` (nothing unlearned) as 0. Both samples constant (a case the guard's ratio leaves undefined):
ε_x = 0 if they are equal, else 50.

Points: H(ε) = 2^(−⌊2ε⌋) if ε < ε_max else 0, with ε_max = ⌈ln(N − 1)⌉ and N = min(N_u, N_r) models
(equal in the challenge, N = 512 → 7). The largest finite ε a rule can certify is about ln(N − 1)
(FPR = FNR = 1/N), which is where ε_max comes from. Small N:

    N      3   4–8   9–21   22–55   56–149   512
    ε_max  1   2     3      4       5        7

so with N = 4–8 only ε < 2 earns points (1, ½, ¼, ⅛) and the score is coarse; N = 2 would give
ε_max = 0 and a score that is 0 whatever the method, so N < 3 is refused. Because ε is a maximum over
many rules, sampling noise alone gives ε > 0: even retrained-vs-retrained scores below 1 at small N,
so compare a method with the oracle's own score at the same N.

Forget quality F = mean_x H(ε_x) ∈ [0, 1] (higher = better forgetting).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from sure_unlearn.errors import ConfigError
from sure_unlearn.metrics.core import MetricInputError

DELTA = 1e-5
EPSILON_CAP = 50.0
PER_UNIT = 100  # thresholds per unit of φ
BUFFER = 2.0  # ± slack of the interval rules' ends
PEAKY_RATIO = 0.01
_N_END = math.ceil(2 * BUFFER * PER_UNIT)  # 400 positions for each end of an interval


def epsilon_max(n_models: int) -> int:
    """⌈ln(N − 1)⌉: ε at or above it earns no points.

    >>> [epsilon_max(n) for n in (3, 4, 8, 9, 64, 512)]
    [1, 2, 2, 3, 5, 7]
    """
    if n_models < 3:
        raise ConfigError(
            f"the forget score needs at least 3 unlearned and 3 retrained models, got {n_models}: with 2, "
            "ε_max = ⌈ln 1⌉ = 0 and every method scores 0; raise n_models"
        )
    return math.ceil(math.log(n_models - 1))


def points(eps: ArrayLike, n_models: int) -> np.ndarray:
    """H(ε) = 2^(−⌊2ε⌋) for ε < ε_max, else 0.

    >>> points([0.0, 0.49, 0.5, 1.2, 1.99, 2.0], 8).tolist()
    [1.0, 1.0, 0.5, 0.25, 0.125, 0.0]
    """
    e = np.asarray(eps, dtype=np.float64)
    return np.where(e < epsilon_max(n_models), 2.0 ** -np.floor(2 * e), 0.0)


def epsilon_table(n_pos: int, n_neg: int, delta: float = DELTA) -> np.ndarray:
    """ε of a rule that calls ``a`` of ``n_pos`` positives and ``b`` of ``n_neg`` negatives positive, at [a, b].

    ∞ for perfect separation, -∞ for discarded rules (exactly one of FPR, FNR zero).

    >>> epsilon_table(2, 2).round(3).tolist()
    [[-inf, 0.0, 0.0], [-inf, 0.0, 0.0], [inf, -inf, -inf]]
    >>> round(float(epsilon_table(4, 4)[3, 1]), 4)  # FPR = FNR = 1/4: ε = ln(3/4) − ln(1/4) = ln 3
    1.0986
    """
    a = np.arange(n_pos + 1)[:, None]
    b = np.arange(n_neg + 1)[None, :]
    fnr = 1.0 - a / n_pos
    fpr = b / n_neg
    with np.errstate(divide="ignore", invalid="ignore"):
        one = np.log(np.maximum(1 - delta - fpr, 0.0)) - np.log(fnr)
        two = np.log(np.maximum(1 - delta - fnr, 0.0)) - np.log(fpr)
    eps = np.maximum(np.nan_to_num(np.maximum(one, two), nan=-np.inf), 0.0)
    zero_fpr, zero_fnr = np.broadcast_to(b == 0, eps.shape), np.broadcast_to(a == n_pos, eps.shape)
    eps = np.where(zero_fpr & zero_fnr, np.inf, eps)
    return np.where(zero_fpr ^ zero_fnr, -np.inf, eps)


def _ge(sorted_vals: np.ndarray, t: np.ndarray) -> np.ndarray:
    return len(sorted_vals) - np.searchsorted(sorted_vals, t, side="left")  # #values ≥ t


def _gt(sorted_vals: np.ndarray, t: np.ndarray) -> np.ndarray:
    return len(sorted_vals) - np.searchsorted(sorted_vals, t, side="right")  # #values > t


def _runs(
    a: np.ndarray, b: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Maximal runs of positions where (a, b) is constant: ((first, last) positions, (a, b) per run)."""
    start = np.r_[0, np.flatnonzero((a[1:] != a[:-1]) | (b[1:] != b[:-1])) + 1]
    end = np.r_[start[1:] - 1, len(a) - 1]
    return (start, end), (a[start], b[start])


def _example_epsilon(u: np.ndarray, r: np.ndarray, tables: dict[tuple[int, int], np.ndarray]) -> float:
    """ε_x for one forget example: ``u`` its φ under the unlearned models, ``r`` under the retrained ones."""
    range_u, range_r = float(np.ptp(u)), float(np.ptp(r))
    small, large = min(range_u, range_r), max(range_u, range_r)
    if large == 0:  # both constant
        return 0.0 if u[0] == r[0] else EPSILON_CAP
    if small / large < PEAKY_RATIO:
        return EPSILON_CAP
    pos, neg = (r, u) if np.median(r) > np.median(u) else (u, r)
    pos, neg = np.sort(pos), np.sort(neg)
    best = -np.inf
    # 1. single thresholds: positive when φ ≥ t
    lo, hi = min(pos[0], neg[0]), max(pos[-1], neg[-1])
    t = np.linspace(lo, hi, math.ceil((hi - lo) * PER_UNIT))
    table = tables[len(pos), len(neg)]
    best = max(best, float(table[_ge(pos, t), _ge(neg, t)].max(initial=-np.inf)))
    # 2. intervals [l, r] around the peakier sample p; q is the other one. On equal ranges p is the
    # negative sample, as in the official code (only a strictly narrower positive sample is the peaky one).
    p, q = (pos, neg) if pos[-1] - pos[0] < neg[-1] - neg[0] else (neg, pos)
    step = 2 * BUFFER / (_N_END - 1)
    right = p[-1] - BUFFER + step * np.arange(_N_END)  # r_j, j < 400
    left = p[0] - 2 * BUFFER + step * np.arange(2 * _N_END - 1)  # l_jk = r_j − w − 2 + k·step = left[j + k]
    # Counts only change at data points, so group each end's positions into runs of equal counts; a left
    # run [i0, i1] and a right run [j0, j1] meet in some rule iff [i0, i1] overlaps [j0, j1 + 399].
    (i0, i1), (gp, gq) = _runs(_ge(p, left), _ge(q, left))
    (j0, j1), (hp, hq) = _runs(_gt(p, right), _gt(q, right))
    meet = (i1[:, None] >= j0[None, :]) & (i0[:, None] <= j1[None, :] + _N_END - 1)
    in_p = np.maximum(gp[:, None] - hp[None, :], 0)[meet]  # #p in [l, r] = #p ≥ l − #p > r (0 if l > r)
    in_q = np.maximum(gq[:, None] - hq[None, :], 0)[meet]
    best = max(best, float(tables[len(p), len(q)][in_p, in_q].max()))
    return float(np.clip(best, 0.0, EPSILON_CAP)) if best > -np.inf else 0.0  # no rule survived: no evidence


def forget_score(unlearned_stats: ArrayLike, retrained_stats: ArrayLike) -> tuple[float, np.ndarray]:
    """(F, ε per forget example) from φ under N_u unlearned (N_u×F) and N_r retrained (N_r×F) models.

    >>> rng = np.random.default_rng(0)
    >>> same = rng.normal(size=(8, 5))
    >>> forget_score(same, same.copy())[0]          # identical samples: no rule tells them apart
    1.0
    >>> forget_score(same + 100.0, same)[0]         # separated by far more than their spread
    0.0
    """
    u = np.asarray(unlearned_stats, dtype=np.float64)
    r = np.asarray(retrained_stats, dtype=np.float64)
    if u.ndim != 2 or r.ndim != 2 or u.shape[1] != r.shape[1]:
        raise MetricInputError(
            f"need N_u×F and N_r×F statistics for the same F examples; got {u.shape}, {r.shape}"
        )
    if u.shape[1] == 0:
        raise MetricInputError("the forget set is empty")
    if not (np.isfinite(u).all() and np.isfinite(r).all()):
        raise MetricInputError("the statistics contain NaN or inf")
    n = min(len(u), len(r))
    epsilon_max(n)  # refuses N < 3
    tables = {(a, b): epsilon_table(a, b) for a in (len(u), len(r)) for b in (len(u), len(r))}
    eps = np.array([_example_epsilon(u[:, i], r[:, i], tables) for i in range(u.shape[1])])
    return float(points(eps, n).mean()), eps


def point_levels(n_unlearned: int, n_retrained: int) -> np.ndarray:
    """The values H(ε_x) can take with these model counts, ascending: the score's granularity per example.

    ε_x is one of the finitely many ε that a count pair (a of one sample, b of the other called positive)
    certifies (:func:`epsilon_table`, either sample positive), 0 (no surviving rule) or beyond ε_max
    (perfect separation, the cap): each earns its points, and F is the mean of these values over D_f.
    With few models there are few: 4 models per side give only 1, ½, ¼ and 0.

    >>> point_levels(4, 4).tolist()
    [0.0, 0.25, 0.5, 1.0]
    >>> [len(point_levels(n, n)) for n in (3, 4, 8, 16, 64)]
    [3, 4, 5, 7, 10]
    """
    n = min(n_unlearned, n_retrained)
    eps = [0.0, EPSILON_CAP]
    for a, b in ((n_unlearned, n_retrained), (n_retrained, n_unlearned)):
        table = epsilon_table(a, b)
        eps.extend(table[np.isfinite(table)].tolist())
    return np.unique(points(eps, n))
