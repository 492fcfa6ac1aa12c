"""ROC curves, AUC and TPR at a fixed FPR for attack scores.

Convention: a *higher* score means "positive" (member, or forgotten member for U-LiRA), and the attack
says "positive" for every example whose score is ``>= t``. The curve has one point per distinct score,
so tied scores move together: nothing is interpolated and no randomised rule is used, so every reported
(FPR, TPR) is achieved by an actual threshold. Rates (FPR, TPR) and AUC are *fractions* in [0, 1], never
percentages.

Resolution: with ``n`` negatives the achievable FPRs are the multiples of ``1/n``; the smallest non-zero
one is ``1/n``. :func:`tpr_at_fpr` at a target FPR below ``1/n`` is therefore TPR at FPR 0 (the positives
that score strictly above every negative), and :func:`attack_summary`, which names its rates, reports
such a TPR as NaN rather than a number its name misdescribes: TPR at 0.1% FPR needs ≥ 1,000 negatives
(and rests on 10 false-positive steps only from 10,000), TPR at 1% needs ≥ 100.

>>> roc_curve([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])
(array([0. , 0. , 0.5, 0.5, 1. ]), array([0. , 0.5, 0.5, 1. , 1. ]))
>>> auc([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])
0.75
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from sure_unlearn.metrics.core import MetricInputError

# The FPRs named in the metric keys: "_tpr_1fpr" is TPR at FPR ≤ 1%, "_tpr_01fpr" at FPR ≤ 0.1%.
FPR_POINTS = {"tpr_1fpr": 0.01, "tpr_01fpr": 0.001}


def _check(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    lab = np.asarray(labels).ravel()
    if s.shape != lab.shape:
        raise MetricInputError(f"{len(s)} scores but {len(lab)} labels")
    if np.isnan(s).any():
        raise MetricInputError(
            f"{int(np.isnan(s).sum())} attack scores are NaN; fix the statistic that produced them"
        )
    values = set(np.unique(lab).tolist())
    if not values <= {0, 1}:
        raise MetricInputError(f"labels must be 0 (negative) or 1 (positive), got values {sorted(values)}")
    if values != {0, 1}:
        raise MetricInputError("an ROC curve needs at least one positive and one negative example")
    return s, lab.astype(np.int64)


def roc_curve(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) at every distinct threshold, from (0, 0) (nothing called positive) to (1, 1).

    Point ``i ≥ 1`` calls positive every example scoring at least the ``i``-th largest distinct score.
    """
    s, lab = _check(scores, labels)
    order = np.argsort(-s, kind="stable")
    s, lab = s[order], lab[order]
    # last position of each run of equal scores (``!=`` rather than diff, so that inf == inf is a tie)
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tp = np.cumsum(lab)[ends]
    fp = ends + 1 - tp
    n_pos, n_neg = int(lab.sum()), int(len(lab) - lab.sum())
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


def auc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve: P(score of a random positive > a random negative), ties counting ½.

    >>> auc([1, 1, 1, 1], [1, 0, 1, 0])
    0.5
    """
    fpr, tpr = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def tpr_at_fpr(scores: ArrayLike, labels: ArrayLike, fpr: float) -> float:
    """The largest TPR of any threshold whose FPR is ≤ ``fpr`` (exact; see the module note on resolution).

    >>> tpr_at_fpr([5, 4, 3, 2, 1], [1, 1, 0, 1, 0], 0.01)  # 2 negatives: FPR 0 is the only one ≤ 1%
    0.6666666666666666
    """
    if not 0 <= fpr <= 1:
        raise MetricInputError(f"the target FPR must be in [0, 1], got {fpr}")
    f, t = roc_curve(scores, labels)
    # f holds k/n exactly rounded; allow for the rounding of the target so that FPR = 1/n counts at 1/n
    return float(t[f <= fpr * (1 + 1e-12)].max())


def resolved(rate: float, n_negatives: int) -> bool:
    """Whether ``n_negatives`` resolve FPR ``rate``: one false positive is at most ``rate`` (1/n ≤ rate).

    >>> resolved(0.01, 100), resolved(0.01, 99), resolved(0.001, 1000)
    (True, False, True)
    """
    return rate * n_negatives >= 1 - 1e-9


def attack_summary(scores: ArrayLike, labels: ArrayLike, prefix: str) -> dict[str, float]:
    """``{prefix}_auc``, ``{prefix}_tpr_1fpr`` (TPR at FPR ≤ 1%) and ``{prefix}_tpr_01fpr`` (≤ 0.1%).

    All three are fractions in [0, 1] (not percentages), like every AUC in ``sure``. A TPR whose FPR is
    finer than one negative (below 1/#negatives, see :func:`resolved`) is NaN: it cannot be measured.

    >>> attack_summary(np.arange(200.0), np.arange(200) >= 100, "ulira")  # 100 negatives: 1% is one of them
    {'ulira_auc': 1.0, 'ulira_tpr_1fpr': 1.0, 'ulira_tpr_01fpr': nan}
    """
    out = {f"{prefix}_auc": auc(scores, labels)}
    n_neg = int(np.sum(np.asarray(labels).ravel() == 0))
    for name, rate in FPR_POINTS.items():
        out[f"{prefix}_{name}"] = tpr_at_fpr(scores, labels, rate) if resolved(rate, n_neg) else float("nan")
    return out
