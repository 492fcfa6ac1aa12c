"""Splits and unlearning scenarios: everything follows from one integer seed.

From a dataset's official train split: an optional stratified training *pool* (the ``cpu`` preset trains on
a subset), a stratified *holdout* (default 10% of the pool) that neither the original nor the oracle ever
trains on, the *forget* set chosen by the scenario from the rest, *retain* = the rest minus forget, and the
validation set ``D_v`` for SURE drawn from the holdout with the forget set's distribution. The official test
split (optionally a stratified subset) is used only for evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.files import atomic_write_bytes
from sure_unlearn.registry import Registry


@dataclass(frozen=True)
class ScenarioConfig:
    """Which data to forget.

    ``n`` samples (or ``fraction`` of the training set) for ``random`` and ``partial_class``; ``cls`` (a class
    index or name) for class scenarios; ``classes`` (a, b) and ``fraction`` for ``confusion``.
    """

    name: str = "partial_class"
    n: int | None = 100
    fraction: float | None = None
    cls: int | str = 0
    classes: tuple[int | str, int | str] = (0, 1)


@dataclass(frozen=True)
class Split:
    """Index sets over one dataset; ``forget``/``retain``/``val``/``train`` index the train split, ``test`` the test split."""

    scenario: str
    seed: int
    train: np.ndarray  # what the original trains on (pool minus holdout)
    forget: np.ndarray
    retain: np.ndarray
    holdout: np.ndarray
    val: np.ndarray
    test: np.ndarray
    # training labels over the whole train split (differs from the truth only in `confusion`)
    labels: np.ndarray
    forget_classes: tuple[int, ...] = field(default=())
    # held-out train-split samples of the forget set's distribution that nothing trains on and evaluation
    # never uses (outside the training pool when there is one, else holdout minus val): SURE's heldout_pool
    pool: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def save(self, path: Path) -> None:
        """Write every index set as one ``.npz`` (atomically)."""
        arrays = {
            k: getattr(self, k)
            for k in ("train", "forget", "retain", "holdout", "val", "test", "labels", "pool")
        }
        arrays["forget_classes"] = np.asarray(self.forget_classes, dtype=np.int64)
        atomic_write_bytes(path, lambda f: np.savez(f, **arrays))


ScenarioFn = Callable[["ScenarioInputs"], tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]]
SCENARIOS: Registry[ScenarioFn] = Registry("scenario")


@dataclass(frozen=True)
class ScenarioInputs:
    cfg: ScenarioConfig
    y: np.ndarray  # true train labels
    train: np.ndarray  # candidate indices (pool minus holdout)
    holdout: np.ndarray
    classes: tuple[str, ...]
    rng: np.random.Generator

    def class_index(self, c: int | str) -> int:
        if isinstance(c, str) and not c.lstrip("-").isdigit():
            if c not in self.classes:
                raise DataError(f"unknown class {c!r}; classes are {list(self.classes)}")
            return self.classes.index(c)
        k = int(c)
        if not 0 <= k < len(self.classes):
            raise DataError(f"class {k} does not exist: the dataset has classes 0..{len(self.classes) - 1}")
        return k

    def count(self, available: int) -> int:
        c = self.cfg
        n = round(c.fraction * available) if c.fraction is not None else c.n
        if n is None or n < 1:
            raise DataError(
                f"the forget set would be empty (n={c.n}, fraction={c.fraction}); ask for ≥ 1 sample"
            )
        if n > available:
            raise DataError(f"cannot forget {n} samples: only {available} are available for {c.name}")
        return n


def _val_like(inp: ScenarioInputs, classes: tuple[int, ...] | None, n: int) -> np.ndarray:
    """Up to ``n`` holdout samples of ``classes`` (all classes when None)."""
    pool = inp.holdout if classes is None else inp.holdout[np.isin(inp.y[inp.holdout], classes)]
    if len(pool) == 0:
        raise DataError(
            "the holdout has no samples from the forget set's distribution; enlarge holdout_fraction"
        )
    return np.sort(inp.rng.choice(pool, size=min(n, len(pool)), replace=False))


@SCENARIOS.register("random")
def random_scenario(inp: ScenarioInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """``n`` (or a fraction of) training samples, uniformly."""
    n = inp.count(len(inp.train))
    forget = np.sort(inp.rng.choice(inp.train, size=n, replace=False))
    return forget, _val_like(inp, None, n), inp.y.copy(), ()


@SCENARIOS.register("partial_class")
def partial_class(inp: ScenarioInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """``n`` training samples of class ``cls`` (the paper's main scenario)."""
    c = inp.class_index(inp.cfg.cls)
    pool = inp.train[inp.y[inp.train] == c]
    n = inp.count(len(pool))
    forget = np.sort(inp.rng.choice(pool, size=n, replace=False))
    return forget, _val_like(inp, (c,), n), inp.y.copy(), (c,)


@SCENARIOS.register("full_class")
def full_class(inp: ScenarioInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Every training sample of class ``cls``."""
    c = inp.class_index(inp.cfg.cls)
    forget = np.sort(inp.train[inp.y[inp.train] == c])
    if len(forget) == 0:
        raise DataError(f"class {c} has no training samples")
    return forget, _val_like(inp, (c,), len(forget)), inp.y.copy(), (c,)


@SCENARIOS.register("confusion")
def confusion(inp: ScenarioInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Resolving confusion (SCRUB): a fraction of classes a and b swap labels before training; forget those.

    ``labels`` carries the swapped labels the original trains on; metrics use the true labels.
    """
    a, b = (inp.class_index(c) for c in inp.cfg.classes)
    if a == b:
        raise ConfigError("confusion needs two different classes")
    frac = inp.cfg.fraction if inp.cfg.fraction is not None else 0.1
    labels = inp.y.copy()
    chosen = []
    for src, dst in ((a, b), (b, a)):
        pool = inp.train[inp.y[inp.train] == src]
        k = max(1, round(frac * len(pool)))
        pick = inp.rng.choice(pool, size=min(k, len(pool)), replace=False)
        labels[pick] = dst
        chosen.append(pick)
    forget = np.sort(np.concatenate(chosen))
    return forget, _val_like(inp, (a, b), len(forget)), labels, (a, b)


def stratified_subset(
    y: np.ndarray, n: int | None, rng: np.random.Generator, pool: np.ndarray | None = None
) -> np.ndarray:
    """``n`` indices of ``pool`` (default all) with class proportions kept; all of them when ``n`` is None."""
    pool = np.arange(len(y)) if pool is None else pool
    if n is None or n >= len(pool):
        return np.sort(pool)
    picked = []
    classes, counts = np.unique(y[pool], return_counts=True)
    quota = np.floor(counts / counts.sum() * n).astype(int)
    quota[np.argsort(-(counts / counts.sum() * n - quota))[: n - quota.sum()]] += 1
    for c, q in zip(classes, quota, strict=True):
        members = pool[y[pool] == c]
        picked.append(rng.choice(members, size=q, replace=False))
    return np.sort(np.concatenate(picked))


def matched_sample(
    like_y: np.ndarray, y: np.ndarray, pool: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Indices of ``pool`` with the class counts of ``like_y`` (as many as exist per class), e.g. test
    samples "of the same distribution" as the forget set for probes, embeddings and attack negatives.

    >>> pool = np.arange(10); y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    >>> picked = matched_sample(np.array([1, 1, 2]), y, pool, np.random.default_rng(0))
    >>> sorted(y[picked].tolist())
    [1, 1, 2]
    """
    picked = []
    for c, n in zip(*np.unique(like_y, return_counts=True), strict=True):
        members = pool[y[pool] == c]
        picked.append(rng.choice(members, size=min(int(n), len(members)), replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def unused_like(
    train_y: np.ndarray,
    train_pool: np.ndarray,
    holdout: np.ndarray,
    val: np.ndarray,
    classes: tuple[int, ...],
    seed: int,
) -> np.ndarray:
    """Train-split indices of ``classes`` (all when empty) that no model trains on and evaluation never
    uses, in a seeded random order: those outside ``train_pool`` when it is a subset, else holdout − val."""
    outside = np.setdiff1d(np.arange(len(train_y)), train_pool)
    cand = outside if len(outside) else np.setdiff1d(holdout, val)
    if classes:
        cand = cand[np.isin(train_y[cand], classes)]
    return np.random.default_rng([seed, 3]).permutation(cand)


def make_split(
    train_y: np.ndarray,
    test_y: np.ndarray,
    classes: tuple[str, ...],
    scenario: ScenarioConfig,
    seed: int,
    *,
    holdout_fraction: float = 0.1,
    train_subset: int | None = None,
    test_subset: int | None = None,
    pool_size: int = 0,
) -> Split:
    """Build the whole :class:`Split` from one seed.

    The pool and holdout depend only on the seed (not the scenario), so random, partial- and full-class
    scenarios of one seed share one original model. ``pool_size`` never-used samples of the forget set's
    distribution form ``Split.pool`` (:func:`unused_like`; fewer when fewer exist).

    >>> y = np.repeat(np.arange(3), 20)
    >>> s = make_split(y, y, ("a", "b", "c"), ScenarioConfig("partial_class", n=5, cls="b"), seed=0)
    >>> len(s.forget), set(y[s.forget].tolist()), len(np.intersect1d(s.forget, s.holdout)), set(y[s.val].tolist())
    (5, {1}, 0, {1})
    """
    if not 0 < holdout_fraction < 1:
        raise ConfigError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    base = np.random.default_rng([seed, 0])
    pool = stratified_subset(train_y, train_subset, base)
    holdout = stratified_subset(train_y, round(holdout_fraction * len(pool)), base, pool)
    train = np.setdiff1d(pool, holdout)
    test = stratified_subset(test_y, test_subset, np.random.default_rng([seed, 1]))
    inp = ScenarioInputs(scenario, train_y, train, holdout, classes, np.random.default_rng([seed, 2]))
    forget, val, labels, forget_classes = SCENARIOS.get(scenario.name)(inp)
    retain = np.setdiff1d(train, forget)
    if len(retain) == 0:
        raise DataError("the forget set covers the whole training set: nothing would be retained")
    unused = np.sort(unused_like(train_y, pool, holdout, val, forget_classes, seed)[:pool_size])
    return Split(
        scenario.name,
        seed,
        train,
        forget,
        np.sort(retain),
        holdout,
        val,
        test,
        labels,
        forget_classes,
        unused,
    )


def check_forget_indices(forget: np.ndarray, train: np.ndarray, n_total: int) -> np.ndarray:
    """Validate user-given forget indices against the model's training indices; return them sorted, unique."""
    forget = np.asarray(forget)
    if forget.size == 0:
        raise DataError("the forget set is empty; give at least one training index")
    if not np.issubdtype(forget.dtype, np.integer):
        raise DataError(f"forget indices must be integers, got {forget.dtype}")
    bad = forget[(forget < 0) | (forget >= n_total)]
    if len(bad):
        raise DataError(f"forget indices out of range 0..{n_total - 1}: {bad[:10].tolist()}")
    unseen = np.setdiff1d(forget, train)
    if len(unseen):
        raise DataError(
            f"{len(unseen)} forget indices were never in the model's training set (e.g. {unseen[:5].tolist()}): "
            "only trained-on samples can be forgotten"
        )
    return np.unique(forget)
