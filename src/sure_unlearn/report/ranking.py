"""Intervals over seeds for every figure, and a ranking that claims only what paired intervals support.

``summary.json`` carries, beside its runs:

- ``stats``: ``{scenario: {method: {metric: {"mean", "std", "ci_low", "ci_high", "n"}}}}``, the 95%
  t-interval over seeds (:mod:`sure_unlearn.metrics.stats`) of every metric and gap; per-layer values
  (``rep_auc_layers``) appear as ``rep_auc_layers.<layer>``.
- ``ranking``: ``{scenario: [...]}``, every method (and the ``original`` and ``broken`` references) ordered
  by its mean distance to the oracle (:mod:`sure_unlearn.metrics.distance`), each with the paired
  difference to the best method over the seeds both ran and its interval, whether that interval contains
  0 (``tied_with_best``), the number of seeds on which it was best, and whether it is no better than
  ``broken`` (its paired interval against ``broken`` does not lie below 0; with one seed, its distance is
  not below ``broken``'s).

>>> runs = [{"method": m, "scenario": "s", "seed": k, "metrics": {"x": v + k}, "gaps": {"distance": v + 0.1 * k}}
...         for k in range(3) for m, v in (("retrain", 0.0), ("a", 0.2), ("b", 0.5), ("broken", 1.8))]
>>> out = summarise({}, runs)
>>> out["stats"]["s"]["a"]["x"]["mean"], [r["method"] for r in out["ranking"]["s"]]
(1.2, ['a', 'b', 'broken'])
>>> out["ranking"]["s"][1]["tied_with_best"], out["ranking"]["s"][0]["seeds_best"]
(False, 3)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sure_unlearn.metrics.stats import KIND, LEVEL, Interval, interval, paired
from sure_unlearn.protocol.layout import BROKEN, ORACLE, REFERENCES

Runs = Sequence[Mapping[str, Any]]
RANK_KEY = "distance"


def _ok(runs: Runs) -> list[Mapping[str, Any]]:
    return [r for r in runs if r.get("status", "ok") == "ok"]


def flat_values(run: Mapping[str, Any]) -> dict[str, float]:
    """A run's numeric metrics and gaps in one dict: aggregate gaps (``gap_avg``, ``gap_rep``,
    ``distance``, ``dist_<term>``) under their names, per-metric gaps as ``gap.<metric>``, dict-valued
    metrics flattened as ``<metric>.<key>``."""
    out: dict[str, float] = {}
    for k, v in run.get("metrics", {}).items():
        if isinstance(v, Mapping):
            out.update({f"{k}.{layer}": x for layer, x in v.items() if isinstance(x, int | float)})
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[k] = v
    for k, v in run.get("gaps", {}).items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[k if k.startswith(("gap_", "dist")) else f"gap.{k}"] = v
    return out


def stats(runs: Runs) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """scenario → method → metric → interval dict, over the runs that finished."""
    acc: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for r in _ok(runs):
        for k, v in flat_values(r).items():
            acc[r["scenario"]][r["method"]][k].append(v)
    return {
        s: {m: {k: interval(v).to_dict() for k, v in per.items()} for m, per in ms.items()}
        for s, ms in acc.items()
    }


def by_seed(runs: Runs, scenario: str, key: str, part: str = "gaps") -> dict[str, dict[int, float]]:
    """method → seed → the value of ``key`` in each finished run's ``part`` (``gaps`` or ``metrics``) in
    ``scenario``: what :func:`~sure_unlearn.metrics.stats.paired` compares."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for r in _ok(runs):
        v = r.get(part, {}).get(key)
        if r["scenario"] == scenario and isinstance(v, int | float):
            out[r["method"]][int(r["seed"])] = float(v)
    return out


def ranking(runs: Runs, scenario: str, key: str = RANK_KEY) -> list[dict[str, Any]]:
    """One scenario's methods ordered by mean ``key`` (lower is better); see the module docstring."""
    per = by_seed(runs, scenario, key)
    per.pop(ORACLE, None)  # the oracle is the target (distance 0), not a competitor
    candidates = {m: v for m, v in per.items() if m not in REFERENCES}
    if not per:
        return []
    mean = {m: interval(list(v.values())) for m, v in per.items()}
    best = min(candidates or per, key=lambda m: (mean[m].mean, m))
    wins: dict[str, int] = defaultdict(int)
    for seed in sorted({s for v in candidates.values() for s in v}):
        scores = {m: v[seed] for m, v in candidates.items() if seed in v}
        wins[min(scores, key=lambda m: (scores[m], m))] += 1
    rows = []
    for m in sorted(per, key=lambda m: (mean[m].mean, m)):
        diff: Interval = paired(per[m], per[best])
        vs_broken = paired(per[m], per[BROKEN]) if BROKEN in per and m != BROKEN else None
        rows.append(
            {
                "method": m,
                "reference": m in REFERENCES,
                key: mean[m].to_dict(),
                "diff_to_best": diff.to_dict(),
                "best": m == best,
                "tied_with_best": m != best and (diff.n < 2 or diff.contains(0.0)),
                "seeds_best": wins.get(m, 0),
                "no_better_than_broken": vs_broken is not None and _no_better(vs_broken),
            }
        )
    return rows


def _no_better(vs_broken: Interval) -> bool:
    """Whether a method's paired difference to ``broken`` fails to show it better: its interval does not
    lie below 0, or, with one shared seed (no interval), the difference itself is not below 0."""
    if vs_broken.n == 0:
        return True
    if vs_broken.n == 1 or vs_broken.ci_high is None:
        return not vs_broken.mean < 0
    return not vs_broken.ci_high < 0


def summarise(config: Mapping[str, Any], runs: Runs) -> dict[str, Any]:
    """The summary.json document: config, runs, ``stats`` and ``ranking`` blocks, and what they mean."""
    scenarios = list(dict.fromkeys(r["scenario"] for r in runs))
    return {
        "config": dict(config),
        "runs": list(runs),
        "interval": {"kind": KIND, "level": LEVEL, "over": "seeds"},
        "stats": stats(runs),
        "ranking": {s: ranking(runs, s) for s in scenarios},
    }
