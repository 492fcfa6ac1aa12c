"""Rankings a reader can trust: intervals checked by hand, a distance that orders the references right,
ties and the ``broken`` flag, and shards that merge into the same summary as one run."""

from __future__ import annotations

import json
import math

import pytest

from sure_unlearn.metrics.distance import distance
from sure_unlearn.metrics.stats import interval, paired
from sure_unlearn.report.ranking import ranking, stats

K = 10
ORACLE = {"ua": 69.0, "mia_efficacy": 60.0, "rep_mia_knn": 40.0, "rep_mia_linear": 45.0, "rep_auc": 0.47,
          "rep_auc_cond": 0.5, "retain_acc": 100.0, "test_acc": 53.0}  # fmt: skip
ORIGINAL = {"ua": 0.0, "mia_efficacy": 2.0, "rep_mia_knn": 95.0, "rep_mia_linear": 97.0, "rep_auc": 0.97,
            "rep_auc_cond": 0.8, "retain_acc": 100.0, "test_acc": 53.5}  # fmt: skip


def between(t: float) -> dict[str, float]:
    """A model a share ``t`` of the way from the original to the oracle on every metric."""
    return {k: ORIGINAL[k] + t * (ORACLE[k] - ORIGINAL[k]) for k in ORACLE}


# a degenerate model: outputs at chance (its forget accuracy 10%, confidences flat), representations the
# original's (the head was re-initialised, nothing before it changed)
BROKEN = {**ORIGINAL, "ua": 90.0, "mia_efficacy": 95.0, "retain_acc": 10.0, "test_acc": 10.0}


def d(m: dict[str, float]) -> float:
    return distance(m, ORIGINAL, ORACLE, K)["distance"]


def test_t_interval_against_a_hand_computation():
    # values 2, 4, 9: mean 5, s = √13 = 3.60555, t(0.975, 2) = 4.302653, half-width 4.302653·s/√3 = 8.95669
    iv = interval([2.0, 4.0, 9.0, float("nan")])
    assert iv.n == 3 and iv.mean == 5.0 and iv.std == pytest.approx(math.sqrt(13))
    assert iv.ci_low == pytest.approx(5 - 8.95669, abs=1e-4) and iv.ci_high == pytest.approx(
        5 + 8.95669, abs=1e-4
    )
    one = interval([7.0])
    assert (one.mean, one.n, one.ci_low, one.ci_high) == (7.0, 1, None, None)  # no interval from one seed
    # paired: only the seeds both have; differences 1, 2, 4 → mean 7/3
    diff = paired({0: 2.0, 1: 4.0, 2: 9.0, 5: 0.0}, {0: 1.0, 1: 2.0, 2: 5.0, 3: 1.0})
    assert diff.n == 3 and diff.mean == pytest.approx(7 / 3)


def test_distance_orders_oracle_halfway_original_and_broken():
    assert d(ORACLE) == pytest.approx(0.0)
    halfway, original, broken = d(between(0.5)), d(ORIGINAL), d(BROKEN)
    assert halfway == pytest.approx(0.5, abs=0.02)
    assert original == pytest.approx(1.0, abs=0.02)
    # both references are clearly worse than a model halfway between them and the oracle
    assert original > 1.8 * halfway and broken > 1.8 * halfway
    # wrecking the outputs is no unlearning: worse than doing nothing at all
    assert broken > original + 0.5
    # monotone along the path from the original to the oracle
    path = [d(between(t)) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert path == sorted(path, reverse=True)


def test_distance_counts_the_fresh_probe_as_its_own_term():
    """A model whose outputs and membership probes match the oracle but whose representations a fresh
    probe still separates like the original's keeps a third of the forgetting share."""
    leaky = {**ORACLE, "rep_auc": ORIGINAL["rep_auc"], "rep_auc_cond": ORIGINAL["rep_auc_cond"]}
    parts = distance(leaky, ORIGINAL, ORACLE, K)
    assert parts["dist_rep_probe"] == pytest.approx(1.0) and parts["distance"] == pytest.approx(1 / 3)


def test_distance_floors_metrics_on_which_the_original_already_matches_the_oracle():
    """rep_auc 0.58 (original) vs 0.54 (oracle): a 0.04 gap is below the 0.05 floor, so a model at 0.62
    is charged 0.08/0.05, not 0.08/0.04 — and never more than 2."""
    o, g = {**ORACLE, "rep_auc": 0.54}, {**ORIGINAL, "rep_auc": 0.58}
    m = {**o, "rep_auc": 0.62}
    probe_terms = distance(m, g, o, K)["dist_rep_probe"]
    assert probe_terms == pytest.approx((0.08 / 0.05 + 0.0) / 2)
    far = {**o, "rep_auc": 0.99}
    assert distance(far, g, o, K)["dist_rep_probe"] == pytest.approx((2.0 + 0.0) / 2)


def runs_of(per_method: dict[str, list[float]], scenario: str = "s") -> list[dict]:
    return [{"method": m, "scenario": scenario, "seed": k, "metrics": {"x": v}, "gaps": {"distance": v}}
            for m, vals in per_method.items() for k, v in enumerate(vals)]  # fmt: skip


def test_ranking_marks_ties_wins_and_methods_no_better_than_broken():
    runs = runs_of({
        "retrain": [0, 0, 0, 0, 0], "original": [1.0, 1.1, 0.9, 1.0, 1.05], "broken": [1.8, 1.9, 1.7, 1.8, 1.85],
        "a": [0.30, 0.42, 0.35, 0.50, 0.31],  # best on average
        "b": [0.33, 0.40, 0.45, 0.46, 0.36],  # within noise of a: tied
        "c": [0.80, 0.82, 0.78, 0.85, 0.81],  # clearly worse than a
        "d": [1.9, 1.7, 2.0, 1.6, 1.95],  # no better than broken
    })  # fmt: skip
    rows = {r["method"]: r for r in ranking(runs, "s")}
    assert "retrain" not in rows and rows["original"]["reference"] and rows["broken"]["reference"]
    assert rows["a"]["best"] and rows["b"]["tied_with_best"] and not rows["c"]["tied_with_best"]
    assert rows["c"]["diff_to_best"]["ci_low"] > 0
    assert rows["d"]["no_better_than_broken"] and not rows["c"]["no_better_than_broken"]
    assert rows["a"]["seeds_best"] + rows["b"]["seeds_best"] == 5 and rows["a"]["seeds_best"] == 3
    assert [r["method"] for r in ranking(runs, "s")][:2] == ["a", "b"]
    st = stats(runs)["s"]["c"]["distance"]
    assert st["n"] == 5 and st["ci_low"] < st["mean"] < st["ci_high"]


def test_one_seed_flags_only_a_method_whose_distance_is_not_below_brokens():
    runs = runs_of({"retrain": [0], "original": [1.0], "broken": [2.0], "a": [0.2], "d": [2.1]})
    rows = {r["method"]: r for r in ranking(runs, "s")}
    assert not rows["a"]["no_better_than_broken"] and rows["d"]["no_better_than_broken"]
    assert rows["d"]["tied_with_best"]  # one seed: no interval, so no order is claimed against the best


def test_failed_runs_are_left_out_of_intervals_and_rankings():
    runs = runs_of({"retrain": [0, 0, 0], "a": [0.5, 0.6, 0.7]})
    runs.append(
        {
            "method": "a",
            "scenario": "s",
            "seed": 3,
            "metrics": {},
            "gaps": {},
            "status": "failed",
            "error": "DivergenceError: a diverged in epoch 2",
        }
    )
    assert stats(runs)["s"]["a"]["distance"]["n"] == 3
    assert [r["distance"]["n"] for r in ranking(runs, "s")] == [3]


def test_shards_partition_the_runs_and_share_every_method(tmp_path):
    """Four runs per (scenario, seed) on two shards: each shard gets every method on half the groups, not
    one method everywhere (a costly method must not land on one shard)."""
    from collections import Counter

    from sure_unlearn.protocol.benchmark import Benchmark
    from sure_unlearn.protocol.presets import PRESETS

    cfg = PRESETS.get("smoke")().with_overrides(methods=("sure",), seeds=(0, 1, 2, 3))
    plans = [Benchmark(cfg, tmp_path / f"s{i}", shard=(i, 2)).plan() for i in range(2)]
    whole = Benchmark(cfg, tmp_path / "whole").plan()
    assert sorted(plans[0] + plans[1]) == sorted(whole) and not set(plans[0]) & set(plans[1])
    for plan in plans:
        assert Counter(m for _, _, m in plan) == {"original": 2, "retrain": 2, "broken": 2, "sure": 2}


@pytest.mark.slow
def test_two_shards_merged_give_the_summary_of_one_unsharded_run(tmp_path):
    from sure_unlearn.protocol.benchmark import Benchmark
    from sure_unlearn.protocol.presets import PRESETS
    from sure_unlearn.report.merge import merge

    cfg = PRESETS.get("smoke")().with_overrides(methods=("finetune", "grad_ascent", "sure"), seeds=(0, 1))
    cache = tmp_path / "cache"
    whole = Benchmark(cfg, tmp_path / "whole", cache_dir=cache).run()
    plans = []
    for i in range(2):
        b = Benchmark(cfg, tmp_path / f"shard{i}", cache_dir=cache, shard=(i, 2))
        plans.append(b.plan())
        b.run()
    assert not set(plans[0]) & set(plans[1]) and len(plans[0]) + len(plans[1]) == len(
        Benchmark(cfg, tmp_path / "x", cache_dir=cache).plan()
    )
    merged = merge([tmp_path / "shard0", tmp_path / "shard1"], tmp_path / "merged")

    def outcome(summary):
        from sure_unlearn.metrics.core import is_runtime_key

        clean = json.loads(json.dumps(summary, default=float))
        for r in clean["runs"]:
            r["metrics"] = {k: v for k, v in r["metrics"].items() if not is_runtime_key(k)}
        st = {s: {m: {k: v for k, v in per.items() if not is_runtime_key(k)} for m, per in ms.items()}
              for s, ms in clean["stats"].items()}  # fmt: skip
        return clean["runs"], st, clean["ranking"]

    assert outcome(merged) == outcome(whole)
    assert (tmp_path / "merged" / "summary.md").is_file()
    assert (tmp_path / "merged" / "partial_class" / "sure" / "seed1" / "run.json").is_file()

    # a run done again (say, after new tuned values) differs: refused, unless the last directory wins
    from sure_unlearn.errors import DataError

    rerun = tmp_path / "rerun"
    rerun.mkdir()
    later = json.loads((tmp_path / "shard1" / "summary.json").read_text())
    changed = next(r for r in later["runs"] if r["method"] == "sure")
    changed["metrics"]["forget_acc"] = 42.0
    later["runs"] = [changed]
    (rerun / "summary.json").write_text(json.dumps(later))
    parts = [tmp_path / "shard0", tmp_path / "shard1", rerun]
    with pytest.raises(DataError, match="--replace"):
        merge(parts, tmp_path / "refused")
    replaced = merge(parts, tmp_path / "replaced", replace=True)

    def key(r):
        return r["scenario"], r["method"], int(r["seed"])

    got = {key(r): r for r in replaced["runs"]}
    assert got[key(changed)]["metrics"]["forget_acc"] == 42.0
    assert sorted(got) == sorted(key(r) for r in merged["runs"])  # nothing else lost or added
    before = {key(r): r for r in merged["runs"]}
    assert all(got[k] == before[k] for k in got if k != key(changed))
