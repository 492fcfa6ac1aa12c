"""The shadow pipeline end to end on a tiny benchmark built to memorise: U-LiRA and its representation
twin tell a model that memorised D_f (``original``) from one that never saw it (``retrain``), the
challenge score's peakiness guard zeroes the original, the targets and roles have the promised
structure, the confusion scenario's negatives get the swapped labels, and a rerun trains and unlearns
nothing (shadows, retrained models and statistics come from the cache)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import sure_unlearn.attacks.pipeline as pipeline_mod
import sure_unlearn.protocol.benchmark as bench_mod
from sure_unlearn.attacks.challenge import EPSILON_CAP
from sure_unlearn.attacks.pipeline import METRIC_KEYS, ShadowAttacks, balanced_roles, make_targets
from sure_unlearn.data.readers import DATASETS
from sure_unlearn.data.splits import ScenarioConfig, Split
from sure_unlearn.data.types import NO_AUGMENT, DatasetBundle, ImageArrays
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import make_config
from sure_unlearn.models import SplitModel
from sure_unlearn.protocol.benchmark import Benchmark, Prepared
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.train import Recipe, accuracy

M, N_MODELS = 4, 3


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
    attacks = ShadowAttacks(bench, prep, scenario.name, 0, n_shadows=M, n_models=N_MODELS)
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


def test_ulira_separates_a_memorising_model_from_one_that_never_saw_the_data(world):
    orig, _ = world.results["original"]
    retr, _ = world.results["retrain"]
    assert set(METRIC_KEYS) <= set(orig) and set(METRIC_KEYS) <= set(retr)
    for prefix in ("ulira", "rep_lira"):
        assert orig[f"{prefix}_auc"] > 0.8, (prefix, orig)
        assert abs(retr[f"{prefix}_auc"] - 0.5) < 0.2, (prefix, retr)  # 40 + 40 targets: sd ≈ 0.065
        assert orig[f"{prefix}_auc"] - retr[f"{prefix}_auc"] > 0.25
        assert orig[f"{prefix}_tpr_1fpr"] > retr[f"{prefix}_tpr_1fpr"]
    for m in (orig, retr):
        assert all(0 <= m[k] <= 1 for k in METRIC_KEYS)


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
    test_y = world.bench.data.test.y
    assert a["labels"].tolist() == [1] * 40 + [0] * 40
    assert (a["from_test"] == (a["labels"] == 0)).all()
    assert sorted(a["idx"][a["labels"] == 1]) == sorted(split.forget)
    neg = a["idx"][a["from_test"]]
    assert (
        len(set(neg)) == 40
        and np.bincount(test_y[neg], minlength=4).tolist()
        == np.bincount(world.bench.data.train.y[split.forget], minlength=4).tolist()
    )
    assert a["roles"].shape == (M, 80) and (a["roles"].sum(0) == M // 2).all()
    for key in ("score_ulira", "score_rep_lira", "target_phi", "target_rep"):
        assert a[key].shape == (80,) and np.isfinite(a[key]).all()
    assert a["shadow_phi"].shape == (M, 80) and a["eps"].shape == (40,)
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

    monkeypatch.setattr(bench_mod, "fit", no_training)
    monkeypatch.setattr(pipeline_mod, "run_method", counting_run_method)
    again = ShadowAttacks(world.bench, world.prep, "random", 0, n_shadows=M, n_models=N_MODELS)
    for method in ("original", "retrain", "finetune"):
        cfg = make_config(method, {"epochs": 1}) if method == "finetune" else None
        metrics, arrays = again.run(method, None, cfg, world.original, world.oracle)
        before, before_arrays = world.results[method]
        for k in METRIC_KEYS:
            assert metrics[k] == pytest.approx(before[k]), (method, k)
        np.testing.assert_allclose(arrays["shadow_phi"], before_arrays["shadow_phi"])
    assert calls == [
        "finetune"
    ]  # only the target run itself (not handed over here); no shadow, no seed j ≥ 1


def test_confusion_negatives_carry_the_swapped_labels(tmp_path):
    w = build(tmp_path, ScenarioConfig("confusion", fraction=0.2, classes=(0, 3)), ("original",))
    t = w.attacks.targets
    test_y = w.bench.data.test.y
    swapped = {0: 3, 3: 0}
    assert [swapped[c] for c in test_y[t.idx[t.from_test]]] == t.y[t.from_test].tolist()
    assert (t.y[~t.from_test] == w.prep.split.labels[t.idx[~t.from_test]]).all()
    metrics, _ = w.results["original"]
    assert metrics["ulira_auc"] > 0.9  # a memorised wrong label is the loudest membership signal


def test_bad_settings_are_refused(world):
    with pytest.raises(ConfigError, match="even"):
        ShadowAttacks(world.bench, world.prep, "random", 0, n_shadows=3)
    with pytest.raises(ConfigError, match="at least 3"):
        ShadowAttacks(world.bench, world.prep, "random", 0, n_models=2)


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


def test_model_digest_hashes_batchnorm_models_by_content(tiny_model):
    import copy

    from sure_unlearn.attacks.pipeline import model_digest

    twin = copy.deepcopy(tiny_model)
    assert model_digest(twin) == model_digest(tiny_model)
    with torch.no_grad():
        next(twin.parameters()).add_(1e-3)
    assert model_digest(twin) != model_digest(tiny_model)
