"""Per-example membership and unlearning attacks (SPEC §7, REFERENCES §3.5–3.7).

Pure functions, numpy in and numpy or ``dict[str, float]`` out:

- :mod:`.roc`: ``roc_curve``, ``auc``, ``tpr_at_fpr``, ``attack_summary`` (rates and AUC as fractions);
- :mod:`.stats`: ``logit_confidence`` (LiRA's φ), ``class_means`` and ``rep_margin`` (its representation
  analogue);
- :mod:`.lira`: per-example Gaussian fits, ``online_scores`` (likelihood ratio) and ``offline_scores``;
- :mod:`.ulira`: ``ulira`` (U-LiRA: LiRA with the unlearning inside the shadows);
- :mod:`.challenge`: ``forget_score``, the NeurIPS 2023 unlearning challenge's ε-based score.

:mod:`.pipeline` (``ShadowAttacks``) trains and caches the shadow and retrained models a benchmark needs
and turns them into the metrics ``ulira_*``, ``rep_lira_*`` and ``forget_score``; import it from there.

>>> attack_summary([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], "ulira")["ulira_auc"]
1.0
"""

from sure_unlearn.attacks.challenge import epsilon_max, forget_score
from sure_unlearn.attacks.lira import GaussianFits, fit_gaussians, offline_scores, online_scores
from sure_unlearn.attacks.roc import attack_summary, auc, roc_curve, tpr_at_fpr
from sure_unlearn.attacks.stats import class_means, logit_confidence, rep_margin
from sure_unlearn.attacks.ulira import ulira

__all__ = [
    "GaussianFits",
    "attack_summary",
    "auc",
    "class_means",
    "epsilon_max",
    "fit_gaussians",
    "forget_score",
    "logit_confidence",
    "offline_scores",
    "online_scores",
    "rep_margin",
    "roc_curve",
    "tpr_at_fpr",
    "ulira",
]
