"""Shadow models for the per-example attacks: U-LiRA and RMIA, each on outputs and on representations, and
the NeurIPS 2023 challenge's forget score, for one (scenario, seed) of a benchmark, with its models from :class:`~sure_unlearn.protocol.references.
ReferenceModels` (the metric names: :data:`~sure_unlearn.attacks.ATTACK_METRICS`).

**Targets.** T = D_f (label 1: the target model trained on them, then unlearned them) plus up to
``n_nonmembers`` never-seen examples (label 0) in D_f's class proportions, drawn with a seed from data
that neither the original nor the oracle nor any method sees: the train split's images outside the
training pool (the ``cpu`` preset trains on 5,000 of CIFAR-10's 50,000) and the test images outside the
evaluation subset, and only where those run short from the evaluation test images. With n never-seen targets the smallest FPR is 1/n, so
TPR at 1% FPR rests on n/100 false-positive steps; a TPR at an FPR below 1/n is not reported (None).
``attack_n_nonmembers`` records n. Where the data has fewer never-seen examples than asked, every class
gets the same number per positive; a class with fewer than D_f has shrinks both sides to what it has (the
target model still forgot all of D_f). Each target carries the label it is trained with: in
``confusion`` D_f's labels are swapped, and the negatives get the same swap (true class a → b), so both
sides are asked the same question. All statistics use that label.

**Shadows** (M = ``n_shadows``, even). Every target is IN exactly M/2 shadows (a seeded random balanced
assignment). Shadow m is trained with the benchmark's recipe from a fresh init (seed derived from m) on
D_r ∪ IN_m, then "unlearns" IN_m with the *same method and hyperparameters* as the target, with
retain = D_r and val = the split's val set. Its statistics on T give role 1 (IN_m: trained, then
unlearned) or 0 (never seen). IN_m holds half of D_f *and* half of the never-seen targets, so a shadow
trains on and unlearns more examples than the target model did (|D_f|/2 + n/2 against |D_f|), most of
them extra examples of D_f's classes. ``original`` unlearns nothing (the shadow itself); ``retrain``'s
unlearned shadow m is R_{m+1}, a model trained on D_r alone (R_0, the benchmark's own oracle, is the target and
is never its own shadow).

**Retrained models** R_k: trained on D_r with the recipe, R_0 = the benchmark's oracle, R_k (k ≥ 1) with
a seed derived from k. They serve both the ``retrain`` shadows and the challenge score.

**U-LiRA and RMIA** read the same unlearned shadows, as per-example Gaussians (U-LiRA) or as RMIA's
reference models (online: Pr(x) is the mean over all M shadows), with the never-seen targets as RMIA's
population; neither trains anything of its own.

**Challenge score** (N = ``n_models``): φ on D_f under N unlearned models (the method applied to the
target original with seeds 0..N−1; seed 0 is the benchmark's own target run) against R_0..R_{N−1}.
Below 8 models per side each example's points take only a few values (4 with N = 4): the run records
how many as ``forget_score_levels``.
For ``original`` every unlearned model is the original (a point mass: the peakiness guard gives 0).
For ``retrain`` the pool R_0..R_{2N−1} is split into two halves, R_0..R_{N−1} as the "unlearned" models
and R_N..R_{2N−1} as the retrained ones: the oracle's own score at this N, the reference for the others.

**Cost and caching.** Shadow originals and retrained models are cached on disk by the benchmark's
:class:`~sure_unlearn.protocol.references.ReferenceModels` (kinds ``shadow`` and ``shadow_retrain``) under a content key
that includes the training indices (so the shadow's IN set) and the seed; every method shares them and
a rerun trains nothing. Unlearned models are not kept: their statistics are (``<cache>/attacks/
<key>.npz``, keyed by the starting model's weights digest, method, hyperparameters, targets and reference
set), so a rerun runs no method either; a challenge run's model is evaluated on D_f alone, the one
statistic the score reads (a shadow's also needs the targets and the class-mean reference, many times
more images); a reference model retrained with other weights under the same cache key gets fresh
statistics. ``attacks.npz`` names the models it used (``models``, ``weights``).
Per method: M method runs on shadows and N − 1 on the original; once per (scenario, seed): M shadow
originals and up to max(N, M + 1) or 2N retrained models.

**Representation statistic.** ``rep_margin`` needs each model's class means: they come from the same
model on a seeded subsample of D_r (≤ ``n_reference``) plus the val set (so that a forgotten class,
absent from D_r in ``full_class``, still has a mean).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from sure_unlearn.attacks import ATTACK_METRICS
from sure_unlearn.attacks.challenge import epsilon_max, forget_score, point_levels
from sure_unlearn.attacks.rmia import rmia_on_stats
from sure_unlearn.attacks.stats import class_means, logit_confidence, rep_margin
from sure_unlearn.attacks.ulira import ulira
from sure_unlearn.data.splits import Split
from sure_unlearn.data.types import NO_AUGMENT, LabeledData
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.files import atomic_write_bytes, content_key
from sure_unlearn.methods import RunContext, UnlearnData, run_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.progress import track
from sure_unlearn.protocol.checkpoints import weights_digest
from sure_unlearn.protocol.evaluate import collect
from sure_unlearn.protocol.layout import ORACLE, ORIGINAL
from sure_unlearn.protocol.references import Prepared, ReferenceModels, seed_of, seeded_generator

SHADOW, RETRAINED = "shadow", "shadow_retrain"
STATS_VERSION = 1  # bump when a statistic's definition changes: cached statistics are then recomputed
FINE_MODELS = 8  # from this many models per side the forget score is not flagged as coarse
ALL_STATS = ("phi", "rep", "forget_phi")  # a model's statistics: φ and rep margin on the targets, φ on D_f
METRIC_KEYS = tuple(k for k in ATTACK_METRICS if k != "forget_score_levels")  # in every attacked run


def derived_seed(*parts: object) -> int:
    """A model's initialisation seed, in [0, 2³¹), from :func:`~sure_unlearn.protocol.references.seed_of`."""
    return seed_of(*parts) % (2**31)


@dataclass(frozen=True)
class Targets:
    """The attacked examples: positives (D_f) first, then the never-seen negatives, those from the train
    split before those from the test split."""

    idx: np.ndarray  # index into the train split, or into the test split where from_test
    from_test: np.ndarray  # bool: idx is into the test split
    labels: np.ndarray  # 1 = in D_f (trained on, then unlearned by the target), 0 = never seen
    y: np.ndarray  # the label each target is trained with and scored on (swapped in `confusion`)

    def __len__(self) -> int:
        return len(self.idx)

    @property
    def n_nonmembers(self) -> int:
        return int(np.sum(self.labels == 0))


def _counts(
    n_pos: dict[int, int], avail: dict[int, int], n_nonmembers: int
) -> tuple[dict[int, int], dict[int, int]]:
    """(positives, negatives) per class: ``n_nonmembers`` negatives in D_f's class proportions where every
    class has enough never-seen examples, else as many as the scarcest class allows (one ratio r of
    negatives per positive for all classes); a class with fewer never-seen examples than positives
    shrinks both of its sides to what it has."""
    ratio = n_nonmembers / sum(n_pos.values())
    r = min(ratio, *(avail[c] / n_pos[c] for c in n_pos))
    pos = dict(n_pos)
    if r < min(ratio, 1.0):
        pos = {c: min(n_pos[c], avail[c]) for c in n_pos}
        r = min(ratio, 1.0)
    return pos, {c: int(np.floor(r * pos[c] + 1e-9)) for c in pos}


def make_targets(
    split: Split, train_y: np.ndarray, test_y: np.ndarray, seed: int, n_nonmembers: int = 1000
) -> Targets:
    """D_f plus up to ``n_nonmembers`` never-seen examples of D_f's classes, in D_f's class proportions (seeded).

    ``train_y``/``test_y`` are the *true* labels of the whole train and test splits. Never seen means that
    neither the original nor the oracle nor a method sees it: first the train-split images outside the
    training pool (neither trained on nor held out for validation) and the test images outside the
    evaluation subset, drawn uniformly; only where those run short, evaluation test images.
    """
    forget = np.sort(split.forget)
    label_map: dict[int, int] = {}
    for c in np.unique(train_y[forget]):
        used = np.unique(split.labels[forget[train_y[forget] == c]])
        if len(used) != 1:
            raise ConfigError(
                f"the forget set's samples of class {int(c)} are trained with several labels {used.tolist()}; "
                "the never-seen negatives could not be given the same labels"
            )
        label_map[int(c)] = int(used[0])
    # candidates as keys over train ⧺ test (test index i at n_train + i), unused first, evaluation test last
    n_train = len(train_y)
    # (never SURE's held-out pool either: a method may have seen those images as held-out data)
    unused = np.r_[np.setdiff1d(np.arange(n_train), np.r_[split.train, split.holdout, split.pool]),
                   n_train + np.setdiff1d(np.arange(len(test_y)), split.test)]  # fmt: skip
    reserve = n_train + np.asarray(split.test)
    key_y = np.r_[train_y, test_y]
    tiers = {c: (unused[key_y[unused] == c], reserve[key_y[reserve] == c]) for c in label_map}
    n_pos = {c: int(np.sum(train_y[forget] == c)) for c in label_map}
    pos_n, neg_n = _counts(n_pos, {c: len(a) + len(b) for c, (a, b) in tiers.items()}, n_nonmembers)
    rng = np.random.default_rng([seed, 0x5EED])
    pos, neg = [], []
    for c in sorted(label_map):
        p = forget[train_y[forget] == c]
        pos.append(rng.choice(p, size=pos_n[c], replace=False) if pos_n[c] < len(p) else p)
        first, rest = tiers[c]
        k = neg_n[c]
        neg.append(rng.choice(first, size=k, replace=False) if k <= len(first) else
                   np.r_[first, rng.choice(rest, size=k - len(first), replace=False)])  # fmt: skip
    p_idx, n_key = np.sort(np.concatenate(pos)), np.sort(np.concatenate(neg)).astype(np.int64)
    if len(p_idx) < 2 or len(n_key) < 1:
        raise DataError(
            "the per-example attacks need at least 2 forget examples and never-seen examples of the same "
            f"classes; found {len(p_idx)} and {len(n_key)}"
        )
    from_test = n_key >= n_train
    y_neg = np.array([label_map[int(c)] for c in key_y[n_key]], dtype=np.int64)
    return Targets(
        idx=np.r_[p_idx, np.where(from_test, n_key - n_train, n_key)].astype(np.int64),
        from_test=np.r_[np.zeros(len(p_idx), bool), from_test],
        labels=np.r_[np.ones(len(p_idx), np.int8), np.zeros(len(n_key), np.int8)],
        y=np.r_[split.labels[p_idx], y_neg].astype(np.int64),
    )


def balanced_roles(n_targets: int, n_shadows: int, seed: int) -> np.ndarray:
    """M×N in {0, 1}: each column (target) has exactly M/2 ones, placed at random (seeded).

    >>> r = balanced_roles(5, 4, seed=0)
    >>> r.shape, r.sum(axis=0).tolist()
    ((4, 5), [2, 2, 2, 2, 2])
    """
    if n_shadows < 2 or n_shadows % 2:
        raise ConfigError(f"n_shadows must be even and ≥ 2 (half IN, half OUT per target), got {n_shadows}")
    rng = np.random.default_rng([seed, 0xA11])
    base = np.tile(np.r_[np.ones(n_shadows // 2), np.zeros(n_shadows // 2)].astype(np.int8), (n_targets, 1))
    return rng.permuted(base, axis=1).T.copy()


def _cat(parts: list[LabeledData]) -> LabeledData:
    return LabeledData(
        torch.cat([p.x for p in parts]),
        torch.cat([p.y for p in parts]),
        parts[0].augment,
        torch.cat([p.idx for p in parts]),
    )


class ShadowAttacks:
    """The per-example attacks of one (scenario, seed); ``run(method, ...)`` scores one method.

    ``n_shadows`` (M, even) shadow originals for U-LiRA; ``n_models`` (N ≥ 3) unlearned and retrained
    models for the challenge score; ``n_reference`` caps the D_r subsample for class means;
    ``n_nonmembers`` never-seen targets (fewer where the data has fewer). Use the same ``prep`` the
    benchmark built for (scenario, seed).
    """

    def __init__(
        self,
        models: ReferenceModels,
        prep: Prepared,
        scenario: str,
        seed: int,
        *,
        n_shadows: int = 8,
        n_models: int = 4,
        n_reference: int = 1000,
        n_nonmembers: int = 1000,
        progress: bool = False,
    ) -> None:
        epsilon_max(n_models)  # refuses N < 3, with the reason
        if n_shadows < 4 or n_shadows % 2:
            raise ConfigError(
                f"n_shadows must be even and ≥ 4 (each target needs ≥ 2 IN and ≥ 2 OUT shadows to fit a "
                f"spread), got {n_shadows}"
            )
        self.models, self.prep, self.scenario, self.seed = models, prep, scenario, seed
        self.n_shadows, self.n_models, self.progress = n_shadows, n_models, progress
        split, data = prep.split, models.data
        self.targets = make_targets(split, data.train.y, data.test.y, seed, n_nonmembers)
        self.roles = balanced_roles(len(self.targets), n_shadows, seed)
        t = self.targets
        # labels over train ⧺ test (test index i at n_train + i): what each example is trained with
        n_train = len(data.train)
        train_labels, test_labels = split.labels.copy(), data.test.y.copy()
        train_labels[t.idx[~t.from_test]] = t.y[~t.from_test]
        test_labels[t.idx[t.from_test]] = t.y[t.from_test]
        self._labels_all = np.r_[train_labels, test_labels]
        self._key_idx = np.where(t.from_test, n_train + t.idx, t.idx)
        aug = prep.train_sets["retain"].augment
        dev = models.device

        def part(augment: Any) -> LabeledData:  # in target order: Targets puts every train-split one first
            from_train = LabeledData.from_arrays(data.train, t.idx[~t.from_test], augment, dev, train_labels)
            from_test = LabeledData.from_arrays(data.test, t.idx[t.from_test], augment, dev, test_labels)
            return _cat([from_train, from_test])

        self.train_targets, self.eval_targets = part(aug), part(NO_AUGMENT)
        retain = prep.sets["retain"]
        rng = np.random.default_rng([seed, 0x7EF])
        rows = np.sort(rng.choice(len(retain), size=min(n_reference, len(retain)), replace=False))
        self.reference = _cat([retain.subset(torch.from_numpy(rows)), prep.sets["val"]])
        self.forget_eval = prep.train_sets["forget"]  # D_f with training labels (collect never augments)
        self._used: dict[str, str] = {}  # the reference models the current attack used: name → weights digest
        self._stats_key = content_key(
            v=STATS_VERSION,
            targets=t.idx,
            from_test=t.from_test,
            y=t.y,
            ref=self.reference.idx.numpy(),
            ref_y=self.reference.y.cpu().numpy(),
            forget=split.forget,
            forget_y=split.labels[split.forget],
        )

    # ---------------------------------------------------------------- models (cached on disk)
    def used(self, name: str, model: SplitModel, meta: dict[str, Any] | None = None) -> str:
        """The digest of ``model``'s weights (from its cache ``meta`` when given), noted under ``name``.

        Statistics are cached under these digests, not under the models' cache keys: a key names what a
        model is trained from, and the same key retrained by changed code holds other weights, whose
        statistics must not be taken from the old ones. ``run`` reports the models each attack used.
        """
        digest = str(meta["weights"]) if meta is not None else weights_digest(model)
        self._used[name] = digest
        return digest

    def shadow(self, m: int) -> tuple[SplitModel, str]:
        """Shadow original m, trained on D_r ∪ IN_m from a fresh init; (model, weights digest)."""
        split = self.prep.split
        rows = np.flatnonzero(self.roles[m] == 1)
        idx = np.r_[split.retain, self._key_idx[rows]]
        data = _cat([self.prep.train_sets["retain"], self.train_targets.subset(torch.from_numpy(rows))])
        model, meta = self.models.trained(
            SHADOW, derived_seed(SHADOW, self.seed, m), idx, self._labels_all, data
        )
        return model, self.used(f"{SHADOW}{m}", model, meta)

    def retrained(self, k: int, oracle: SplitModel | None = None) -> tuple[SplitModel, str]:
        """R_k, trained on D_r alone; R_0 is the benchmark's oracle (``oracle`` if given, else its cache);
        (model, weights digest)."""
        split, b = self.prep.split, self.models
        if k == 0:
            if oracle is not None:
                return oracle, self.used(ORACLE, oracle)
            model, meta = b.trained(
                ORACLE, self.seed, split.retain, split.labels, self.prep.train_sets["retain"]
            )
            return model, self.used(ORACLE, model, meta)
        model, meta = b.trained(
            RETRAINED,
            derived_seed(RETRAINED, self.seed, k),
            split.retain,
            split.labels,
            self.prep.train_sets["retain"],
        )
        return model, self.used(f"{RETRAINED}{k}", model, meta)

    # ---------------------------------------------------------------- statistics
    def statistics(self, model: SplitModel, parts: tuple[str, ...] = ALL_STATS) -> dict[str, np.ndarray]:
        """φ and the representation margin on the targets, and φ on D_f, under ``model``: those of them in
        ``parts`` (a challenge run needs φ on D_f alone, which skips the far larger target and class-mean
        passes)."""
        bs = self.models.cfg.eval_batch_size
        stats: dict[str, np.ndarray] = {}
        if "phi" in parts or "rep" in parts:
            out, y = collect(model, self.eval_targets, bs), self.targets.y
            stats["phi"] = logit_confidence(out.logits, y)
            if "rep" in parts:
                ref = collect(model, self.reference, bs)
                stats["rep"] = rep_margin(out.z, y, class_means(ref.z, ref.y, model.num_classes))
        if "forget_phi" in parts:
            forget = collect(model, self.forget_eval, bs).logits
            stats["forget_phi"] = logit_confidence(forget, self.forget_eval.y.cpu().numpy())
        return {k: stats[k] for k in parts}

    def _cached_stats(
        self,
        key: str,
        model: SplitModel | Callable[[], SplitModel],
        parts: tuple[str, ...] = ALL_STATS,
    ) -> dict[str, np.ndarray]:
        """The statistics ``parts`` of ``model`` (or of the model ``model()`` builds, only on a cache miss)
        under ``key``."""
        tag = {} if parts == ALL_STATS else {"parts": parts}  # the full statistics keep their earlier key
        path = (
            self.models.cache_dir
            / "attacks"
            / f"stats-{content_key(key=key, base=self._stats_key, **tag)}.npz"
        )
        if path.exists():
            try:
                with np.load(path, allow_pickle=False) as f:
                    return {k: f[k] for k in parts}
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)  # unreadable: recompute
        stats = self.statistics(model if isinstance(model, SplitModel) else model(), parts)
        atomic_write_bytes(path, lambda f: np.savez(f, **stats))  # type: ignore[arg-type]
        return stats

    def _unlearn(
        self,
        method: str,
        model: SplitModel,
        forget: LabeledData,
        init_seed: int,
        cfg: Any,
        gen: torch.Generator,
    ) -> SplitModel:
        b = self.models
        data = UnlearnData(
            forget=forget,
            retain=self.prep.train_sets["retain"],
            val=self.prep.train_sets["val"],
            num_classes=b.data.num_classes,
            original_recipe=b.cfg.recipe,
            init_state=b.new_model(init_seed).state_dict(),
        )
        return run_method(method, model, data, cfg, RunContext(gen, progress=False, engine=b.cfg.engine))

    def unlearned_shadow_stats(self, method: str, cfg: Any) -> dict[str, np.ndarray]:
        """M×N φ and representation margins of the M shadows after each unlearned its IN set."""
        rows: list[dict[str, np.ndarray]] = []
        desc = f"U-LiRA shadows ({method})"
        for m in track(range(self.n_shadows), self.n_shadows, desc, self.progress):
            if method == ORACLE:
                model, key = self.retrained(m + 1)
                rows.append(self._cached_stats(f"{key}|identity", model))
                continue
            shadow, key = self.shadow(m)
            if method == ORIGINAL:
                rows.append(self._cached_stats(f"{key}|identity", shadow))
                continue
            forget = self.train_targets.subset(torch.from_numpy(np.flatnonzero(self.roles[m] == 1)))
            gen = seeded_generator(self.models.device, SHADOW, method, self.scenario, self.seed, m)
            seed_m = derived_seed(SHADOW, self.seed, m)
            rows.append(
                self._cached_stats(
                    content_key(model=key, method=method, cfg=cfg),
                    partial(self._unlearn, method, shadow, forget, seed_m, cfg, gen),
                )
            )
        return {k: np.stack([r[k] for r in rows]) for k in ("phi", "rep")}

    def challenge_models_phi(
        self,
        method: str,
        cfg: Any,
        target_forget_phi: np.ndarray,
        original: SplitModel,
        oracle: SplitModel | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N×F φ on D_f under the unlearned models, N×F under the retrained models).

        ``target_forget_phi``: φ on D_f under the benchmark's own unlearned model (unlearning seed 0).
        """
        n = self.n_models

        def retrained_phi(ks: range) -> np.ndarray:
            out = []
            for k in ks:
                model, key = self.retrained(k, oracle)
                # R_1..R_M are also the oracle's shadows, which read every statistic; the rest serve only
                # here (R_0's full statistics, as the oracle's target, are taken by ``run`` itself)
                parts = ALL_STATS if 1 <= k <= self.n_shadows else ("forget_phi",)
                out.append(self._cached_stats(f"{key}|identity", model, parts)["forget_phi"])
            return np.stack(out)

        if method == ORACLE:  # two halves of the retrained pool
            return retrained_phi(range(n)), retrained_phi(range(n, 2 * n))
        if method == ORIGINAL:  # nothing unlearned: every "unlearned" model is the original
            return np.tile(target_forget_phi, (n, 1)), retrained_phi(range(n))
        unlearned = [target_forget_phi]
        digest = self.used(ORIGINAL, original)
        init_seed = self.seed
        for j in track(range(1, n), n - 1, f"challenge runs ({method})", self.progress):
            gen = seeded_generator(self.models.device, method, self.scenario, self.seed, "challenge", j)
            stats = self._cached_stats(
                content_key(model=digest, method=method, cfg=cfg, run=j),
                partial(self._unlearn, method, original, self.prep.train_sets["forget"], init_seed, cfg, gen),
                parts=("forget_phi",),
            )
            unlearned.append(stats["forget_phi"])
        return np.stack(unlearned), retrained_phi(range(n))

    # ---------------------------------------------------------------- the attacks
    def run(
        self,
        method: str,
        target_model: SplitModel | None,
        method_cfg: Any,
        original: SplitModel,
        oracle: SplitModel | None = None,
    ) -> tuple[dict[str, float | None], dict[str, np.ndarray]]:
        """Metrics (:data:`METRIC_KEYS`, ``forget_score_levels`` below 8 models, ``attacks_s``; None for a
        TPR the never-seen targets cannot resolve) and arrays for ``attacks.npz``.

        ``method`` is a registered method, ``original`` (no unlearning) or ``retrain`` (the oracle).
        ``target_model`` is the benchmark's unlearned model (for ``original``/``retrain``: the original /
        the oracle, also taken when None); None for another method runs it as the benchmark does
        (generator ``seeded_generator(device, method, scenario, seed)``). ``method_cfg`` is the target's
        config (ignored for ``original`` and ``retrain``).
        """
        start = time.perf_counter()
        self._used = {}
        if method == ORIGINAL:
            target_model = original
        elif method == ORACLE:
            if target_model is None:
                target_model = oracle if oracle is not None else self.retrained(0)[0]
        elif target_model is None:
            target_model = self._unlearn(
                method,
                original,
                self.prep.train_sets["forget"],
                self.seed,
                method_cfg,
                seeded_generator(self.models.device, method, self.scenario, self.seed),
            )
        self.models.log(f"  attacks on {method}: {self.n_shadows} shadows, {self.n_models} models")
        shadows = self.unlearned_shadow_stats(method, method_cfg)
        target = self.statistics(target_model)
        t = self.targets
        metrics, score = ulira(target["phi"], t.labels, shadows["phi"], self.roles)
        rep_metrics, rep_score = ulira(target["rep"], t.labels, shadows["rep"], self.roles, prefix="rep_lira")
        rmia_metrics, rmia_score, rep_rmia_score = rmia_on_stats(
            target["phi"], target["rep"], t.labels, shadows["phi"], shadows["rep"], self.roles
        )
        unlearned_phi, retrained_phi = self.challenge_models_phi(
            method, method_cfg, target["forget_phi"], original, oracle
        )
        f_score, eps = forget_score(unlearned_phi, retrained_phi)
        values: dict[str, float] = {
            **metrics,
            **rep_metrics,
            **rmia_metrics,
            "forget_score": f_score,
            "attack_n_nonmembers": t.n_nonmembers,
            "attacks_s": time.perf_counter() - start,
        }
        if self.n_models < FINE_MODELS:  # a coarse score: say how many values each example's points take
            values["forget_score_levels"] = len(point_levels(self.n_models, self.n_models))
        # a TPR at an FPR finer than one never-seen target is NaN: null in the run's JSON, not a number
        written = {k: None if math.isnan(v) else v for k, v in values.items()}
        arrays = {
            "labels": t.labels,
            "idx": t.idx,
            "from_test": t.from_test,
            "y": t.y,
            "roles": self.roles,
            "score_ulira": score,
            "score_rep_lira": rep_score,
            "score_rmia": rmia_score,
            "score_rep_rmia": rep_rmia_score,
            "target_phi": target["phi"],
            "target_rep": target["rep"],
            "shadow_phi": shadows["phi"],
            "shadow_rep": shadows["rep"],
            "eps": eps,
            "forget_idx": self.forget_eval.idx.numpy(),
            "challenge_unlearned_phi": unlearned_phi,
            "challenge_retrained_phi": retrained_phi,
            # which shadow, retrained, original and oracle models these statistics came from
            "models": np.array(list(self._used), dtype=str),
            "weights": np.array(list(self._used.values()), dtype=str),
        }
        return written, arrays
