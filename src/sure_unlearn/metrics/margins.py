"""The representation margin: how firmly a nearest-class-mean classifier on ``z`` puts x in its class.

With ẑ = z/‖z‖ and μ̂_k the normalised mean of ẑ over class k of a reference set of the *same* model
(:func:`class_means`, e.g. its retain set):

    r(x) = cos(ẑ, μ̂_y) − max_{k≠y} cos(ẑ, μ̂_k)   ∈ [−2, 2].

A model that memorised x pulls z(x) into its class cluster, raising r as memorisation raises the
output margin; a method that only retunes the head leaves r where it was. Per example it is rep-LiRA's
statistic; over a population it is the label-aware representation probe ``rep_auc_cond``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from sure_unlearn.metrics.core import MetricInputError


def _labels(y: ArrayLike, n: int, k: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise MetricInputError(f"labels must be {n} integers, got shape {y.shape} dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= k):
        raise MetricInputError(f"labels fall outside the {k} classes")
    return y.astype(np.int64)


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def class_means(z: ArrayLike, y: ArrayLike, k: int) -> np.ndarray:
    """``k × D``: the normalised mean of the L2-normalised representations of each class (NaN rows for
    classes absent from ``y``).

    >>> class_means([[3.0, 0.0], [0.0, 2.0], [0.0, 5.0]], [0, 1, 1], 3)
    array([[ 1.,  0.],
           [ 0.,  1.],
           [nan, nan]])
    """
    zz = np.asarray(z, dtype=np.float64)
    if zz.ndim != 2:
        raise MetricInputError(f"representations must be N×D, got shape {zz.shape}")
    yy = _labels(y, len(zz), k)
    u = _unit(zz)
    out = np.full((k, zz.shape[1]), np.nan)
    counts = np.bincount(yy, minlength=k)
    sums = np.zeros((k, zz.shape[1]))
    np.add.at(sums, yy, u)
    present = counts > 0
    out[present] = _unit(sums[present] / counts[present, None])
    return out


def rep_margin(z: ArrayLike, y: ArrayLike, means: ArrayLike) -> np.ndarray:
    """r = cos(ẑ, μ̂_y) − max_{k≠y} cos(ẑ, μ̂_k) per row; ``means`` from :func:`class_means` of the same model.

    Classes without a mean (NaN rows) are left out of the max; a row whose own class has none is an error.

    >>> m = class_means([[1.0, 0.0], [0.0, 1.0]], [0, 1], 2)
    >>> rep_margin([[2.0, 0.0], [1.0, 1.0]], [0, 1], m).round(6)
    array([1., 0.])
    """
    mu = np.asarray(means, dtype=np.float64)
    zz = np.asarray(z, dtype=np.float64)
    if zz.ndim != 2 or mu.ndim != 2 or mu.shape[1] != zz.shape[1] or mu.shape[0] < 2:
        raise MetricInputError(
            f"need z N×D and means K×D (K ≥ 2) with the same D; got {zz.shape}, {mu.shape}"
        )
    n = len(zz)
    yy = _labels(y, n, mu.shape[0])
    missing = np.asarray(np.isnan(mu).any(axis=1))
    if missing[yy].any():
        absent = sorted(set(yy[missing[yy]].tolist()))
        raise MetricInputError(
            f"the reference set has no samples of class(es) {absent}; use a larger reference set"
        )
    cos = _unit(zz) @ np.where(missing[:, None], 0.0, mu).T
    cos[:, missing] = -np.inf
    rows = np.arange(n)
    own = cos[rows, yy].copy()
    cos[rows, yy] = -np.inf
    return own - cos.max(axis=1)
