"""U-LiRA (Hayes et al., arXiv 2403.01218): LiRA with the unlearning inside the shadows.

The game: for each target example, tell "the model trained on it, then unlearned it" (label 1) from
"the model never saw it" (label 0). Shadow m trains on a random half of the targets, runs the *same*
unlearning method with the *same* hyperparameters on that half, and gives roles 1 (trained, then
unlearned) and 0 (never seen); per-example Gaussians fitted to the two sides score the target model with
the online likelihood ratio (:func:`~sure_unlearn.attacks.lira.online_scores`). A method that unlearns
exactly (Retrain) leaves both sides with one distribution, so its AUC is 0.5 up to sampling noise.

The same code serves any statistic: :func:`ulira` with φ (:func:`~sure_unlearn.attacks.stats.
logit_confidence`) gives ``ulira_*``, with the representation margin (:func:`~sure_unlearn.attacks.stats.
rep_margin`) and ``prefix="rep_lira"`` it gives ``rep_lira_*``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from sure_unlearn.attacks.lira import fit_gaussians, offline_scores, online_scores
from sure_unlearn.metrics.roc import attack_summary


def ulira(
    target_stat: ArrayLike,
    labels: ArrayLike,
    shadow_stats: ArrayLike,
    roles: ArrayLike,
    prefix: str = "ulira",
    *,
    center: Literal["mean", "median"] = "mean",
    global_variance: bool | None = None,
    offline: bool = False,
) -> tuple[dict[str, float], np.ndarray]:
    """Per-example attack on a target model: (``{prefix}_auc``, ``{prefix}_tpr_1fpr``, ``{prefix}_tpr_01fpr``;
    the score of every target, higher = "trained on it and unlearned it").

    ``target_stat`` (N): the target model's statistic per target; ``labels`` (N): 1 = the target model
    trained on it then unlearned it, 0 = never seen; ``shadow_stats``/``roles`` (M×N): the unlearned
    shadows' statistics and roles (1, 0, or -1 to ignore). ``offline=True`` uses OUT shadows only.

    >>> rng = np.random.default_rng(0)
    >>> roles = np.tile([[1], [0]], (4, 40))                       # 4 IN and 4 OUT shadows per target
    >>> shadows = rng.normal(2.0 * roles, 0.5)                    # unlearning leaves a trace of +2
    >>> labels = np.arange(40) % 2
    >>> m, scores = ulira(rng.normal(2.0 * labels, 0.5), labels, shadows, roles)
    >>> m["ulira_auc"] > 0.95
    True
    """
    fits = fit_gaussians(shadow_stats, roles, center=center, global_variance=global_variance)
    scores = offline_scores(target_stat, fits) if offline else online_scores(target_stat, fits)
    return attack_summary(scores, labels, prefix), scores
