"""Splits and scenarios: disjointness, the holdout rule, class choice, determinism, errors."""

import numpy as np
import pytest

from sure_unlearn.data.splits import ScenarioConfig, check_forget_indices, make_split, stratified_subset
from sure_unlearn.errors import ConfigError, DataError

Y = np.repeat(np.arange(5), 100)  # 5 classes × 100
TEST_Y = np.repeat(np.arange(5), 40)
CLASSES = ("a", "b", "c", "d", "e")


def split(name: str, seed: int = 0, **kw):
    return make_split(Y, TEST_Y, CLASSES, ScenarioConfig(name, **kw), seed)


@pytest.mark.parametrize("name", ["random", "partial_class", "full_class", "confusion"])
def test_sets_are_disjoint_and_cover_the_pool(name):
    s = split(name, n=20, cls=2, classes=(0, 1), fraction=0.2 if name == "confusion" else None)
    assert len(np.intersect1d(s.train, s.holdout)) == 0
    assert len(np.intersect1d(s.forget, s.retain)) == 0
    assert np.array_equal(np.union1d(s.forget, s.retain), s.train)
    assert len(np.intersect1d(s.val, s.train)) == 0 and np.isin(s.val, s.holdout).all()
    assert len(s.holdout) == 50  # 10% of 500, stratified
    assert np.bincount(Y[s.holdout]).tolist() == [10] * 5


def test_partial_class_takes_n_of_the_class_and_val_from_its_holdout():
    s = split("partial_class", n=20, cls="c")
    assert len(s.forget) == 20 and set(Y[s.forget]) == {2}
    assert set(Y[s.val]) == {2} and s.forget_classes == (2,)


def test_full_class_forgets_every_training_sample_of_the_class():
    s = split("full_class", cls=4)
    assert set(Y[s.forget]) == {4} and len(s.forget) == 90
    assert not np.isin(4, Y[s.retain])


def test_random_draws_from_all_classes_and_val_from_the_whole_holdout():
    s = split("random", n=100)
    assert len(s.forget) == 100 and len(set(Y[s.forget])) == 5 and s.forget_classes == ()
    assert len(set(Y[s.val])) > 1


def test_confusion_swaps_labels_of_exactly_the_forget_set():
    s = split("confusion", fraction=0.1, classes=("a", "b"))
    changed = np.flatnonzero(s.labels != Y)
    assert np.array_equal(np.sort(changed), s.forget)
    assert (s.labels[s.forget] == 1 - Y[s.forget]).all()  # a↔b
    assert s.forget_classes == (0, 1)


def test_same_seed_same_split_and_pool_independent_of_scenario():
    a, b = split("random", seed=3, n=30), split("random", seed=3, n=30)
    assert np.array_equal(a.forget, b.forget) and np.array_equal(a.val, b.val)
    c = split("partial_class", seed=3, n=30, cls=1)
    assert np.array_equal(a.train, c.train)  # one original serves both scenarios
    assert not np.array_equal(split("random", seed=4, n=30).forget, a.forget)


def test_subsets_are_stratified():
    rng = np.random.default_rng(0)
    sub = stratified_subset(Y, 50, rng)
    assert np.bincount(Y[sub]).tolist() == [10] * 5


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"name": "partial_class", "n": 0}, "empty"),
        ({"name": "partial_class", "n": 1000}, "only"),
        ({"name": "partial_class", "cls": "zebra"}, "unknown class"),
        ({"name": "full_class", "cls": 9}, "does not exist"),
    ],
)
def test_bad_scenarios_fail_clearly(kw, match):
    with pytest.raises(DataError, match=match):
        make_split(Y, TEST_Y, CLASSES, ScenarioConfig(**kw), 0)


def test_confusion_needs_two_classes():
    with pytest.raises(ConfigError):
        split("confusion", classes=(1, 1))


def test_forget_index_checks():
    train = np.arange(10, 100)
    assert check_forget_indices(np.array([12, 11, 12]), train, 500).tolist() == [11, 12]
    with pytest.raises(DataError, match="empty"):
        check_forget_indices(np.array([], dtype=int), train, 500)
    with pytest.raises(DataError, match="out of range"):
        check_forget_indices(np.array([5000]), train, 500)
    with pytest.raises(DataError, match="never in the model's training set"):
        check_forget_indices(np.array([3]), train, 500)
