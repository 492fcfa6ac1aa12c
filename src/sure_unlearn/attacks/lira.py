"""Per-example Gaussian likelihood-ratio attacks (LiRA, Carlini et al. 2022).

Input: ``stats`` (M×N), a statistic of N target examples under M shadow models, and ``roles`` (M×N):
1 = the shadow had the example ("member", or for U-LiRA "trained on it, then unlearned it"), 0 = the
shadow never saw it, -1 = ignore this entry. For each example and side we fit N(μ, σ²) and score a
target model's statistic ``t`` by

    online:  Λ(t) = log N(t; μ_in, σ_in²) − log N(t; μ_out, σ_out²)      (higher = member)
    offline: (t − μ_out) / σ_out                                          (OUT shadows only)

The offline score is the paper's one-sided test: its membership probability Φ((t − μ_out)/σ_out) is a
monotone function of the z-score returned here, so every ROC quantity is the same, and the z-score
keeps its resolution in the far tail where Φ rounds to 1.

Choices, and where they differ from the public code (``tensorflow/privacy: research/mi_lira_2021``):

- **μ**: the mean, as in the paper (the public code uses the median). With the handful of shadows a
  CPU can afford (2–16 per side) the mean is the efficient estimator for Gaussian data; ``center=
  "median"`` is available for heavy-tailed statistics.
- **σ**: per example, the sample standard deviation (ddof 1). With few shadows per side that is too
  noisy, so the paper pools one σ per side across examples. ``global_variance=None`` (default) pools
  when any example has fewer than :data:`PER_EXAMPLE_MIN` samples on a side (the paper reports
  per-example variances paying off only from about 64 shadow models, i.e. 32 per side). The pooled
  variance is the within-example one, Σ_i Σ_m (s_mi − μ_i)² / Σ_i (n_i − 1): deviations from each
  example's own centre, so differences *between* examples do not inflate it (the public code's
  "fixed variance" takes the std of all IN scores instead, and uses it for both sides).
- **Degenerate σ**: an example with one sample on a side gets the pooled σ; every σ is floored at
  ``rel_floor`` × that side's pooled σ (and 1e-12), so a constant statistic gives large but finite Λ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from sure_unlearn.errors import ConfigError
from sure_unlearn.metrics.core import MetricInputError

# Fewest samples per side with which a per-example σ is used when global_variance is None.
PER_EXAMPLE_MIN = 32
IN, OUT, IGNORE = 1, 0, -1


@dataclass(frozen=True)
class GaussianFits:
    """Per-example fits: centres ``mu_*``, spreads ``sigma_*`` and sample counts ``n_*`` (each length N)."""

    mu_in: np.ndarray
    sigma_in: np.ndarray
    n_in: np.ndarray
    mu_out: np.ndarray
    sigma_out: np.ndarray
    n_out: np.ndarray
    global_variance: bool

    def __len__(self) -> int:
        return len(self.mu_in)


def _side(
    s: np.ndarray, mask: np.ndarray, center: str, pooled_only: bool, rel_floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(μ, σ, n) per column of ``s`` over the rows where ``mask``; NaN μ/σ for columns without samples."""
    n = mask.sum(axis=0)
    x = np.where(mask, s, np.nan)
    has = n > 0
    mu = np.full(s.shape[1], np.nan)
    if has.any():
        reduce = np.nanmedian if center == "median" else np.nanmean
        mu[has] = reduce(x[:, has], axis=0)
    dev2 = np.where(mask, (s - mu) ** 2, 0.0).sum(axis=0)  # Σ_m (s_mi − μ_i)² per example
    dof = np.maximum(n - 1, 0)
    if dof.sum() == 0:
        raise MetricInputError(
            "cannot estimate a spread: no example has two samples on one side; use more shadow models"
        )
    pooled = float(np.sqrt(dev2.sum() / dof.sum()))
    sigma = np.full(s.shape[1], pooled)
    if not pooled_only:
        own = dof > 0
        sigma[own] = np.sqrt(dev2[own] / dof[own])
    sigma = np.maximum(sigma, max(rel_floor * pooled, 1e-12))
    sigma[~has] = np.nan
    return mu, sigma, n


def fit_gaussians(
    stats: ArrayLike,
    roles: ArrayLike,
    *,
    center: Literal["mean", "median"] = "mean",
    global_variance: bool | None = None,
    rel_floor: float = 1e-3,
) -> GaussianFits:
    """Fit N(μ, σ²) per example to its IN (role 1) and OUT (role 0) shadow statistics.

    >>> s = np.array([[3.0, 0.0], [1.0, 2.0], [2.0, 1.0], [0.0, 3.0]])
    >>> f = fit_gaussians(s, [[1, 0], [1, 1], [0, 0], [0, 1]])
    >>> f.mu_in.tolist(), f.mu_out.tolist(), f.global_variance
    ([2.0, 2.5], [1.0, 0.5], True)
    """
    s = np.asarray(stats, dtype=np.float64)
    r = np.asarray(roles)
    if s.ndim != 2 or r.shape != s.shape:
        raise MetricInputError(f"stats and roles must both be M×N; got {s.shape} and {r.shape}")
    if not set(np.unique(r).tolist()) <= {IN, OUT, IGNORE}:
        raise MetricInputError(
            f"roles must be 1 (in), 0 (out) or -1 (ignore), got {sorted(set(np.unique(r).tolist()))}"
        )
    if center not in ("mean", "median"):
        raise ConfigError(f"center must be 'mean' or 'median', got {center!r}")
    used = r != IGNORE
    if not np.isfinite(s[used]).all():
        raise MetricInputError("shadow statistics contain NaN or inf where roles do not say ignore")
    n_in, n_out = (r == IN).sum(axis=0), (r == OUT).sum(axis=0)
    if global_variance is None:
        counts = np.r_[n_in[n_in > 0], n_out[n_out > 0]]
        global_variance = bool(counts.size == 0 or counts.min() < PER_EXAMPLE_MIN)
    s = np.where(used, s, 0.0)
    mu_in, sd_in, n_in = (
        _side(s, r == IN, center, global_variance, rel_floor) if (r == IN).any() else _empty(s)
    )
    mu_out, sd_out, n_out = _side(s, r == OUT, center, global_variance, rel_floor)
    return GaussianFits(mu_in, sd_in, n_in, mu_out, sd_out, n_out, global_variance)


def _empty(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nan = np.full(s.shape[1], np.nan)
    return nan, nan.copy(), np.zeros(s.shape[1], np.int64)


def _target(target: ArrayLike, fits: GaussianFits, sides: tuple[str, ...]) -> np.ndarray:
    t = np.asarray(target, dtype=np.float64)
    if t.shape != (len(fits),):
        raise MetricInputError(f"{len(fits)} fitted examples but target statistics of shape {t.shape}")
    if not np.isfinite(t).all():
        raise MetricInputError("the target model's statistics contain NaN or inf")
    for side in sides:
        empty = np.flatnonzero(getattr(fits, f"n_{side}") == 0)
        if len(empty):
            raise MetricInputError(
                f"{len(empty)} example(s) (e.g. position {empty[0]}) have no {side.upper()} shadow "
                "statistic; every example needs at least one shadow on each side the test uses"
            )
    return t


def _log_normal(t: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return -0.5 * ((t - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)


def online_scores(target: ArrayLike, fits: GaussianFits) -> np.ndarray:
    """Λ = log N(t; μ_in, σ_in²) − log N(t; μ_out, σ_out²) per example (higher = member).

    >>> f = fit_gaussians([[1.0, 1.0], [-1.0, -1.0], [1.2, 1.2], [-1.2, -1.2]], [[1, 1], [0, 0], [1, 1], [0, 0]])
    >>> (online_scores([1.0, -1.0], f) > 0).tolist()
    [True, False]
    """
    t = _target(target, fits, ("in", "out"))
    return _log_normal(t, fits.mu_in, fits.sigma_in) - _log_normal(t, fits.mu_out, fits.sigma_out)


def offline_scores(target: ArrayLike, fits: GaussianFits) -> np.ndarray:
    """z = (t − μ_out)/σ_out per example, from OUT shadows only (one-sided: higher = member)."""
    t = _target(target, fits, ("out",))
    return (t - fits.mu_out) / fits.sigma_out
