"""The calibrated distance to the oracle: the number benchmarks rank by and searches minimise.

Raw gaps in points do not rank: a model that outputs noise sits as close to the oracle on some membership
metrics as a good unlearning method, and a metric on which the original already matches the oracle adds
only noise. So each forgetting metric is measured as the **share of the original's gap to the oracle that
is still left**, and utility as the **share of the oracle's margin over chance that was lost**:

    r_k = min(2, |m_k − o_k| / max(|g_k − o_k|, floor_k))          forgetting metric k
    u_k = min(2, |m_k − o_k| / max(o_k − chance_k, floor_k))        utility metric k (accuracies)

    forgetting = mean over the terms outputs (UA, MIA-efficacy), rep_membership (rep k-NN, rep linear)
                 and rep_probe (rep AUC and, when measured, the label-aware rep AUC) of the term's mean r
    utility    = mean over retain and test accuracy of u
    distance   = forgetting + utility

m is the method's value, o the oracle's, g the original's (all on the same seed), chance = 100/K points
for accuracies; floor_k is 5 points (0.05 for 0–1 values): where the original is within the floor of the
oracle, the metric cannot tell forgetting from noise and weighs less. Each share is capped at 2.

Reading it: the oracle scores 0; a model that forgot nothing and kept its accuracy (the original) scores
about 1; a model halfway between the original and the oracle about 0.5. A degenerate model that destroys
the outputs (the ``broken`` reference: the original with a freshly initialised head) keeps the original's
representations (two of three forgetting terms at 1) *and* pays the full utility term (u = 1 at chance
accuracy), so it scores ≳ 1.7, worse than doing nothing: wrecking a model cannot pass for unlearning. The
representation probes form their own term, so a method whose outputs match the oracle while a fresh
probe still finds the forget set in ``z`` is not rewarded for it.

>>> oracle = {"ua": 70.0, "mia_efficacy": 60.0, "rep_mia_knn": 40.0, "rep_mia_linear": 45.0,
...           "rep_auc": 0.5, "retain_acc": 99.0, "test_acc": 50.0}
>>> original = {"ua": 0.0, "mia_efficacy": 10.0, "rep_mia_knn": 90.0, "rep_mia_linear": 95.0,
...             "rep_auc": 0.9, "retain_acc": 100.0, "test_acc": 51.0}
>>> round(distance(oracle, original, oracle, 10)["distance"], 6)
0.0
>>> round(distance(original, original, oracle, 10)["distance"], 3)
1.018
"""

from __future__ import annotations

from collections.abc import Mapping

from sure_unlearn.metrics.info import infos

CAP = 2.0
FLOOR_POINTS = 5.0
FORGET_TERMS = ("outputs", "rep_membership", "rep_probe")
UTILITY_TERM = "utility"
FORMULA = (
    "distance = forgetting + utility; forgetting = mean over outputs, rep membership, rep probe of the "
    "share of the original's gap to the oracle still left; utility = share of the oracle's accuracy "
    "margin over chance lost; 0 = oracle, ≈ 1 = the original"
)


def _num(d: Mapping[str, object], k: str) -> float | None:
    v = d.get(k)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def distance(
    method: Mapping[str, object],
    original: Mapping[str, object],
    oracle: Mapping[str, object],
    num_classes: int,
) -> dict[str, float]:
    """``distance`` and its parts ``dist_<term>`` for one run (metrics of the method, the original and the
    oracle of the same seed); empty when a term has no metric all three report."""
    terms: dict[str, list[float]] = {}
    for m in infos():
        if m.term is None:
            continue
        v, g, o = (_num(d, m.key) for d in (method, original, oracle))
        if v is None or g is None or o is None:
            continue
        floor = FLOOR_POINTS / m.scale
        if m.term == UTILITY_TERM:
            chance = 100.0 / num_classes if m.unit == "%" else 0.5
            norm = max(o - chance, floor)
        else:
            norm = max(abs(g - o), floor)
        terms.setdefault(m.term, []).append(min(CAP, abs(v - o) / norm))
    if not all(t in terms for t in (*FORGET_TERMS, UTILITY_TERM)):
        return {}
    out = {f"dist_{t}": sum(vs) / len(vs) for t, vs in terms.items()}
    forgetting = sum(out[f"dist_{t}"] for t in FORGET_TERMS) / len(FORGET_TERMS)
    return {"distance": forgetting + out[f"dist_{UTILITY_TERM}"], "dist_forgetting": forgetting, **out}
