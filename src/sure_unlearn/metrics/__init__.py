"""Evaluation metrics as pure functions of cached outputs.

Groups registered in :data:`METRICS` (keys are a public interface; percentages 0–100, AUCs 0–1):

- ``accuracy``: forget_acc, retain_acc, test_acc, val_acc, ua (+ test_acc_forget_class,
  test_acc_other_classes in class scenarios)
- ``mia_efficacy``: SVC on true-class confidence, retain vs test, applied to D_f (SalUn)
- ``mia_loss``: LR on per-sample loss, D_f vs test, cross-validated accuracy (SCRUB)
- ``rep_mia_knn``, ``rep_mia_linear``: probes on z, retain vs test, applied to D_f
- ``rep_auc``: cross-validated AUC of a probe on z, D_f vs same-distribution test
- ``rep_auc_cond``: AUC of the label-aware representation margin, D_f vs same-distribution test

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> def split(n, centre):
...     z = rng.normal(centre, 1.0, (n, 4)).astype(np.float32)
...     return SplitOutputs(z[:, :2], z, rng.integers(0, 2, n), np.arange(n))
>>> inp = EvalInputs(forget=split(50, 1.0), retain=split(300, 1.0), test=split(300, -1.0), val=None)
>>> m = evaluate_metrics(inp)
>>> sorted(m)
['forget_acc', 'mia_efficacy', 'mia_loss', 'rep_auc', 'rep_auc_cond', 'rep_mia_knn', 'rep_mia_linear', 'retain_acc', 'test_acc', 'ua']
>>> sorted(gaps(m, m).items())[:2]
[('forget_acc', 0.0), ('gap_avg', 0.0)]
"""

from sure_unlearn.metrics import outputs, representation  # noqa: F401  (registers the groups)
from sure_unlearn.metrics.core import (
    METRICS,
    EvalInputs,
    MetricFn,
    MetricInputError,
    SplitOutputs,
    evaluate_metrics,
    gaps,
)
from sure_unlearn.metrics.outputs import accuracy, mia_efficacy, mia_loss
from sure_unlearn.metrics.representation import rep_auc, rep_mia_knn, rep_mia_linear

__all__ = [
    "METRICS",
    "EvalInputs",
    "MetricFn",
    "MetricInputError",
    "SplitOutputs",
    "accuracy",
    "evaluate_metrics",
    "gaps",
    "mia_efficacy",
    "mia_loss",
    "rep_auc",
    "rep_mia_knn",
    "rep_mia_linear",
]
