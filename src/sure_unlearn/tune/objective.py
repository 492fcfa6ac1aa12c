"""One objective for every method: how far the unlearned model is from the oracle (retrained without D_f).

Default (``gap``): the calibrated ``distance`` of :mod:`sure_unlearn.metrics.distance`, lower is better:
the share of the original's forgetting gap to the oracle still left (outputs, representation membership
and fresh representation probes weigh the same), plus the share of the oracle's accuracy margin over
chance that was lost. The oracle scores 0, the original about 1, and a model whose outputs were simply
destroyed more than the original, so the search cannot win by wrecking the model.

``multi``: two objectives for a Pareto front, the two parts of the same distance: ``forgetting`` (its
forgetting share) and ``utility`` (its utility share).

With several scenarios in one study each objective is the mean over scenarios.

>>> g = {"distance": 0.6, "dist_forgetting": 0.5, "dist_utility": 0.1}
>>> distance(g), forgetting(g), utility(g)
(0.6, 0.5, 0.1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.metrics.distance import FORMULA as DISTANCE_FORMULA

MODES = ("gap", "multi")
NAMES = {"gap": ("distance",), "multi": ("forgetting", "utility")}
FORMULA = {
    "gap": DISTANCE_FORMULA,
    "multi": "forgetting = the distance's forgetting share; utility = its utility share; both minimised",
}


def _get(gaps: Mapping[str, float], key: str) -> float:
    try:
        return float(gaps[key])
    except KeyError:
        raise DataError(
            f"the run has no {key!r}: the distance needs the original's and the oracle's metrics"
        ) from None


def distance(gaps: Mapping[str, float]) -> float:
    """The calibrated distance to the oracle (0 = the oracle, ≈ 1 = the original)."""
    return _get(gaps, "distance")


def forgetting(gaps: Mapping[str, float]) -> float:
    """The share of the original's forgetting gap to the oracle still left."""
    return _get(gaps, "dist_forgetting")


def utility(gaps: Mapping[str, float]) -> float:
    """The share of the oracle's accuracy margin over chance that was lost."""
    return _get(gaps, "dist_utility")


def values(runs: Sequence[Any], mode: str = "gap") -> tuple[float, ...]:
    """The objective(s) of ``mode`` for one trial: each run's value (one run per scenario), averaged."""
    if mode not in MODES:
        raise ConfigError(f"objective must be one of {MODES}, got {mode!r}")
    fns = (distance,) if mode == "gap" else (forgetting, utility)
    gaps = [r.gaps if hasattr(r, "gaps") else r["gaps"] for r in runs]
    return tuple(sum(fn(g) for g in gaps) / len(gaps) for fn in fns)


def finite(vals: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in vals)
