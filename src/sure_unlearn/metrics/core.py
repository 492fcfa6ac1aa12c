"""Metric inputs, the metric registry, and the gaps to the oracle.

A metric group is a pure function ``EvalInputs -> dict[str, float]`` registered in :data:`METRICS`; the
arrays come from one cached forward pass per split, so no metric touches a model, a device or a file.
Every random choice (subsampling, cross-validation folds) is drawn from ``EvalInputs.seed`` inside the
metric, so a group gives the same numbers whether it runs alone or with the others.

>>> gaps({"ua": 10.0, "test_acc": 90.0, "runtime_s": 3.0}, {"ua": 12.5, "test_acc": 91.0, "runtime_s": 60.0})
{'ua': 2.5, 'test_acc': 1.0}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sure_unlearn.errors import DataError
from sure_unlearn.metrics.info import info, infos
from sure_unlearn.registry import Registry

# Keys that are costs, not outcomes: gaps() never compares them with the oracle's. Any key ending in
# "_s" (seconds: runtime_s, eval_s, train_s) counts as one too.
RUNTIME_KEYS = frozenset({"runtime_s", "rrt", "seconds_per_epoch"})


def is_runtime_key(key: str) -> bool:
    """True for cost keys (``runtime_s``, ``rrt``, ``seconds_per_epoch``, any ``*_s``), skipped by gaps."""
    return key in RUNTIME_KEYS or key.endswith("_s")


# SalUn's "Avg. Gap": UA, MIA-Efficacy, RA, TA, all in points; the representation gap: rep k-NN, rep
# linear and rep AUC (in [0, 1], scaled by 100 to points). Both read from the metric descriptions.
GAP_AVG_KEYS = tuple(m.key for m in infos(gap="gap_avg"))
GAP_REP_KEYS = tuple(m.key for m in infos(gap="gap_rep"))
# Below this many samples per side an attack's accuracy or AUC is noise; we refuse rather than report it.
MIN_PER_SIDE = 10


class MetricInputError(DataError, ValueError):
    """Inputs a metric cannot be computed from (too few samples, mismatched shapes)."""


@dataclass(frozen=True)
class SplitOutputs:
    """One split's cached forward pass: ``logits`` N×K, representations ``z`` N×D, labels ``y``, indices ``idx``."""

    logits: np.ndarray
    z: np.ndarray
    y: np.ndarray
    idx: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.logits.ndim != 2 or self.z.ndim != 2 or self.y.ndim != 1 or self.idx.ndim != 1:
            raise MetricInputError(
                f"expected logits N×K, z N×D, y N, idx N; got {self.logits.shape}, {self.z.shape}, "
                f"{self.y.shape}, {self.idx.shape}"
            )
        if not (len(self.logits) == len(self.z) == len(self.idx) == n):
            raise MetricInputError(
                f"split arrays disagree on N: logits {len(self.logits)}, z {len(self.z)}, "
                f"y {n}, idx {len(self.idx)}"
            )
        if not np.issubdtype(self.y.dtype, np.integer):
            raise MetricInputError(f"labels y must be integers, got {self.y.dtype}")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> SplitOutputs:
        """The rows selected by a boolean mask or an index array."""
        return SplitOutputs(self.logits[mask], self.z[mask], self.y[mask], self.idx[mask])


@dataclass(frozen=True)
class EvalInputs:
    """Everything the metrics read: the four splits' outputs, the scenario's forget classes and a seed.

    ``forget_classes`` is non-empty for class scenarios (partial_class, full_class) and ``()`` for random
    forgetting. ``max_samples`` caps each side of every attack's data (subsampled with ``seed``).
    """

    forget: SplitOutputs
    retain: SplitOutputs
    test: SplitOutputs
    val: SplitOutputs | None
    forget_classes: tuple[int, ...] = ()
    seed: int = 0
    max_samples: int = 5000

    def test_like_forget(self) -> SplitOutputs:
        """Test samples of the forget set's distribution: those of the forget classes in class scenarios."""
        if not self.forget_classes:
            return self.test
        out = self.test.subset(np.isin(self.test.y, self.forget_classes))
        if len(out) == 0:
            raise MetricInputError(
                f"the test split has no samples of the forget classes {self.forget_classes}"
            )
        return out


MetricFn = Callable[[EvalInputs], dict[str, float]]
METRICS: Registry[MetricFn] = Registry("metric")


def evaluate_metrics(inputs: EvalInputs, names: list[str] | None = None) -> dict[str, float]:
    """Run the named metric groups (all registered ones by default) and merge their results."""
    out: dict[str, float] = {}
    for name in METRICS.available() if names is None else names:
        result = METRICS.get(name)(inputs)
        clash = out.keys() & result.keys()
        if clash:
            raise ValueError(f"metric group {name!r} repeats keys {sorted(clash)}")
        out.update(result)
    return out


def gaps(method: dict[str, float], oracle: dict[str, float]) -> dict[str, float]:
    """|method − oracle| for every numeric metric both report, plus ``gap_avg`` and ``gap_rep``.

    Each per-metric gap keeps the metric's name and unit (``rep_auc``'s gap is in [0, 1]). Cost keys
    (``runtime_s``, ``rrt``, ``seconds_per_epoch``, any other ``*_s`` such as ``eval_s``) and earlier
    ``gap_*`` keys are skipped.

    - ``gap_avg`` = mean |Δ| over ua, mia_efficacy, retain_acc, test_acc: SalUn's "Avg. Gap", in points. Since ua = 100 − forget_acc, |Δua| = |Δforget_acc|.
    - ``gap_rep`` = mean of |Δrep_mia_knn|, |Δrep_mia_linear| and 100·|Δrep_auc|, all three in points.

    Each aggregate is present only when all of its components are.

    >>> g = gaps({"ua": 5, "mia_efficacy": 10, "retain_acc": 99, "test_acc": 90},
    ...          {"ua": 7, "mia_efficacy": 14, "retain_acc": 100, "test_acc": 89})
    >>> g["gap_avg"], g["ua"]
    (2.0, 2.0)
    """

    def numeric(v: object) -> bool:
        return isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)

    out = {
        k: abs(float(method[k]) - float(oracle[k]))
        for k in method
        if k in oracle
        and not is_runtime_key(k)
        and not k.startswith("gap_")
        and numeric(method[k])
        and numeric(oracle[k])
    }
    if all(k in out for k in GAP_AVG_KEYS):
        out["gap_avg"] = float(np.mean([out[k] for k in GAP_AVG_KEYS]))
    if all(k in out for k in GAP_REP_KEYS):
        out["gap_rep"] = float(np.mean([info(k).scale * out[k] for k in GAP_REP_KEYS]))
    return out


# ---- helpers shared by the metric modules -------------------------------------------------------------


def true_class_log_prob(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log p_y = z_y − logsumexp(z), in float64 after subtracting the row max (no overflow, no log 0)."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))


def balanced(
    members: np.ndarray,
    nonmembers: np.ndarray,
    seed: int,
    cap: int,
    what: str,
    min_per_side: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Attack data with equal sides: each side subsampled (with ``seed``) to min(sizes, cap) rows.

    Returns features (members first) and labels (1 = member, 0 = non-member). Fewer than
    ``min_per_side`` (default :data:`MIN_PER_SIDE`) rows per side is an error.
    """
    n = min(len(members), len(nonmembers), cap)
    if n < (MIN_PER_SIDE if min_per_side is None else min_per_side):
        raise MetricInputError(
            f"{what}: needs at least {MIN_PER_SIDE if min_per_side is None else min_per_side} samples per side, got {len(members)} members and "
            f"{len(nonmembers)} non-members (max_samples={cap})"
        )
    rng = np.random.default_rng(seed)
    a = members[np.sort(rng.choice(len(members), n, replace=False))]
    b = nonmembers[np.sort(rng.choice(len(nonmembers), n, replace=False))]
    x = np.concatenate([a, b]).astype(np.float64)
    t = np.concatenate([np.ones(n, np.int64), np.zeros(n, np.int64)])
    return x, t
