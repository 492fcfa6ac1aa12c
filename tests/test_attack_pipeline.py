"""The shadow pipeline end to end on a tiny benchmark built to memorise: U-LiRA, RMIA and their
representation twins tell a model that memorised D_f (``original``) from one that never saw it
(``retrain``), the challenge score's peakiness guard zeroes the original, the never-seen targets come
from data no model trains on first and in D_f's class proportions, the targets and roles have the
promised structure, the confusion scenario's negatives get the swapped labels, and a rerun trains and
unlearns nothing (shadows, retrained models and statistics come from the cache)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

import sure_unlearn.attacks.pipeline as pipeline_mod
import sure_unlearn.protocol.benchmark as bench_mod
import sure_unlearn.protocol.references as refs_mod
from sure_unlearn.attacks import ATTACK_METRICS
from sure_unlearn.attacks.challenge import EPSILON_CAP, point_levels
from sure_unlearn.attacks.pipeline import METRIC_KEYS, ShadowAttacks, balanced_roles, make_targets
from sure_unlearn.data.readers import DATASETS
from sure_unlearn.data.splits import ScenarioConfig, Split
from sure_unlearn.data.types import NO_AUGMENT, DatasetBundle, ImageArrays
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import make_config
from sure_unlearn.models import SplitModel
from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.config import AttackConfig, BenchmarkConfig
from sure_unlearn.protocol.references import Prepared
from sure_unlearn.train import Recipe, accuracy

M, N_MODELS = 4, 3
NONMEMBERS = 120  # ≥ 100: TPR at 1% FPR is resolved, at 0.1% it is not


def noisy_blobs(root=None, cache_dir=None, n_train=240, n_test=240):
    """4 classes of 8×8 grey images: weak class means under strong noise. An MLP fits the 200 training
    images perfectly but reaches only ≈ 85% test accuracy, so each training image is memorised."""
    rng = np.random.default_rng(0)
    means = rng.normal(0, 1, (4, 8, 8, 1))

    def draw(n: int) -> ImageArrays:
        y = np.arange(n) % 4
        x = 128 + 30 * (0.3 * means[y] + rng.normal(0, 1, (n, 8, 8, 1)))
        return ImageArrays(np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64))

    return DatasetBundle("noisy_blobs", draw(n_train), draw(n_test), tuple("abcd"), augment=NO_AUGMENT)


@dataclass
class World:
    bench: Benchmark
    prep: Prepared
    original: SplitModel
    oracle: SplitModel
    attacks: ShadowAttacks
    results: dict[str, tuple[dict[str, float], dict[str, np.ndarray]]]


def make_bench(tmp, scenario: ScenarioConfig) -> Benchmark:
    cfg = BenchmarkConfig(
        name="attacks",
        dataset="noisy_blobs",
        model="mlp",
        model_kwargs={"hidden": 128},
        recipe=Recipe(epochs=30, lr=0.05, batch_size=32, augment=False),
        train_subset=200,  # 40 training and 40 test images that no model trains on or is evaluated on,
        test_subset=200,
        pool_size=0,  # no held-out pool for SURE here (the pool is never an attack target: tested below)
        scenarios={scenario.name: scenario},
        methods=("finetune",),
        seeds=(0,),
    )
    with pytest.MonkeyPatch.context() as mp:  # the dataset exists only while the benchmark loads it
        mp.setitem(DATASETS._items, "noisy_blobs", noisy_blobs)
        return Benchmark(cfg, tmp / "out", cache_dir=tmp / "cache")


def build(tmp, scenario: ScenarioConfig, methods: tuple[str, ...]) -> World:
    bench = make_bench(tmp, scenario)
    prep = bench.prepare(scenario.name, 0)
    s = prep.split
    original, _ = bench.trained("original", 0, s.train, s.labels, prep.train_sets["train"])
    oracle, _ = bench.trained("retrain", 0, s.retain, s.labels, prep.train_sets["retain"])
    attacks = ShadowAttacks(
        bench.models, prep, scenario.name, 0, n_shadows=M, n_models=N_MODELS, n_nonmembers=NONMEMBERS
    )
    results = {}
    for method in methods:
        cfg = make_config(method, {"epochs": 1}) if method == "finetune" else None
        target = oracle if method == "retrain" else None
        results[method] = attacks.run(method, target, cfg, original, oracle)
    return World(bench, prep, original, oracle, attacks, results)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return build(
        tmp_path_factory.mktemp("attacks"),
        ScenarioConfig("random", n=40),
        ("original", "retrain", "finetune"),
    )


def test_the_original_memorised_its_training_set(world):
    assert accuracy(world.original, world.prep.train_sets["train"]) == 100.0
    assert accuracy(world.original, world.prep.sets["test"]) < 95.0


def test_ulira_and_rmia_separate_a_memorising_model_from_one_that_never_saw_the_data(world):
    orig, _ = world.results["original"]
    retr, _ = world.results["retrain"]
    assert set(METRIC_KEYS) <= set(orig) and set(METRIC_KEYS) <= set(retr)
    for prefix in ("ulira", "rep_lira", "rmia", "rep_rmia"):
        assert orig[f"{prefix}_auc"] > 0.8, (prefix, orig)
        assert abs(retr[f"{prefix}_auc"] - 0.5) < 0.2, (prefix, retr)  # 40 + 120 targets: sd ≈ 0.05
        assert orig[f"{prefix}_auc"] - retr[f"{prefix}_auc"] > 0.25
        assert orig[f"{prefix}_tpr_1fpr"] > retr[f"{prefix}_tpr_1fpr"]
    for m in (orig, retr):
        rates = [k for k in METRIC_KEYS if k.endswith(("_auc", "_tpr_1fpr")) or k == "forget_score"]
        assert all(0 <= m[k] <= 1 for k in rates)


def test_tpr_below_one_negative_is_null_and_the_resolution_is_recorded(world):
    for method, (metrics, arrays) in world.results.items():
        assert metrics["attack_n_nonmembers"] == NONMEMBERS == int(np.sum(arrays["labels"] == 0))
        for prefix in ("ulira", "rep_lira", "rmia", "rep_rmia"):  # 1/120 > 0.1%: not measurable
            assert metrics[f"{prefix}_tpr_01fpr"] is None, (method, prefix)
            assert isinstance(metrics[f"{prefix}_tpr_1fpr"], float)
        assert metrics["forget_score_levels"] == len(point_levels(N_MODELS, N_MODELS)) == 3
        json.loads(json.dumps(metrics, allow_nan=False))  # valid JSON: no NaN literal
        assert set(metrics) - {"attacks_s"} == set(ATTACK_METRICS)  # `sure list metrics` names them all


def test_list_metrics_names_the_attack_metrics(capsys):
    from sure_unlearn.cli import main

    assert main(["list", "metrics"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert {"rep_auc", "rmia_auc", "rmia_tpr_1fpr", "rep_rmia_auc", "forget_score_levels"} <= listed


def test_list_metrics_says_what_each_table_metric_measures_beyond_its_header(capsys):
    from sure_unlearn.cli import main
    from sure_unlearn.metrics.info import infos

    assert main(["list", "metrics"]) == 0
    text = {
        line.split()[0]: line.split(None, 2)[2]
        for line in capsys.readouterr().out.splitlines()
        if line.strip()
    }
    described = {m.key for m in infos() if m.table is not None} | set(ATTACK_METRICS)
    for m in infos():
        if m.key in described:
            assert text[m.key] != m.label and len(text[m.key]) > len(m.label) + 10, m.key
    assert "margin" in text["rep_auc_cond"] and "Zarifzadeh" in text["rmia_tpr_1fpr"]


def test_attack_table_shows_unresolved_rates_levels_and_resolution():
    from sure_unlearn.report.tables import attack_table

    def run(method: str, seed: int, auc: float) -> dict:
        metrics = {"rmia_auc": auc, "rmia_tpr_1fpr": None, "ulira_tpr_1fpr": 0.25 + seed / 10,
                   "forget_score": 0.5, "forget_score_levels": 4, "attack_n_nonmembers": 50}  # fmt: skip
        return {"method": method, "scenario": "s", "seed": seed, "metrics": metrics, "gaps": {}}

    text = attack_table([run(m, s, 0.5 + s / 10) for m in ("original", "retrain") for s in (0, 1)], "s")
    row = next(line for line in text.splitlines() if line.startswith("| original"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    head = [c.strip() for c in text.splitlines()[0].strip("|").split("|")]
    got = dict(zip(head, cells, strict=True))
    # two seeds: ± is the 95% t half-width, t(0.975, 1) · s/√2 = 12.706 · 0.0707 / 1.414 = 0.635
    assert got["RMIA TPR@1%"] == "—" and got["RMIA AUC"] == "0.550 ± 0.635"
    assert got["U-LiRA TPR@1%"] == "0.300 ± 0.635" and got["forget score"] == "0.500 ± 0.000 [4 levels]"
    assert "Never-seen targets per run: 50" in text and "too coarse for TPR@1%" in text


def test_challenge_score_is_zero_for_the_original_and_positive_for_the_oracle(world):
    orig, arrays = world.results["original"]
    assert orig["forget_score"] == 0.0 and (arrays["eps"] == EPSILON_CAP).all()  # the peakiness guard
    assert np.ptp(arrays["challenge_unlearned_phi"], axis=0).max() == 0  # N copies of the original
    retr, r_arrays = world.results["retrain"]
    assert retr["forget_score"] > 0.1
    # the oracle's two halves: R_0..R_{N-1} (R_0 = the benchmark's oracle) against R_N..R_{2N-1}
    assert (
        r_arrays["challenge_unlearned_phi"].shape
        == r_arrays["challenge_retrained_phi"].shape
        == (N_MODELS, 40)
    )
    assert not np.allclose(r_arrays["challenge_unlearned_phi"], r_arrays["challenge_retrained_phi"])


def test_arrays_describe_balanced_targets_and_roles(world):
    _, a = world.results["finetune"]
    split = world.prep.split
    train_y, test_y = world.bench.data.train.y, world.bench.data.test.y
    n = 40 + NONMEMBERS
    assert a["labels"].tolist() == [1] * 40 + [0] * NONMEMBERS
    assert not a["from_test"][:40].any() and sorted(a["idx"][:40]) == sorted(split.forget)
    neg_y = true_labels(a["idx"], a["from_test"], train_y, test_y)[40:]
    assert (  # three never-seen targets per forgotten one, class by class
        np.bincount(neg_y, minlength=4).tolist()
        == (3 * np.bincount(train_y[split.forget], minlength=4)).tolist()
    )
    keys = set(zip(a["from_test"][40:].tolist(), a["idx"][40:].tolist(), strict=True))
    assert len(keys) == NONMEMBERS
    assert (np.diff(a["from_test"].astype(int)) >= 0).all()  # train-split targets first (the row order)
    # never seen: no negative is in the training pool; evaluation images only once a class's unused run out
    neg_train, neg_test = a["idx"][40:][~a["from_test"][40:]], a["idx"][40:][a["from_test"][40:]]
    assert len(neg_train) and not np.isin(neg_train, np.r_[split.train, split.holdout, split.pool]).any()
    unused_test = np.setdiff1d(np.arange(len(test_y)), split.test)
    for c in np.unique(train_y[split.forget]):
        evaluated = np.isin(neg_test[test_y[neg_test] == c], split.test)
        if evaluated.any():
            assert np.isin(unused_test[test_y[unused_test] == c], neg_test).all()
    assert a["roles"].shape == (M, n) and (a["roles"].sum(0) == M // 2).all()
    for key in ("score_ulira", "score_rep_lira", "score_rmia", "score_rep_rmia", "target_phi", "target_rep"):
        assert a[key].shape == (n,) and np.isfinite(a[key]).all()
    assert a["shadow_phi"].shape == (M, n) and a["eps"].shape == (40,)
    assert (a["forget_idx"] == split.forget).all()


def test_a_method_is_scored_from_its_own_unlearned_shadows(world):
    ft, a = world.results["finetune"]
    _, orig = world.results["original"]
    assert ft["forget_score"] >= 0 and set(METRIC_KEYS) <= set(ft)
    assert not np.allclose(a["shadow_phi"], orig["shadow_phi"])  # the shadows were fine-tuned


def test_rerun_trains_and_unlearns_nothing(world, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a cached shadow or retrained model was trained again")

    calls: list[str] = []

    def counting_run_method(name, *args, **kwargs):
        calls.append(name)
        return bench_mod.run_method(name, *args, **kwargs)

    monkeypatch.setattr(refs_mod, "fit", no_training)
    monkeypatch.setattr(pipeline_mod, "run_method", counting_run_method)
    again = ShadowAttacks(
        world.bench.models, world.prep, "random", 0, n_shadows=M, n_models=N_MODELS, n_nonmembers=NONMEMBERS
    )
    for method in ("original", "retrain", "finetune"):
        cfg = make_config(method, {"epochs": 1}) if method == "finetune" else None
        metrics, arrays = again.run(method, None, cfg, world.original, world.oracle)
        before, before_arrays = world.results[method]
        for k in METRIC_KEYS:
            assert metrics[k] == (None if before[k] is None else pytest.approx(before[k])), (method, k)
        np.testing.assert_allclose(arrays["shadow_phi"], before_arrays["shadow_phi"])
    assert calls == [
        "finetune"
    ]  # only the target run itself (not handed over here); no shadow, no seed j ≥ 1


@pytest.fixture
def passes(monkeypatch) -> list[int]:
    """The sizes of the evaluation passes the pipeline makes from here on."""
    sizes: list[int] = []
    real_collect = pipeline_mod.collect

    def counting_collect(model, data, *args, **kwargs):
        sizes.append(len(data))
        return real_collect(model, data, *args, **kwargs)

    monkeypatch.setattr(pipeline_mod, "collect", counting_collect)
    return sizes


def with_one_more_model(world) -> ShadowAttacks:
    return ShadowAttacks(
        world.bench.models,
        world.prep,
        "random",
        0,
        n_shadows=M,
        n_models=N_MODELS + 1,
        n_nonmembers=NONMEMBERS,
    )


def test_a_challenge_run_evaluates_only_the_forget_set(world, passes):
    """The challenge score reads φ on D_f alone: an extra challenge run (N = 4 where the world used 3)
    costs one pass over D_f, not the targets and class-mean passes a shadow needs, and the runs already
    cached give the same φ as before."""
    more = with_one_more_model(world)
    _, arrays = more.run(
        "finetune", None, make_config("finetune", {"epochs": 1}), world.original, world.oracle
    )
    n_targets, n_ref, n_forget = len(more.targets), len(more.reference), len(more.forget_eval)
    # the target model's full statistics, then challenge run j = 3 on D_f only (R_3 and the shadows are cached)
    assert passes == [n_targets, n_ref, n_forget, n_forget]
    before = world.results["finetune"][1]["challenge_unlearned_phi"]
    np.testing.assert_allclose(arrays["challenge_unlearned_phi"][:N_MODELS], before)
    assert arrays["challenge_unlearned_phi"].shape == (N_MODELS + 1, n_forget)


def test_retrained_models_beyond_the_shadows_are_evaluated_only_on_the_forget_set(world, passes):
    """R_1..R_M are the oracle's shadows and need every statistic; R_k for k > M serve the forget score
    alone. The oracle with N = 4 (R_0..R_7, where the world used R_0..R_5) costs the oracle's own full
    statistics and one pass over D_f for each of R_6 and R_7, and gives the cached models' φ as before."""
    more = with_one_more_model(world)
    _, arrays = more.run("retrain", world.oracle, None, world.original, world.oracle)
    n_targets, n_ref, n_forget = len(more.targets), len(more.reference), len(more.forget_eval)
    assert passes == [n_targets, n_ref, n_forget, n_forget, n_forget]
    before = world.results["retrain"][1]
    n = N_MODELS
    np.testing.assert_allclose(arrays["challenge_unlearned_phi"][:n], before["challenge_unlearned_phi"])
    np.testing.assert_allclose(
        arrays["challenge_retrained_phi"][: n - 1], before["challenge_retrained_phi"][1:]
    )
    assert arrays["challenge_retrained_phi"].shape == (n + 1, n_forget)


def test_confusion_negatives_carry_the_swapped_labels(tmp_path):
    w = build(tmp_path, ScenarioConfig("confusion", fraction=0.2, classes=(0, 3)), ("original",))
    t = w.attacks.targets
    data = w.bench.data
    true_y = true_labels(t.idx, t.from_test, data.train.y, data.test.y)
    swapped = {0: 3, 3: 0}
    neg = t.labels == 0
    assert (~t.from_test[neg]).any() and t.from_test[neg].any()  # negatives from both splits
    assert [swapped[c] for c in true_y[neg]] == t.y[neg].tolist()
    assert (t.y[~neg] == w.prep.split.labels[t.idx[~neg]]).all() and (t.y[~neg] != true_y[~neg]).all()
    metrics, arrays = w.results["original"]
    assert metrics["ulira_auc"] > 0.9  # a memorised wrong label is the loudest membership signal
    assert metrics["rmia_auc"] > 0.9


def test_bad_settings_are_refused(world):
    with pytest.raises(ConfigError, match="even"):
        ShadowAttacks(world.bench.models, world.prep, "random", 0, n_shadows=3)
    with pytest.raises(ConfigError, match="at least 3"):
        ShadowAttacks(world.bench.models, world.prep, "random", 0, n_models=2)


def test_targets_follow_the_forget_classes_and_shrink_to_what_the_test_split_has():
    y_train = np.repeat(np.arange(3), 10)
    y_test = np.r_[np.zeros(2, int), np.ones(10, int), np.full(10, 2)]
    forget = np.r_[0, 1, 2, 3, 10, 11]  # four of class 0 (the test split has 2), two of class 1
    split = Split(
        "random",
        0,
        np.arange(30),
        forget,
        np.setdiff1d(np.arange(30), forget),
        np.array([], int),
        np.array([], int),
        np.arange(22),
        y_train.copy(),
    )
    t = make_targets(split, y_train, y_test, seed=0)
    assert t.labels.tolist() == [1] * 4 + [0] * 4
    assert sorted(y_train[t.idx[~t.from_test]]) == sorted(y_test[t.idx[t.from_test]]) == [0, 0, 1, 1]
    assert set(t.idx[~t.from_test]) <= set(forget)
    r = balanced_roles(len(t), 6, seed=0)
    assert (r.sum(0) == 3).all() and not (r == r[:, :1]).all()  # balanced, and not one pattern for all


def subset_world(scenario: ScenarioConfig):
    """10 classes: 1,000 training images of which a pool of 300 is used, 500 test images of which 200 are
    evaluated (the ``cpu`` preset's shape, scaled down)."""
    from sure_unlearn.data.splits import make_split

    y_train, y_test = np.arange(1000) % 10, np.arange(500) % 10
    split = make_split(y_train, y_test, tuple("abcdefghij"), scenario, 0, train_subset=300, test_subset=200)
    return split, y_train, y_test


def negatives(t) -> tuple[np.ndarray, np.ndarray]:
    """The never-seen targets' indices into the train split and into the test split."""
    neg = t.labels == 0
    return t.idx[neg & ~t.from_test], t.idx[neg & t.from_test]


def true_labels(
    idx: np.ndarray, from_test: np.ndarray, y_train: np.ndarray, y_test: np.ndarray
) -> np.ndarray:
    return np.array([(y_test if ft else y_train)[i] for i, ft in zip(idx, from_test, strict=True)], dtype=int)


def test_never_seen_targets_come_from_data_no_model_uses():
    split, y_train, y_test = subset_world(ScenarioConfig("partial_class", n=10, cls=3))
    t = make_targets(split, y_train, y_test, seed=0, n_nonmembers=100)
    from_train, from_test = negatives(t)
    assert t.labels.tolist() == [1] * 10 + [0] * 100 and t.n_nonmembers == 100
    assert set(y_train[from_train]) == set(y_test[from_test]) == {3}  # the forget class only
    assert not np.isin(from_train, np.r_[split.train, split.holdout]).any()  # not trained on, not val
    assert not np.isin(from_test, split.test).any()  # not evaluated on either: 70 + 30 unused suffice
    assert len(from_train) == 70 and len(from_test) == 30
    assert len(set(from_train)) == 70 and len(set(from_test)) == 30
    again = make_targets(split, y_train, y_test, seed=0, n_nonmembers=100)
    assert (again.idx == t.idx).all()  # seeded
    # asking for more than the unused data holds takes the evaluation images too, and then stops
    more = make_targets(split, y_train, y_test, seed=0, n_nonmembers=1000)
    from_train, from_test = negatives(more)
    assert more.n_nonmembers == 70 + 30 + 20 and np.isin(split.test[y_test[split.test] == 3], from_test).all()
    assert (more.labels == 1).sum() == 10  # every forgotten example is still a target


def test_never_seen_targets_keep_the_forget_set_class_proportions():
    split, y_train, y_test = subset_world(ScenarioConfig("random", n=40))
    f_counts = np.bincount(y_train[split.forget], minlength=10)
    t = make_targets(split, y_train, y_test, seed=1, n_nonmembers=200)
    neg_y = true_labels(t.idx, t.from_test, y_train, y_test)[t.labels == 0]
    assert (np.bincount(neg_y, minlength=10) == 5 * f_counts).all()
    # capped by the scarcest class: every class gets the same number per forgotten example
    capped = make_targets(split, y_train, y_test, seed=1, n_nonmembers=100_000)
    neg_y = true_labels(capped.idx, capped.from_test, y_train, y_test)[capped.labels == 0]
    per = np.bincount(neg_y, minlength=10)[f_counts > 0] / f_counts[f_counts > 0]
    assert np.ptp(per) < 1 and capped.n_nonmembers > 200
    with pytest.raises(ConfigError, match="nonmembers"):
        AttackConfig(shadows=4, nonmembers=0).validate()


def test_each_attack_names_the_models_it_used_by_their_weights(world):
    from sure_unlearn.protocol.checkpoints import weights_digest

    _, arrays = world.results["finetune"]
    used = dict(zip(arrays["models"].tolist(), arrays["weights"].tolist(), strict=True))
    assert set(used) == {f"shadow{m}" for m in range(M)} | {"original"} | {
        "retrain",
        *(f"shadow_retrain{k}" for k in range(1, N_MODELS)),
    }
    assert used["original"] == weights_digest(world.original) and used["retrain"] == weights_digest(
        world.oracle
    )
    assert used["shadow0"] == weights_digest(world.attacks.shadow(0)[0])
    _, oracle_arrays = world.results["retrain"]  # the oracle is scored against retrained models only
    assert not any(
        name.startswith("shadow") and name[6:].isdigit() for name in oracle_arrays["models"].tolist()
    )


def test_a_shadow_retrained_with_other_weights_gets_fresh_statistics(world, tmp_path):
    """The model cache's key names what a shadow is trained from; retrained by changed code it can hold
    other weights, and statistics cached for the old weights must not be reused for it."""
    import shutil

    models = world.bench.models
    cache = tmp_path / "cache"
    shutil.copytree(models.cache_dir, cache)
    other = type(models)(models.cfg, models.data, models.device, cache)
    model, _ = world.attacks.shadow(0)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)  # other weights under the same key
    key = other.key(pipeline_mod.derived_seed("shadow", 0, 0), *_shadow_training(world, 0))
    assert other.cache.path("shadow", key).exists()
    other.cache.save("shadow", key, model, {"kind": "shadow", "key": key})
    again = ShadowAttacks(
        other, world.prep, "random", 0, n_shadows=M, n_models=N_MODELS, n_nonmembers=NONMEMBERS
    )
    _, arrays = again.run("original", None, None, world.original, world.oracle)
    before = world.results["original"][1]
    assert not np.allclose(arrays["shadow_phi"][0], before["shadow_phi"][0])  # recomputed on the new weights
    np.testing.assert_allclose(arrays["shadow_phi"][1:], before["shadow_phi"][1:])  # the others are unchanged
    assert (
        arrays["weights"][arrays["models"].tolist().index("shadow0")]
        != before["weights"][before["models"].tolist().index("shadow0")]
    )


def _shadow_training(world, m):
    """(training indices, labels over train ⧺ test) of shadow ``m``, as the pipeline keys it."""
    a = world.attacks
    rows = np.flatnonzero(a.roles[m] == 1)
    return np.r_[world.prep.split.retain, a._key_idx[rows]], a._labels_all


def test_never_seen_targets_exclude_the_held_out_pool():
    """A method may see the split's held-out pool (SURE's heldout_pool): no pool image is ever a never-seen
    attack target, and the targets still come from unused images first."""
    from sure_unlearn.data.splits import make_split

    y_train, y_test = np.arange(400) % 4, np.arange(200) % 4
    split = make_split(
        y_train,
        y_test,
        ("a", "b", "c", "d"),
        ScenarioConfig("partial_class", n=20, cls=1),
        0,
        train_subset=200,
        test_subset=100,
        pool_size=30,
    )
    assert len(split.pool) == 30 and (y_train[split.pool] == 1).all()  # of the 50 unused class-1 images
    t = make_targets(split, y_train, y_test, seed=0, n_nonmembers=60)
    neg_train = t.idx[(t.labels == 0) & ~t.from_test]
    assert len(neg_train) and not np.isin(neg_train, np.r_[split.pool, split.train, split.holdout]).any()
