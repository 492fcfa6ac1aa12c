"""What each reported number is: its key, header, unit, decimal places, direction and families.

Tables, bar plots, stability tables, the aggregate gaps and the calibrated distance all read this one
registry, so a new metric is one :func:`describe` call beside its code.

- ``unit``: ``"%"`` (0–100), ``"0-1"`` (AUCs, TPRs, scores), ``"s"`` (seconds) or ``""``.
- ``direction``: ``"oracle"`` (the target is the oracle's value: every outcome of unlearning), ``"lower"``
  or ``"higher"`` (costs and scores with a fixed best end).
- ``gap``: the aggregate gap it enters (``gap_avg``: SalUn's outputs-and-utility gap; ``gap_rep``: the
  representation gap), or None.
- ``term``: its term of the calibrated distance (:mod:`sure_unlearn.metrics.distance`): ``"outputs"``,
  ``"rep_membership"``, ``"rep_probe"``, ``"utility"``, or None.

>>> info("rep_auc").unit, info("rep_auc").term, info("test_acc").gap
('0-1', 'rep_probe', 'gap_avg')
>>> [m.key for m in infos(gap="gap_rep")]
['rep_mia_knn', 'rep_mia_linear', 'rep_auc']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sure_unlearn.registry import Registry

Unit = Literal["%", "0-1", "s", ""]
Direction = Literal["oracle", "lower", "higher"]
Term = Literal["outputs", "rep_membership", "rep_probe", "utility"]


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str  # column header
    unit: Unit = "%"
    direction: Direction = "oracle"
    gap: str | None = None
    term: Term | None = None
    table: str | None = None  # "main", "attacks" or None (not a column)
    bar: bool = False  # drawn as a bar panel
    digits: int | None = None  # default: 3 for 0–1 values, 1 otherwise
    chance: float | None = None  # the value a blind attacker or probe gets (drawn dotted in plots)
    about: str = ""  # one line on what it measures, for `sure list metrics` (default: the label)

    @property
    def places(self) -> int:
        return self.digits if self.digits is not None else (3 if self.unit == "0-1" else 1)

    @property
    def axis_label(self) -> str:
        """The label with its unit, for plot axes and bar panels."""
        unit = {"%": " (%)", "s": " (s)"}.get(self.unit, "")
        return self.label + unit + (" ↓" if self.direction == "lower" else "")

    @property
    def scale(self) -> float:
        """Factor that puts the value in points (100 for 0–1 values), as the aggregate gaps use it."""
        return 100.0 if self.unit == "0-1" else 1.0


METRIC_INFO: Registry[MetricInfo] = Registry("metric")


def describe(key: str, label: str, **kw: object) -> MetricInfo:
    """Register a metric's description (once per key)."""
    return METRIC_INFO.register(key)(MetricInfo(key, label, **kw))  # type: ignore[arg-type]


def info(key: str) -> MetricInfo:
    return METRIC_INFO.get(key)


def infos(**where: object) -> list[MetricInfo]:
    """Descriptions whose fields equal ``where`` (e.g. ``table="main"``), in registration order."""
    out = [METRIC_INFO.get(k) for k in METRIC_INFO.available()]
    return [m for m in out if all(getattr(m, f) == v for f, v in where.items())]


def places(key: str) -> int:
    """Decimal places of a metric in tables (3 for unknown keys that look like 0–1 values, else 1)."""
    return info(key).places if key in METRIC_INFO else 1


# ---- the evaluation's metrics, in table order -----------------------------------------------------------
describe("forget_acc", "forget acc", table="main", bar=True, about="top-1 accuracy on the forget set D_f")
describe(
    "retain_acc",
    "retain acc",
    gap="gap_avg",
    term="utility",
    table="main",
    bar=True,
    about="top-1 accuracy on the retain set D_r",
)
describe(
    "test_acc",
    "test acc",
    gap="gap_avg",
    term="utility",
    table="main",
    bar=True,
    about="top-1 accuracy on the test split (all classes)",
)
describe("val_acc", "val acc", table="main", about="top-1 accuracy on the held-out validation split")
describe("ua", "UA", gap="gap_avg", term="outputs", about="unlearning accuracy: 100 − forget acc")
describe("test_acc_forget_class", "test acc (forget class)", about="test accuracy on the forget classes")
describe("test_acc_other_classes", "test acc (other classes)", about="test accuracy on every other class")
describe(
    "mia_efficacy",
    "MIA-eff",
    gap="gap_avg",
    term="outputs",
    table="main",
    bar=True,
    about="MIA-Efficacy (SalUn convention): % of D_f a confidence SVM calls non-member",
)
describe(
    "mia_loss",
    "MIA-loss",
    table="main",
    bar=True,
    about="loss-based logistic-regression MIA (SCRUB convention): accuracy telling D_f from test, %",
)
describe(
    "rep_mia_knn",
    "rep k-NN",
    gap="gap_rep",
    term="rep_membership",
    table="main",
    bar=True,
    about="% of D_f a 5-NN on representations (retain vs test) calls member",
)
describe(
    "rep_mia_linear",
    "rep lin",
    gap="gap_rep",
    term="rep_membership",
    table="main",
    bar=True,
    about="% of D_f a linear probe on representations (retain vs test) calls member",
)
describe(
    "rep_auc",
    "rep AUC",
    unit="0-1",
    gap="gap_rep",
    term="rep_probe",
    table="main",
    bar=True,
    chance=0.5,
    about="cross-validated AUC of a fresh probe telling D_f's representations from test ones (0.5: none)",
)
describe(
    "rep_auc_cond",
    "rep AUC (label-aware)",
    unit="0-1",
    term="rep_probe",
    table="main",
    bar=True,
    chance=0.5,
    about="AUC of the class-mean representation margin, D_f vs test of its classes (0.5: none)",
)
describe(  # {layer: fresh-probe AUC}, input to output
    "rep_auc_layers", "rep AUC per layer", unit="0-1", about="rep AUC of a fresh probe at each layer"
)
describe(
    "forget_drift",
    "forget drift",
    unit="",
    digits=3,
    about="mean move of D_f's representations, in units of their spread before unlearning",
)
describe(
    "val_drift",
    "val drift",
    unit="",
    direction="lower",
    digits=3,
    about="mean move of the validation split's representations, in units of their spread",
)
describe("runtime_s", "time (s)", unit="s", direction="lower", about="wall time of the run, seconds")
describe("rrt", "RRT", unit="", direction="lower", digits=3, about="relative runtime: time over the oracle's")
describe("seconds_per_epoch", "s/epoch", unit="s", direction="lower", about="wall time per epoch, seconds")
# ---- per-example attacks (sure benchmark --shadows M) and similarity, the second table --------------------
for _key, _name, _what in (
    ("ulira", "U-LiRA", "U-LiRA (Hayes et al., 2024) on outputs (φ)"),
    ("rep_lira", "rep-LiRA", "U-LiRA on representations (the class-mean margin)"),
    ("rmia", "RMIA", "RMIA (Zarifzadeh et al., ICML 2024) on outputs (the label's softmax probability)"),
    ("rep_rmia", "rep-RMIA", "RMIA on representations (the margin as a cosine-classifier probability)"),
):
    describe(
        f"{_key}_auc",
        f"{_name} AUC",
        unit="0-1",
        table="attacks",
        bar=True,
        chance=0.5,
        about=f"{_what}: AUC, forgotten vs never-seen targets (0.5: nothing found)",
    )
    describe(
        f"{_key}_tpr_1fpr",
        f"{_name} TPR@1%",
        unit="0-1",
        table="attacks",
        about=f"{_what}: TPR at 1% FPR (null below 100 never-seen targets)",
    )
    describe(
        f"{_key}_tpr_01fpr",
        f"{_name} TPR@0.1%",
        unit="0-1",
        table="attacks",
        about=f"{_what}: TPR at 0.1% FPR (null below 1,000 never-seen targets)",
    )
describe(
    "forget_score",
    "forget score",
    unit="0-1",
    direction="higher",
    table="attacks",
    bar=True,
    about="NeurIPS 2023 unlearning challenge's forget quality F (1: indistinguishable from retraining)",
)
describe(
    "forget_score_levels",
    "forget-score levels",
    unit="",
    digits=0,
    about="values one example's forget-score points can take (written below 8 models per side)",
)
describe(
    "attack_n_nonmembers",
    "never-seen targets",
    unit="",
    digits=0,
    about="never-seen targets of the attacks: FPRs resolve down to 1/n",
)
describe(
    "cka_to_oracle",
    "CKA→oracle",
    unit="0-1",
    direction="higher",
    table="attacks",
    bar=True,
    about="linear CKA of the representations to the oracle's, on D_f and as many unseen samples (1: same)",
)
describe(
    "cka_to_original",
    "CKA→original",
    unit="0-1",
    table="attacks",
    about="linear CKA of the representations to the original's, on the same probe set",
)
