"""The result digests in benchmarks/ on summaries with known answers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from sure_unlearn.metrics.stats import interval

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summary(values: dict[str, dict[str, list[float]]]) -> dict:
    """A one-scenario summary.json from method → metric → per-seed values."""
    runs = [
        {"scenario": "random", "method": m, "seed": s, "metrics": {k: v[s] for k, v in per.items()}}
        for m, per in values.items()
        for s in range(3)
    ]
    stats = {m: {k: interval(v).to_dict() for k, v in per.items()} for m, per in values.items()}
    return {"config": {"methods": list(values)}, "runs": runs, "stats": {"random": stats}}


def test_attacks_digest_marks_only_what_differs_from_the_oracle_on_paired_seeds():
    digest = _script("attacks_digest")
    oracle = [0.50, 0.56, 0.47]
    summary = _summary(
        {
            "retrain": {"ulira_auc": oracle, "rmia_auc": oracle, "attacks_s": [60.0, 60.0, 60.0]},
            # far above the oracle on every seed: marked, and listed
            "original": {"ulira_auc": [0.97, 0.98, 0.96], "rmia_auc": [0.95, 0.97, 0.96]},
            # the oracle plus a constant 0.01: the paired interval is a point above 0, so it is marked,
            # although the unpaired intervals overlap almost entirely
            "shifted": {"ulira_auc": [v + 0.01 for v in oracle], "rmia_auc": oracle},
            # the oracle's values in another seed order: the means agree, the pairs do not
            "shuffled": {"ulira_auc": [0.56, 0.47, 0.50], "rmia_auc": oracle},
        }
    )
    rows = {line.split(" | ")[0].strip("| "): line for line in digest.digest(summary).splitlines()}
    assert rows["original"].count("▲") == 2 and rows["original"].endswith("| ulira, rmia |")
    assert rows["shifted"].count("▲") == 1 and rows["shifted"].endswith("| ulira |")
    assert (
        "▲" not in rows["shuffled"] and "▼" not in rows["shuffled"] and rows["shuffled"].endswith("| none |")
    )
    assert rows["retrain"].endswith("| ref |") and "| 1.0 |" in rows["retrain"]  # 60 s of attacks = 1.0 min
    # one seed shared with the oracle is no test: said so, not reported as "none"
    summary["runs"] = [r for r in summary["runs"] if r["method"] != "retrain" or r["seed"] == 0]
    rows = {line.split(" | ")[0].strip("| "): line for line in digest.digest(summary).splitlines()}
    assert rows["original"].endswith("| untested: 1 seed(s) shared with the oracle |")
    assert "▲" not in rows["original"]


def test_shadow_trim_reproduces_the_recorded_attack_and_keeps_k_shadows_per_side(tmp_path):
    trim = _script("shadow_trim")
    rng = np.random.default_rng(0)
    n, m = 200, 6
    labels = np.arange(n) % 2
    roles = np.array([rng.permutation(np.r_[np.ones(3, int), np.zeros(3, int)]) for _ in range(n)]).T
    # a method that leaves a trace of +1 on what it unlearned: every attack sees it, with 6 shadows or 4
    a = {
        "labels": labels,
        "roles": roles,
        "target_phi": rng.normal(labels, 0.5),
        "target_rep": rng.normal(labels, 0.5),
        "shadow_phi": rng.normal(roles, 0.5),
        "shadow_rep": rng.normal(roles, 0.5),
    }
    run = tmp_path / "random" / "finetune" / "seed0"
    run.mkdir(parents=True)
    np.savez(run / "attacks.npz", **a)
    recorded = trim.aucs(a, roles)
    doc = {"method": "finetune", "scenario": "random", "seed": 0, "metrics": recorded}
    (run / "run.json").write_text(json.dumps(doc))
    r = trim.measure(run, per_side=2, draws=5)
    assert r["full"] == recorded and r["shadows"] == m
    assert all(v > 0.8 for v in r["trim_mean"].values())  # 4 shadows still see a +1 trace at σ 0.5
    assert all(0 < v < 0.1 for v in r["trim_max_dev"].values())  # dropping shadows changes the scores
    kept = trim.trimmed_roles(roles, 2, rng)
    assert ((kept == 1).sum(axis=0) == 2).all() and ((kept == 0).sum(axis=0) == 2).all()
    assert ((kept == -1) | (kept == roles)).all()  # a kept shadow keeps its role
    (run / "run.json").write_text(json.dumps({**doc, "metrics": {**recorded, "rmia_auc": 0.5}}))
    with pytest.raises(SystemExit, match="not the same attack"):
        trim.measure(run, per_side=2, draws=1)


def test_heldout_digest_judges_the_random_gap_targets_on_the_best_methods_interval_and_not_on_one_seed():
    digest = _script("heldout_digest")
    common = {"test_acc": [80.0, 80.0, 80.0], "val_acc": [70.0, 70.0, 70.0], "rep_auc": [0.5, 0.5, 0.5]}
    values = {
        "original": {**common, "gap_avg": [9.0, 9.0, 9.0], "gap_rep": [9.0, 9.0, 9.0]},
        "retrain": {**common, "gap_avg": [0.0, 0.0, 0.0], "gap_rep": [0.0, 0.0, 0.0]},
        # the best on both gaps: gap_avg 2 with 95% interval [−0.48, 4.48], gap_rep 1 ± 0
        "scrub": {**common, "gap_avg": [1.0, 2.0, 3.0], "gap_rep": [1.0, 1.0, 1.0]},
        # inside scrub's gap_avg interval, outside its gap_rep one
        "sure_plus": {**common, "gap_avg": [4.0, 4.0, 4.0], "gap_rep": [3.0, 3.0, 3.0]},
    }

    def verdicts(summary: dict) -> dict[str, str]:
        rows = [line.split(" | ") for line in digest.targets(summary, "random") if line.startswith("| gap")]
        return {r[0].strip("| ").split()[0]: r[1] for r in rows}

    summary = _summary(values)
    for run in summary["runs"]:
        run["status"] = "ok"
    ranked = ("scrub", "sure_plus")
    summary["ranking"] = {
        "random": [
            {
                "method": m,
                "reference": m not in ranked,
                "best": m == "scrub",
                "tied_with_best": m in ranked,
                "distance": {"mean": 1.0},
                "diff_to_best": {"mean": 0.0, "ci_low": None, "ci_high": None},
            }
            for m in values
        ]
    }
    assert verdicts(summary) == {"gap_avg": "yes", "gap_rep": "no"}
    # the same means on one seed: no interval, so neither target is judged
    summary["stats"]["random"] = {
        m: {k: interval([np.mean(v)]).to_dict() for k, v in per.items()} for m, per in values.items()
    }
    untested = "untested (one seed: no interval)"
    assert verdicts(summary) == {"gap_avg": untested, "gap_rep": untested}
