"""Intervals over seeds and paired comparisons: what a claim that one method beats another rests on.

Every reported figure is a mean over seeds with its 95% **t-interval**, mean ± t₀.₉₇₅,ₙ₋₁ · s/√n (s the
sample standard deviation): with the handful of seeds a benchmark affords, the t-interval is the honest
choice (a bootstrap over 3–10 values under-covers). Two methods are compared by the **paired** difference
over the seeds both ran (the same forget set, original and oracle on each seed), whose t-interval removes
the seed-to-seed variation the two share. A difference whose interval contains 0 is a tie.

>>> s = interval([1.0, 2.0, 3.0, 4.0, 5.0])
>>> s.mean, round(s.std, 4), round(s.ci_low, 4), round(s.ci_high, 4), s.n
(3.0, 1.5811, 1.0368, 4.9632, 5)
>>> d = paired({0: 2.0, 1: 3.0, 2: 4.0}, {0: 1.0, 1: 2.5, 2: 3.0, 3: 9.0})
>>> d.n, round(d.mean, 4), d.ci_low > 0
(3, 0.8333, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats as sps

LEVEL = 0.95
KIND = "t"  # which interval every figure carries (named in tables and in summary.json)


@dataclass(frozen=True)
class Interval:
    """Mean, sample std and the 95% t-interval of n values (the interval is None-valued for n < 2)."""

    mean: float
    std: float
    ci_low: float | None
    ci_high: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def contains(self, value: float) -> bool:
        return self.ci_low is not None and self.ci_high is not None and self.ci_low <= value <= self.ci_high


def finite(values: Sequence[object]) -> list[float]:
    """The finite real numbers among ``values`` (booleans, None, NaN and non-numbers dropped)."""
    return [
        float(v)
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]


def interval(values: Sequence[object], level: float = LEVEL) -> Interval:
    """:class:`Interval` of the finite values; a NaN mean when there are none."""
    vals = finite(values)
    n = len(vals)
    if n == 0:
        return Interval(math.nan, math.nan, None, None, 0)
    m = sum(vals) / n
    if n == 1:
        return Interval(m, 0.0, None, None, 1)
    s = math.sqrt(sum((v - m) ** 2 for v in vals) / (n - 1))
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * s / math.sqrt(n)
    return Interval(m, s, m - half, m + half, n)


def paired(a: Mapping[int, float], b: Mapping[int, float], level: float = LEVEL) -> Interval:
    """Interval of a − b over the seeds (keys) both have finite values for."""
    seeds = sorted(k for k in a.keys() & b.keys() if finite([a[k], b[k]]) and len(finite([a[k], b[k]])) == 2)
    return interval([a[k] - b[k] for k in seeds], level)
