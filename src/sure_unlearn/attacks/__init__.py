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

_ATTACKS = {
    "ulira": "U-LiRA (Hayes et al., 2024) on outputs (φ)",
    "rep_lira": "U-LiRA on representations (the class-mean margin)",
    "rmia": "RMIA (Zarifzadeh et al., ICML 2024) on outputs (the label's softmax probability)",
    "rep_rmia": "RMIA on representations (the margin as a cosine-classifier probability)",
}
_RATES = {
    "auc": "AUC, forgotten vs never-seen targets (0.5: nothing found)",
    "tpr_1fpr": "TPR at 1% FPR (null below 100 never-seen targets)",
    "tpr_01fpr": "TPR at 0.1% FPR (null below 1,000 never-seen targets)",
}
# Every metric the per-example attacks write into a run (``sure list metrics`` prints them), fractions in [0, 1]
ATTACK_METRICS: dict[str, str] = {
    **{f"{a}_{k}": f"{what}: {rate}" for a, what in _ATTACKS.items() for k, rate in _RATES.items()},
    "forget_score": "NeurIPS 2023 unlearning challenge's forget quality F (1: indistinguishable from retraining)",
    "forget_score_levels": "values one example's forget-score points can take (written below 8 models per side)",
    "attack_n_nonmembers": "never-seen targets of the attacks: FPRs resolve down to 1/n",
}

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
