"""One objective for every method: how far the unlearned model is from the oracle (retrained without D_f).

Default (``gap``), one number in points, lower is better:

    distance = ½ · (gap_avg + gap_rep)
    gap_avg  = ¼ · (|ΔUA| + |ΔMIA-efficacy| + |ΔRA| + |ΔTA|)              SalUn's "Avg. Gap", outputs
    gap_rep  = ⅓ · (|Δrep k-NN| + |Δrep linear| + 100·|Δrep AUC|)          representations

Why this combination: the two families get equal weight whatever their number of metrics (a plain mean of
all seven would weigh outputs 4:3); both are already in points, so ``distance`` reads in the tables' unit.
``gap_avg`` alone is the field's standard but rewards a model whose outputs match the oracle while its
representations still remember D_f — the failure SURE exists to fix; ``gap_rep`` alone ignores utility.
A mean, not a max, keeps the landscape smooth for the sampler. Over- and under-forgetting both count,
because every term is an absolute difference to the oracle.

``multi``: two objectives for a Pareto front, the same seven gaps split by what they measure:

    forgetting = ⅕ · (|ΔUA| + |ΔMIA-efficacy| + |Δrep k-NN| + |Δrep linear| + 100·|Δrep AUC|)
    utility    = ½ · (|ΔRA| + |ΔTA|)

With several scenarios in one study each objective is the mean over scenarios.

>>> g = {"ua": 2.0, "mia_efficacy": 6.0, "retain_acc": 1.0, "test_acc": 3.0,
...      "rep_mia_knn": 4.0, "rep_mia_linear": 2.0, "rep_auc": 0.06, "gap_avg": 3.0, "gap_rep": 4.0}
>>> distance(g), forgetting(g), utility(g)
(3.5, 4.0, 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sure_unlearn.errors import ConfigError, DataError

MODES = ("gap", "multi")
NAMES = {"gap": ("distance",), "multi": ("forgetting", "utility")}
FORGET_KEYS = ("ua", "mia_efficacy", "rep_mia_knn", "rep_mia_linear", "rep_auc")
UTILITY_KEYS = ("retain_acc", "test_acc")
FORMULA = {
    "gap": "distance = (gap_avg + gap_rep) / 2, points, lower is better",
    "multi": "forgetting = mean(|dUA|, |dMIA-eff|, |d rep k-NN|, |d rep lin|, 100|d rep AUC|); "
    "utility = mean(|dRA|, |dTA|); points, both minimised",
}


def _points(gaps: Mapping[str, float], key: str) -> float:
    try:
        v = float(gaps[key])
    except KeyError:
        raise DataError(
            f"the run has no gap {key!r} to the oracle; evaluate it with every metric (sure_unlearn.protocol.evaluate)"
        ) from None
    return 100.0 * v if key == "rep_auc" else v


def distance(gaps: Mapping[str, float]) -> float:
    """½ · (gap_avg + gap_rep), in points."""
    return 0.5 * (_points(gaps, "gap_avg") + _points(gaps, "gap_rep"))


def forgetting(gaps: Mapping[str, float]) -> float:
    """Mean gap over UA, MIA-efficacy and the three representation attacks, in points."""
    return sum(_points(gaps, k) for k in FORGET_KEYS) / len(FORGET_KEYS)


def utility(gaps: Mapping[str, float]) -> float:
    """Mean gap over retain and test accuracy, in points."""
    return sum(_points(gaps, k) for k in UTILITY_KEYS) / len(UTILITY_KEYS)


def values(runs: Sequence[Mapping[str, Any]], mode: str = "gap") -> tuple[float, ...]:
    """The objective(s) of ``mode`` for one trial: each run's value (one run per scenario), averaged."""
    if mode not in MODES:
        raise ConfigError(f"objective must be one of {MODES}, got {mode!r}")
    fns = (distance,) if mode == "gap" else (forgetting, utility)
    return tuple(sum(fn(r["gaps"]) for r in runs) / len(runs) for fn in fns)


def finite(vals: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in vals)
