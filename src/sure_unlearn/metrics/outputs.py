"""Output-space metrics: accuracies and the two population membership-inference attacks on the logits.

Sources and conventions: UA/RA/TA as in the OPTML papers; MIA-Efficacy as OPTML-Group/Unlearn-Saliency
``evaluation/SVC_MIA.py``; the loss-based LR attack as meghdadk/SCRUB ``MIA_experiments.ipynb``.

>>> import numpy as np
>>> from sure_unlearn.metrics.core import EvalInputs, SplitOutputs
>>> s = SplitOutputs(np.eye(4, dtype=np.float32), np.zeros((4, 1), np.float32), np.array([0, 1, 2, 0]),
...                  np.arange(4))
>>> m = accuracy(EvalInputs(forget=s, retain=s, test=s, val=None))
>>> m["forget_acc"], m["ua"]
(75.0, 25.0)
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score
from sklearn.svm import SVC

from sure_unlearn.metrics.core import METRICS, EvalInputs, MetricInputError, balanced, true_class_log_prob


def _acc(logits: np.ndarray, y: np.ndarray, what: str) -> float:
    if len(y) == 0:
        raise MetricInputError(f"accuracy: the {what} split is empty")
    return float(100.0 * np.mean(logits.argmax(axis=1) == y))


@METRICS.register("accuracy")
def accuracy(inputs: EvalInputs) -> dict[str, float]:
    """Top-1 accuracies in percent: Acc(S) = 100·mean 1[argmax_k z_k = y].

    Keys: ``forget_acc``, ``retain_acc``, ``test_acc`` (all test samples), ``val_acc`` (only when a
    non-empty validation split is given) and ``ua`` = 100 − forget_acc. Class scenarios add
    ``test_acc_forget_class`` (test samples of the forget classes) and ``test_acc_other_classes`` (the
    rest; this is what OPTML's class-wise code reports as TA).
    """
    out = {
        "forget_acc": _acc(inputs.forget.logits, inputs.forget.y, "forget"),
        "retain_acc": _acc(inputs.retain.logits, inputs.retain.y, "retain"),
        "test_acc": _acc(inputs.test.logits, inputs.test.y, "test"),
    }
    if inputs.val is not None and len(inputs.val):
        out["val_acc"] = _acc(inputs.val.logits, inputs.val.y, "val")
    out["ua"] = 100.0 - out["forget_acc"]
    if inputs.forget_classes:
        t = inputs.test
        m = np.isin(t.y, inputs.forget_classes)
        out["test_acc_forget_class"] = _acc(t.logits[m], t.y[m], "test split's forget-class")
        out["test_acc_other_classes"] = _acc(t.logits[~m], t.y[~m], "test split's other-class")
    return out


@METRICS.register("mia_efficacy")
def mia_efficacy(inputs: EvalInputs) -> dict[str, float]:
    """MIA-Efficacy (SalUn / Unlearn-Sparse convention): share of D_f called non-member.

    Feature: true-class confidence p_y (softmax in float64). Attack: ``SVC(C=3, gamma="auto",
    kernel="rbf")`` fit on retain samples as members (1) and test samples as non-members (0), balanced by
    subsampling each side with ``seed`` to min(|D_r|, |D_t|, max_samples). Score = 100·mean
    1[SVC(p_y(x)) = 0] over x in D_f. Higher means the forget set looks less like training data; the
    target is the oracle's value, not 100 (except for class-wise forgetting).

    Deviation from the reference code: it takes the *first* |D_t| retain samples in dataset order and, in
    class-wise runs, drops the forgotten class from D_t; here members are a seeded subsample and D_t is
    used whole.
    """
    conf = [np.exp(true_class_log_prob(s.logits, s.y)) for s in (inputs.retain, inputs.test, inputs.forget)]
    x, t = balanced(conf[0], conf[1], inputs.seed, inputs.max_samples, "mia_efficacy")
    svc = SVC(C=3, gamma="auto", kernel="rbf").fit(x[:, None], t)
    pred = svc.predict(conf[2][:, None])
    return {"mia_efficacy": float(100.0 * np.mean(pred == 0))}


@METRICS.register("mia_loss")
def mia_loss(inputs: EvalInputs) -> dict[str, float]:
    """Loss-based logistic-regression MIA (SCRUB convention), in percent.

    Feature: per-sample CE loss ℓ = −log p_y, clipped to [−100, 100]. Members: D_f (1); non-members: test
    samples (0), restricted to the forget classes in class scenarios as SCRUB does. The larger side is
    subsampled with ``seed`` (each side at most max_samples). Attack: ``LogisticRegression()`` scored by
    ``StratifiedShuffleSplit(n_splits=5, test_size=0.1, random_state=seed)``; value = 100·mean held-out
    accuracy. Target ≈ 50, better the oracle's value.
    """
    loss = [
        np.clip(-true_class_log_prob(s.logits, s.y), -100.0, 100.0)
        for s in (inputs.forget, inputs.test_like_forget())
    ]
    x, t = balanced(loss[0], loss[1], inputs.seed, inputs.max_samples, "mia_loss")
    cv = StratifiedShuffleSplit(n_splits=5, test_size=0.1, random_state=inputs.seed)
    scores = cross_val_score(LogisticRegression(), x[:, None], t, cv=cv, scoring="accuracy")
    return {"mia_loss": float(100.0 * scores.mean())}
