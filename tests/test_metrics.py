"""Known-answer tests for the metrics: each would fail if a metric were wrong or constant."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import ArrayLike

from sure_unlearn.errors import UnknownNameError
from sure_unlearn.metrics import (
    METRICS,
    EvalInputs,
    MetricInputError,
    SplitOutputs,
    accuracy,
    evaluate_metrics,
    gaps,
    mia_efficacy,
    mia_loss,
    rep_auc,
    rep_mia_knn,
    rep_mia_linear,
)

K, D = 10, 16


def split(
    logits: np.ndarray | None = None, z: np.ndarray | None = None, y: ArrayLike | None = None
) -> SplitOutputs:
    """A split with the given arrays; the missing ones are zeros (labels: class 0)."""
    n = len(np.asarray(y)) if y is not None else len(logits) if logits is not None else len(z)  # type: ignore[arg-type]
    return SplitOutputs(
        logits=np.zeros((n, K), np.float32) if logits is None else logits.astype(np.float32),
        z=np.zeros((n, D), np.float32) if z is None else z.astype(np.float32),
        y=np.zeros(n, np.int64) if y is None else np.asarray(y, np.int64),
        idx=np.arange(n, dtype=np.int64),
    )


def logits_with_confidence(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logits whose softmax gives p_y = p on the true class and (1 − p)/(K − 1) on each other class."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    out = np.tile(np.log((1 - p) / (K - 1))[:, None], (1, K))
    out[np.arange(len(y)), y] = np.log(p)
    return out


def conf_split(p: np.ndarray, rng: np.random.Generator) -> SplitOutputs:
    y = rng.integers(0, K, len(p))
    return split(logits=logits_with_confidence(p, y), y=y)


def z_split(n: int, centre: float, rng: np.random.Generator, y: np.ndarray | None = None) -> SplitOutputs:
    return split(z=rng.normal(centre, 1.0, (n, D)), y=y if y is not None else rng.integers(0, K, n))


def inputs(forget: SplitOutputs, retain: SplitOutputs, test: SplitOutputs, **kw: object) -> EvalInputs:
    return EvalInputs(forget=forget, retain=retain, test=test, val=None, **kw)  # type: ignore[arg-type]


# ---- accuracy ------------------------------------------------------------------------------------------


def onehot_logits(pred: list[int]) -> np.ndarray:
    return np.eye(K, dtype=np.float32)[pred]


def test_accuracy_exact_values() -> None:
    forget = split(onehot_logits([0, 1, 2, 3]), y=[0, 1, 0, 0])  # 2/4 right
    retain = split(onehot_logits([5, 5, 5, 5, 5]), y=[5, 5, 5, 5, 1])  # 4/5
    test = split(onehot_logits([1, 2, 3]), y=[1, 2, 0])  # 2/3
    val = split(onehot_logits([4, 4]), y=[4, 3])  # 1/2
    m = accuracy(EvalInputs(forget=forget, retain=retain, test=test, val=val))
    assert m == pytest.approx(
        {"forget_acc": 50.0, "retain_acc": 80.0, "test_acc": 200 / 3, "val_acc": 50.0, "ua": 50.0}
    )
    assert "val_acc" not in accuracy(inputs(forget, retain, test))
    empty_val = split(np.zeros((0, K), np.float32), y=np.zeros(0, np.int64))
    assert "val_acc" not in accuracy(EvalInputs(forget=forget, retain=retain, test=test, val=empty_val))


def test_ua_is_100_minus_forget_acc() -> None:
    forget = split(onehot_logits([1, 1, 1, 1, 2]), y=[1, 1, 1, 1, 1])
    m = accuracy(inputs(forget, forget, forget))
    assert m["forget_acc"] == pytest.approx(80.0)
    assert m["ua"] == pytest.approx(20.0)


def test_accuracy_class_scenario_splits_test_by_forget_classes() -> None:
    # forget classes {2, 7}: test has 4 such samples (1 right) and 5 others (4 right)
    y = [2, 2, 7, 7, 0, 1, 3, 4, 5]
    pred = [2, 0, 0, 1, 0, 1, 3, 4, 9]
    test = split(onehot_logits(pred), y=y)
    forget = split(onehot_logits([0, 0]), y=[2, 7])
    m = accuracy(inputs(forget, test, test, forget_classes=(2, 7)))
    assert m["test_acc_forget_class"] == pytest.approx(25.0)
    assert m["test_acc_other_classes"] == pytest.approx(80.0)
    assert m["test_acc"] == pytest.approx(500 / 9)
    assert m["forget_acc"] == 0.0 and m["ua"] == 100.0
    assert "test_acc_forget_class" not in accuracy(inputs(forget, test, test))


# ---- output-space attacks ------------------------------------------------------------------------------


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_mia_efficacy_forget_like_test_is_100_and_like_retain_is_0(rng: np.random.Generator) -> None:
    retain = conf_split(rng.uniform(0.97, 1.0, 2000), rng)  # members: confident
    test = conf_split(rng.uniform(0.05, 0.6, 500), rng)  # non-members: not
    like_test = conf_split(rng.uniform(0.05, 0.6, 200), rng)
    like_retain = conf_split(rng.uniform(0.97, 1.0, 200), rng)
    assert mia_efficacy(inputs(like_test, retain, test))["mia_efficacy"] >= 95
    assert mia_efficacy(inputs(like_retain, retain, test))["mia_efficacy"] <= 5


def test_mia_efficacy_softmax_is_stable_for_huge_logits(rng: np.random.Generator) -> None:
    y = rng.integers(0, K, 300)
    big = np.full((300, K), -1e4, np.float32)
    big[np.arange(300), y] = 1e4  # p_y = 1 exactly; a naive float32 softmax would give NaN
    retain = split(big, y=y)
    test = conf_split(rng.uniform(0.05, 0.6, 300), rng)
    m = mia_efficacy(inputs(retain, retain, test))
    assert m["mia_efficacy"] == 0.0


def test_mia_loss_same_distribution_is_near_50(rng: np.random.Generator) -> None:
    forget = conf_split(rng.uniform(0.2, 0.9, 2000), rng)  # 2,000 a side: held-out accuracy std ≈ 2
    test = conf_split(rng.uniform(0.2, 0.9, 2000), rng)
    assert 40 <= mia_loss(inputs(forget, forget, test))["mia_loss"] <= 60


def test_mia_loss_separable_is_near_100(rng: np.random.Generator) -> None:
    forget = conf_split(np.full(300, 1.0), rng)  # loss ≈ 0
    test = conf_split(rng.uniform(1e-4, 0.05, 300), rng)  # loss ≥ 3
    assert mia_loss(inputs(forget, forget, test))["mia_loss"] >= 98


def test_mia_loss_uses_only_forget_class_test_samples_in_class_scenarios(rng: np.random.Generator) -> None:
    # forget = class 3; test of class 3 has the same losses, other test classes have huge losses
    p_same = rng.uniform(0.2, 0.9, 2000)
    forget = split(logits_with_confidence(p_same[:1000], np.full(1000, 3)), y=np.full(1000, 3))
    y_test = np.r_[np.full(1000, 3), rng.choice([0, 1, 2, 4, 5], 2000)]
    p_test = np.r_[p_same[1000:], np.full(2000, 1e-6)]
    test = split(logits_with_confidence(p_test, y_test), y=y_test)
    assert 40 <= mia_loss(inputs(forget, forget, test, forget_classes=(3,)))["mia_loss"] <= 60
    assert mia_loss(inputs(forget, forget, test))["mia_loss"] >= 70  # unrestricted: other classes leak


def test_attacks_refuse_tiny_sets(rng: np.random.Generator) -> None:
    forget = conf_split(rng.uniform(0, 1, 5), rng)
    test = conf_split(rng.uniform(0, 1, 100), rng)
    with pytest.raises(MetricInputError, match="at least 10"):
        mia_loss(inputs(forget, test, test))
    with pytest.raises(ValueError):  # MetricInputError is a ValueError too
        rep_auc(inputs(forget, test, test))


# ---- representation-space attacks ----------------------------------------------------------------------


@pytest.mark.parametrize("attack", [rep_mia_knn, rep_mia_linear])
def test_rep_mia_calls_retain_like_forget_members(attack, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    retain, test = z_split(1000, 2.0, rng), z_split(500, -2.0, rng)
    key = attack.__name__
    assert attack(inputs(z_split(200, 2.0, rng), retain, test))[key] >= 98
    assert attack(inputs(z_split(200, -2.0, rng), retain, test))[key] <= 2


def test_rep_auc_identical_distributions_is_near_half(rng: np.random.Generator) -> None:
    m = rep_auc(inputs(z_split(300, 0.0, rng), z_split(10, 0.0, rng), z_split(600, 0.0, rng)))
    assert 0.4 <= m["rep_auc"] <= 0.6


def test_rep_auc_separable_is_near_one(rng: np.random.Generator) -> None:
    m = rep_auc(inputs(z_split(200, 1.5, rng), z_split(10, 0.0, rng), z_split(600, -1.5, rng)))
    assert m["rep_auc"] > 0.99


def test_rep_auc_compares_with_forget_class_test_samples_only(rng: np.random.Generator) -> None:
    forget = z_split(200, 0.0, rng, y=np.full(200, 4))
    same = z_split(200, 0.0, rng, y=np.full(200, 4))
    other = z_split(800, 5.0, rng, y=rng.choice([0, 1, 2, 3], 800))  # trivially separable from D_f
    test = split(z=np.r_[same.z, other.z], y=np.r_[same.y, other.y])
    assert 0.4 <= rep_auc(inputs(forget, forget, test, forget_classes=(4,)))["rep_auc"] <= 0.6
    assert rep_auc(inputs(forget, forget, test))["rep_auc"] > 0.8  # ≈ 0.8·1 + 0.2·0.5


def test_no_forget_class_samples_in_test_is_an_error(rng: np.random.Generator) -> None:
    forget = z_split(50, 0.0, rng, y=np.full(50, 9))
    test = z_split(50, 0.0, rng, y=np.zeros(50, np.int64))
    with pytest.raises(MetricInputError, match="forget classes"):
        rep_auc(inputs(forget, forget, test, forget_classes=(9,)))


# ---- gaps, registry, determinism -----------------------------------------------------------------------


def test_gaps_exact() -> None:
    method = {
        "forget_acc": 90.0,
        "ua": 10.0,
        "mia_efficacy": 20.0,
        "retain_acc": 99.0,
        "test_acc": 85.0,
        "mia_loss": 55.0,
        "rep_mia_knn": 40.0,
        "rep_mia_linear": 30.0,
        "rep_auc": 0.70,
        "runtime_s": 12.0,
        "rrt": 0.1,
        "seconds_per_epoch": 3.0,
        "eval_s": 2.0,
        "only_method": 1.0,
    }
    oracle = {
        "forget_acc": 94.0,
        "ua": 6.0,
        "mia_efficacy": 12.0,
        "retain_acc": 100.0,
        "test_acc": 87.0,
        "mia_loss": 50.0,
        "rep_mia_knn": 46.0,
        "rep_mia_linear": 33.0,
        "rep_auc": 0.55,
        "runtime_s": 120.0,
        "rrt": 1.0,
        "seconds_per_epoch": 2.0,
        "eval_s": 1.0,
        "only_oracle": 2.0,
    }
    g = gaps(method, oracle)
    expected = {
        "forget_acc": 4.0,
        "ua": 4.0,
        "mia_efficacy": 8.0,
        "retain_acc": 1.0,
        "test_acc": 2.0,
        "mia_loss": 5.0,
        "rep_mia_knn": 6.0,
        "rep_mia_linear": 3.0,
        "rep_auc": 0.15,
        "gap_avg": (4 + 8 + 1 + 2) / 4,
        "gap_rep": (6 + 3 + 15) / 3,
    }
    assert g.keys() == expected.keys()
    assert g == pytest.approx(expected)


def test_gaps_skip_aggregates_with_missing_parts_and_old_gap_keys() -> None:
    g = gaps({"ua": 1.0, "test_acc": 2.0, "gap_avg": 9.0}, {"ua": 4.0, "test_acc": 2.5, "gap_avg": 1.0})
    assert g == {"ua": 3.0, "test_acc": 0.5}


def test_registry_and_evaluate_metrics(rng: np.random.Generator) -> None:
    assert METRICS.available() == [
        "accuracy",
        "mia_efficacy",
        "mia_loss",
        "rep_mia_knn",
        "rep_mia_linear",
        "rep_auc",
        "rep_auc_cond",
    ]
    inp = EvalInputs(
        forget=z_split(60, 1.0, rng),
        retain=z_split(300, 1.0, rng),
        test=z_split(300, -1.0, rng),
        val=z_split(50, 0.0, rng),
        forget_classes=(0, 1),
        seed=3,
    )
    m = evaluate_metrics(inp)
    assert {"val_acc", "test_acc_forget_class", "ua", "mia_efficacy", "mia_loss", "rep_auc"} <= m.keys()
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    assert evaluate_metrics(inp, ["rep_auc"]) == {"rep_auc": m["rep_auc"]}  # alone == within the set
    with pytest.raises(UnknownNameError, match="available"):
        evaluate_metrics(inp, ["nope"])


def test_same_seed_same_results_and_seed_matters(rng: np.random.Generator) -> None:
    f, r, t = z_split(80, 0.3, rng), z_split(400, 0.3, rng), z_split(400, 0.0, rng)
    for s in (f, r, t):  # random logits so every attack has something to do
        s.logits[:] = rng.normal(0, 2, s.logits.shape)
    a = evaluate_metrics(inputs(f, r, t, seed=1, max_samples=150))
    b = evaluate_metrics(inputs(f, r, t, seed=1, max_samples=150))
    c = evaluate_metrics(inputs(f, r, t, seed=2, max_samples=150))
    assert a == b
    assert a != c


def test_split_outputs_validates_shapes() -> None:
    with pytest.raises(MetricInputError, match="disagree"):
        SplitOutputs(np.zeros((3, K)), np.zeros((2, D)), np.zeros(3, np.int64), np.arange(3))
    with pytest.raises(MetricInputError, match="integers"):
        SplitOutputs(np.zeros((3, K)), np.zeros((3, D)), np.zeros(3), np.arange(3))


def test_rep_auc_cond_sees_a_forget_set_hiding_inside_its_classes_clusters():
    """Random forgetting's hard case: forget samples sit *deep* in their own classes' clusters (memorised),
    unseen ones spread as usual, both around the same class centres. A label-blind linear probe sees
    nothing (the two are symmetric around each centre); the label-aware margin does. Identical
    distributions give ≈ 0.5."""
    from sure_unlearn.metrics import rep_auc
    from sure_unlearn.metrics.representation import rep_auc_cond

    rng = np.random.default_rng(0)
    centres = 4.0 * np.eye(3, 16)

    def split(n, spread):
        y = np.arange(n) % 3
        z = (centres[y] + rng.normal(0, spread, (n, 16))).astype(np.float32)
        return SplitOutputs(np.eye(3, dtype=np.float32)[y], z, y, np.arange(n))

    retain, test = split(600, 1.5), split(300, 1.5)
    deep = EvalInputs(forget=split(150, 0.5), retain=retain, test=test, val=None)
    assert rep_auc_cond(deep)["rep_auc_cond"] > 0.9
    assert rep_auc(deep)["rep_auc"] < 0.65
    same = EvalInputs(forget=split(150, 1.5), retain=retain, test=test, val=None)
    assert abs(rep_auc_cond(same)["rep_auc_cond"] - 0.5) < 0.08


def test_rep_auc_cond_is_not_reported_when_the_retain_set_lacks_the_forget_class():
    from sure_unlearn.metrics.representation import rep_auc_cond

    rng = np.random.default_rng(0)

    def split(n, cls):
        y = np.full(n, cls) if cls is not None else np.arange(n) % 2 + 1
        return SplitOutputs(
            np.eye(3, dtype=np.float32)[y], rng.normal(size=(n, 4)).astype(np.float32), y, np.arange(n)
        )

    full_class = EvalInputs(
        forget=split(40, 0), retain=split(200, None), test=split(60, 0), val=None, forget_classes=(0,)
    )
    assert rep_auc_cond(full_class) == {}
