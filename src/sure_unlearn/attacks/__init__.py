"""Per-example membership and unlearning attacks.

Pure functions, numpy in and numpy or ``dict[str, float]`` out:

- :mod:`sure_unlearn.metrics.roc` (re-exported): ``roc_curve``, ``auc``, ``tpr_at_fpr``,
  ``attack_summary`` (rates and AUC as fractions), shared with the report's ROC plots;
- :mod:`.stats`: ``logit_confidence`` (LiRA's φ), ``class_means`` and ``rep_margin`` (its representation
  analogue);
- :mod:`.lira`: per-example Gaussian fits, ``online_scores`` (likelihood ratio) and ``offline_scores``;
- :mod:`.ulira`: ``ulira`` (U-LiRA: LiRA with the unlearning inside the shadows);
- :mod:`.rmia`: ``rmia`` (RMIA: the likelihood ratio against reference models, ranked in a population);
- :mod:`.challenge`: ``forget_score``, the NeurIPS 2023 unlearning challenge's ε-based score.

:mod:`.pipeline` (``ShadowAttacks``) trains and caches the shadow and retrained models a benchmark needs
and turns them into the metrics of :data:`ATTACK_METRICS`; import it from there.

>>> attack_summary([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], "ulira")["ulira_auc"]
1.0
"""

from sure_unlearn.attacks.challenge import epsilon_max, forget_score
from sure_unlearn.attacks.lira import GaussianFits, fit_gaussians, offline_scores, online_scores
from sure_unlearn.attacks.rmia import log_sigmoid, rmia, rmia_scores
from sure_unlearn.attacks.stats import class_means, logit_confidence, rep_margin
from sure_unlearn.attacks.ulira import ulira
from sure_unlearn.metrics.roc import attack_summary, auc, roc_curve, tpr_at_fpr

# Every metric the per-example attacks write into a run (rates and scores in [0, 1], and the two counts that
# state their resolution); what each is, with its header and unit: :mod:`sure_unlearn.metrics.info`
ATTACK_METRICS: tuple[str, ...] = (
    *(
        f"{a}_{r}"
        for a in ("ulira", "rep_lira", "rmia", "rep_rmia")
        for r in ("auc", "tpr_1fpr", "tpr_01fpr")
    ),
    "forget_score",
    "forget_score_levels",
    "attack_n_nonmembers",
)

__all__ = [
    "ATTACK_METRICS",
    "GaussianFits",
    "attack_summary",
    "auc",
    "class_means",
    "epsilon_max",
    "fit_gaussians",
    "forget_score",
    "log_sigmoid",
    "logit_confidence",
    "offline_scores",
    "online_scores",
    "rep_margin",
    "rmia",
    "rmia_scores",
    "roc_curve",
    "tpr_at_fpr",
    "ulira",
]
