"""Per-example statistics that membership and unlearning attacks compare across models.

- :func:`logit_confidence` (output space): LiRA's logit-scaled confidence

      φ(x) = log p_y − log Σ_{k≠y} p_k = z_y − logsumexp_{k≠y} z_k,

  in float64 after subtracting each row's largest logit, so it is finite for any finite logits. It is
  the log-odds of the label under the softmax, and is close to Gaussian across models, which is why
  LiRA fits Gaussians to it.
- :func:`rep_margin` (representation space): the same margin for the representation ``z`` itself,
  read by a nearest-class-mean classifier instead of the model's head. With ẑ = z/‖z‖ and μ̂_k the
  normalised mean of ẑ over class ``k`` of a reference set of the *same* model (:func:`class_means`):

      r(x) = cos(ẑ, μ̂_y) − max_{k≠y} cos(ẑ, μ̂_k)   ∈ [−2, 2].

  φ is the margin of the true class over the others when the classifier is the linear head (logits
  are ⟨w_k, z⟩ + b_k); ``r`` is the margin when the "class templates" are the class means of the
  representation, with the hard max in place of logsumexp (cosines live in [−1, 1], where a soft max
  would be dominated by the number of classes). A model that memorised x pulls z(x) into its class
  cluster, raising r exactly as memorisation raises φ; an unlearning method that only retunes the head
  moves φ but not r. That is the representation-space claim SURE is judged on.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logsumexp

from sure_unlearn.metrics.core import MetricInputError
from sure_unlearn.metrics.margins import _labels, class_means, rep_margin

__all__ = ["class_means", "logit_confidence", "rep_margin"]


def logit_confidence(logits: ArrayLike, y: ArrayLike) -> np.ndarray:
    """φ = z_y − logsumexp_{k≠y} z_k per row (float64, max-shifted): LiRA's statistic.

    >>> logit_confidence([[2.0, 0.0], [0.0, 0.0]], [0, 1])
    array([2., 0.])
    >>> logit_confidence([[1e4, -1e4, 0.0]], [0])  # huge logits stay finite
    array([10000.])
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise MetricInputError(f"logits must be N×K with K ≥ 2 classes, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise MetricInputError("logits contain NaN or inf; the model diverged")
    n = len(z)
    y = _labels(y, n, z.shape[1])
    z = z - z.max(axis=1, keepdims=True)
    rows = np.arange(n)
    zy = z[rows, y]
    others = z.copy()
    others[rows, y] = -np.inf  # drop the label's logit from the logsumexp
    return zy - logsumexp(others, axis=1)
