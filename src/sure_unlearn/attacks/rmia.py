"""RMIA (Zarifzadeh, Liu, Shokri, ICML 2024, "Low-Cost High-Power Membership Inference Attacks").

RMIA asks how much more likely a target x is under the attacked model θ than under models in general,
and ranks that against the same ratio for population samples z (examples known not to be members):

    LR(x) = Pr(x | θ) / Pr(x),        Pr(x) = mean over the reference models θ' of Pr(x | θ')
    score(x) = fraction of population z with LR(x) / LR(z) > γ            (γ = 1; higher = member)

``Pr(x | θ)`` is a probability. On outputs it is the softmax probability of x's label, σ(φ) with φ LiRA's
logit-scaled confidence (:func:`~sure_unlearn.attacks.stats.logit_confidence`: φ is exactly the log-odds
of the label, so log σ(φ) is the log-probability, finite for any φ). On representations there is no
softmax, so we make one from the class-mean margin r ∈ [−2, 2] (:func:`~sure_unlearn.attacks.stats.
rep_margin`, what rep-LiRA uses): σ(r/τ) is the probability that a cosine classifier over the class means
at temperature τ gives x's label when it chooses between that label and the nearest other class
(its logits are cos(ẑ, μ̂_k)/τ). We take τ = :data:`REP_TEMPERATURE` = 0.1, a usual temperature for
classifiers and contrastive losses on normalised features: it spreads the margins of a trained model
(a few tenths, moving by about 0.1 between models) over σ's sloped part, as softmax does for the
logits, so neither side of a ratio saturates. On the committed ``cpu``-preset attack runs
(``benchmarks/results/attacks``) τ from 0.1 to 1 gives AUCs within 0.02 of each other; τ = 0.02
saturates σ and loses up to 0.07.

*Reference models and Pr(x).* ``roles`` says which references trained on x (1; in the unlearning game:
trained on x, then unlearned it) and which never saw it (0). Online (the default, references of both
roles): Pr(x) is the mean over every reference. Offline (OUT references only): Pr_IN(x) is unobserved,
and the paper approximates it linearly, Pr_IN(x) ≈ a·Pr_OUT(x) + (1 − a), so

    Pr(x) = ½ (Pr_IN(x) + Pr_OUT(x)) ≈ ½ ((1 + a)·Pr_OUT(x) + (1 − a)),

with a = :data:`OFFLINE_A` = 0.33, the value of the authors' released CIFAR-10 configurations
(``privacytrustlab/ml_privacy_meter: research/2023_rmia``); a = 1 gives Pr(x) = Pr_OUT(x).

*Population.* For one attacked model the score is a step function of LR(x), so the ROC is that of LR(x)
read on the grid the population draws: a positive and a negative with no z between them tie. When the
population is the game's own never-seen targets (:func:`rmia`), each positive ties with the negative
just above it, which raises the AUC by at most 1/(2·#negatives) (0.0005 with 1,000 never-seen targets);
γ ≥ 1 keeps a target from counting against itself (its ratio to itself is 1, not > γ).

Everything is computed in log space: log LR(x) − log LR(z) > log γ.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logsumexp

from sure_unlearn.attacks.lira import IGNORE, IN, OUT
from sure_unlearn.errors import ConfigError
from sure_unlearn.metrics.core import MetricInputError
from sure_unlearn.metrics.roc import attack_summary

OFFLINE_A = 0.33  # Pr_IN ≈ a·Pr_OUT + (1 − a) in the offline setting (the authors' CIFAR-10 value)
REP_TEMPERATURE = 0.1  # τ of the cosine classifier that turns the class-mean margin into a probability


def log_sigmoid(margin: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """log σ(m/τ) = −log(1 + e^(−m/τ)), exact for any finite margin (the log-probability of the label).

    >>> log_sigmoid([0.0, 800.0, -800.0]).tolist()
    [-0.6931471805599453, -0.0, -800.0]
    """
    if temperature <= 0:
        raise ConfigError(f"the temperature must be > 0, got {temperature}")
    m = np.asarray(margin, dtype=np.float64) / temperature
    if not np.isfinite(m).all():
        raise MetricInputError("the margins contain NaN or inf")
    return -np.logaddexp(0.0, -m)


def log_pr_x(
    ref_logp: ArrayLike, roles: ArrayLike, *, offline: bool = False, a: float = OFFLINE_A
) -> np.ndarray:
    """log Pr(x) per column from M×N reference log-probabilities (online: every reference; offline: OUT
    references and the paper's approximation). Entries with role -1 are ignored.

    >>> lp = np.log([[0.9, 0.2], [0.5, 0.4]])
    >>> np.exp(log_pr_x(lp, [[1, 0], [0, 0]])).round(3).tolist()         # means over both references
    [0.7, 0.3]
    >>> np.exp(log_pr_x(lp, [[1, 0], [0, 0]], offline=True)).round(4).tolist()  # ½((1+a)·Pr_OUT + 1 − a)
    [0.6675, 0.5345]
    """
    lp = np.asarray(ref_logp, dtype=np.float64)
    r = np.asarray(roles)
    if lp.ndim != 2 or r.shape != lp.shape:
        raise MetricInputError(
            f"reference log-probabilities and roles must both be M×N; got {lp.shape}, {r.shape}"
        )
    if not set(np.unique(r).tolist()) <= {IN, OUT, IGNORE}:
        raise MetricInputError(
            f"roles must be 1 (in), 0 (out) or -1 (ignore), got {sorted(set(np.unique(r).tolist()))}"
        )
    if not 0 <= a <= 1:
        raise ConfigError(f"the offline coefficient a must be in [0, 1], got {a}")
    use = r == OUT if offline else r != IGNORE
    n = use.sum(axis=0)
    if (n == 0).any():
        side = "OUT " if offline else ""
        raise MetricInputError(
            f"{int((n == 0).sum())} example(s) have no {side}reference model; every example needs at least one"
        )
    if (lp[use] > 0).any() or not np.isfinite(lp[use]).all():
        raise MetricInputError("reference log-probabilities must be finite and ≤ 0")
    log_mean = logsumexp(np.where(use, lp, -np.inf), axis=0) - np.log(n)
    if not offline:
        return log_mean
    # ½((1 + a)·Pr_OUT + (1 − a)), in log space
    return np.logaddexp(np.log1p(a) + log_mean, np.log1p(-a) if a < 1 else -np.inf) - np.log(2.0)


def rmia_scores(x_log_lr: ArrayLike, z_log_lr: ArrayLike, gamma: float = 1.0) -> np.ndarray:
    """Fraction of the population whose ratio x beats by more than γ: #{z : LR(x)/LR(z) > γ} / #z.

    >>> rmia_scores(np.log([1.0, 2.0, 4.0]), np.log([1.0, 2.0, 3.0, 4.0])).tolist()
    [0.0, 0.25, 0.75]
    """
    if gamma < 1:
        raise ConfigError(
            f"γ must be ≥ 1 (x must be at least as likely, relative to z, as z itself), got {gamma}"
        )
    x, z = np.asarray(x_log_lr, dtype=np.float64), np.sort(np.asarray(z_log_lr, dtype=np.float64))
    if z.size == 0:
        raise MetricInputError("RMIA needs at least one population sample z")
    if np.isnan(x).any() or np.isnan(z).any():
        raise MetricInputError("likelihood ratios contain NaN")
    return np.searchsorted(z, x - np.log(gamma), side="left") / z.size


def rmia(
    target_logp: ArrayLike,
    labels: ArrayLike,
    ref_logp: ArrayLike,
    roles: ArrayLike,
    prefix: str = "rmia",
    *,
    offline: bool = False,
    a: float = OFFLINE_A,
    gamma: float = 1.0,
) -> tuple[dict[str, float], np.ndarray]:
    """RMIA on a target model: (``{prefix}_auc``, ``{prefix}_tpr_1fpr``, ``{prefix}_tpr_01fpr``; the score of
    every target), with the never-seen targets (label 0) as the population z.

    ``target_logp`` (N): log Pr(x | θ) under the attacked model; ``labels`` (N): 1 = trained on it (then
    unlearned it), 0 = never seen; ``ref_logp``/``roles`` (M×N): the reference models' log-probabilities
    and roles (1, 0, or -1 to ignore). TPRs at an FPR finer than 1/#negatives are NaN (see
    :func:`~sure_unlearn.metrics.roc.attack_summary`).

    >>> labels = np.array([1, 1, 0, 0])
    >>> refs = np.log([[0.5, 0.9, 0.5, 0.9]])        # one reference: a hard and an easy example per side
    >>> target = np.log([0.8, 0.99, 0.5, 0.9])       # the members gained under the attacked model
    >>> m, scores = rmia(target, labels, refs, np.zeros((1, 4), int))
    >>> scores.tolist(), m["rmia_auc"]               # raw confidence ranks the easy negative first
    ([1.0, 1.0, 0.0, 0.0], 1.0)
    """
    t = np.asarray(target_logp, dtype=np.float64)
    lab = np.asarray(labels)
    pr_x = log_pr_x(ref_logp, roles, offline=offline, a=a)
    if t.shape != pr_x.shape or lab.shape != t.shape:
        raise MetricInputError(
            f"{len(pr_x)} reference columns but target shape {t.shape}, labels {lab.shape}"
        )
    if not np.isfinite(t).all() or (t > 0).any():
        raise MetricInputError("the target's log-probabilities must be finite and ≤ 0")
    log_lr = t - pr_x
    scores = rmia_scores(log_lr, log_lr[lab == 0], gamma)
    return attack_summary(scores, lab, prefix), scores


def rmia_on_stats(
    target_phi: ArrayLike,
    target_rep: ArrayLike,
    labels: ArrayLike,
    ref_phi: ArrayLike,
    ref_rep: ArrayLike,
    roles: ArrayLike,
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """RMIA (``rmia_*``) and rep-RMIA (``rep_rmia_*``) from LiRA's statistics: Pr(x | θ) = σ(φ) on outputs
    (φ the logit-scaled confidence) and σ(r / :data:`REP_TEMPERATURE`) on representations (r the class-mean
    margin). Returns both attacks' metrics and their scores (outputs, representations).

    >>> labels, roles = np.array([1, 1, 0, 0]), np.zeros((1, 4), int)
    >>> m, s, s_rep = rmia_on_stats([3.0, 4.0, 0.0, 1.0], [0.5, 0.6, 0.1, 0.2], labels,
    ...                              [[0.0, 1.0, 0.0, 1.0]], [[0.1, 0.2, 0.1, 0.2]], roles)
    >>> m["rmia_auc"], m["rep_rmia_auc"]
    (1.0, 1.0)
    """
    metrics, score = rmia(log_sigmoid(target_phi), labels, log_sigmoid(ref_phi), roles)
    tau = REP_TEMPERATURE
    rep_metrics, rep_score = rmia(
        log_sigmoid(target_rep, tau), labels, log_sigmoid(ref_rep, tau), roles, prefix="rep_rmia"
    )
    return {**metrics, **rep_metrics}, score, rep_score
