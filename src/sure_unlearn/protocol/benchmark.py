"""The benchmark protocol: original, oracle, every method, every scenario and seed; results as files.

For each seed the original is trained once (shared by the random and class scenarios, which use the same
training set) and each scenario's oracle is retrained without its forget set; both are cached on disk under
a content key (a lock file keeps two processes sharing the cache from training the same model twice).
Each method unlearns a copy of the original; everything is evaluated by one cached forward pass per split.
Beside ``original`` and the oracle ``retrain`` sits the reference ``broken`` (the original with a freshly
initialised head: chance-level outputs, the original's representations), which any unlearning method must
beat (:mod:`sure_unlearn.metrics.distance`).

Every run is written to ``DIR/<scenario>/<method>/seed<k>/run.json`` as soon as it finishes, so an
interrupted benchmark resumes where it stopped; ``summary.json`` (with 95% intervals over seeds and the
paired ranking) and ``summary.md`` are rewritten atomically after each (scenario, seed), and on an
interruption (Ctrl-C, SIGTERM) over every run finished so far. ``shard=(i, n)``
runs a deterministic 1/n of the (scenario, seed, method) runs; ``queue=DIR`` instead has processes of one
machine take the runs from a shared queue, each the next that no other has claimed
(:mod:`sure_unlearn.protocol.claims`); ``sure report DIR1 DIR2 --out DIR`` merges their directories into
one summary.

**RRT** divides a method's runtime by the oracle's training time *measured in the same process*: the
oracle's own training when this process trained it, else one oracle epoch timed here, times the recipe's
epochs (``run.json`` → ``info.rrt_basis`` says which).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sure_unlearn.data import load_dataset
from sure_unlearn.data.splits import make_split, matched_sample
from sure_unlearn.data.types import NO_AUGMENT, DatasetBundle, LabeledData
from sure_unlearn.errors import ConfigError, SureError
from sure_unlearn.files import atomic_write_bytes, atomic_write_text, content_key, jsonable
from sure_unlearn.methods import RunContext, UnlearnData, run_method
from sure_unlearn.metrics import SplitOutputs
from sure_unlearn.metrics import gaps as metric_gaps
from sure_unlearn.metrics.distance import distance
from sure_unlearn.models import SplitModel
from sure_unlearn.protocol import layout
from sure_unlearn.protocol.claims import RunQueue, describe
from sure_unlearn.protocol.config import BenchmarkConfig, method_config
from sure_unlearn.protocol.evaluate import evaluate, save_features
from sure_unlearn.protocol.layout import BROKEN, ORACLE, ORIGINAL
from sure_unlearn.protocol.references import (
    Prepared,
    ReferenceModels,
    default_cache_dir,
    seed_of,
    seeded_generator,
)
from sure_unlearn.protocol.runs import Run
from sure_unlearn.protocol.similarity import cka_to_references, layer_grams, probe_set, rep_auc_layers
from sure_unlearn.report import PlotMode, write_summary
from sure_unlearn.train import fit

ORACLE_REF = "oracle"  # the name CKA metrics use for the retrained model (cka_to_oracle)
# What a method run may raise and still leave the benchmark going (recorded as a failed run): our own
# errors (a diverged method) and numerical trouble surfacing in torch or in the metrics.
RUN_FAILURES: tuple[type[BaseException], ...] = (SureError, FloatingPointError, ValueError, RuntimeError)


def environment(device: torch.device) -> dict[str, Any]:
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def rows_of(outs: SplitOutputs, idx: np.ndarray) -> SplitOutputs:
    """The rows of ``outs`` whose dataset indices are ``idx``, in that order."""
    order = np.argsort(outs.idx)
    return outs.subset(order[np.searchsorted(outs.idx, idx, sorter=order)])


def drift(after: SplitOutputs, before: SplitOutputs) -> float:
    """How far a split's representations moved: mean ‖z_after − z_before‖ over its samples, relative to
    the root-mean-square spread of ``before`` around its mean (0 = unmoved, 1 = moved by a typical spread)."""
    spread = float(np.sqrt(((before.z - before.z.mean(0)) ** 2).sum(1).mean()))
    return float(np.linalg.norm(after.z - before.z, axis=1).mean() / max(spread, 1e-12))


@dataclass
class References:
    """One (scenario, seed) ready for unlearning: the split, the reference models and the methods' data."""

    scenario: str
    seed: int
    prep: Prepared
    original: SplitModel
    oracle: SplitModel
    o_meta: dict[str, Any]
    r_meta: dict[str, Any]
    data: UnlearnData
    base_key: str
    oracle_s: float = 0.0  # the oracle's training time measured in this process (see rrt_basis)
    rrt_basis: str = ""
    metrics: dict[str, dict[str, Any]] | None = None  # the original's and oracle's, memoised
    outputs: dict[str, dict[str, SplitOutputs]] | None = None  # their evaluation passes
    attacks: Any = None  # the (scenario, seed)'s ShadowAttacks, built on first use
    # per-layer Grams of original and oracle on the probe
    grams: dict[str, dict[str, np.ndarray]] | None = None

    @property
    def weights(self) -> dict[str, str]:
        """The digests of the original's and the oracle's weights: what this (scenario, seed)'s runs were
        measured against (a cached run whose record differs is run again)."""
        return {"original": self.o_meta["weights"], "oracle": self.r_meta["weights"]}

    @property
    def broken(self) -> SplitModel:
        """The original with its head freshly initialised (seeded): the degenerate reference."""
        model = copy.deepcopy(self.original)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_of("broken", self.seed))
            model.head.reset_parameters()
        return model


class Benchmark:
    """Runs a :class:`BenchmarkConfig`; ``run()`` returns the summary dict also written to ``out``."""

    def __init__(
        self,
        cfg: BenchmarkConfig,
        out: str | Path,
        *,
        device: str | torch.device = "cpu",
        data_root: str | Path | None = None,
        cache_dir: str | Path | None = None,
        save_features: bool = False,
        progress: bool = False,
        log: Any = None,
        shard: tuple[int, int] | None = None,
        queue: str | Path | None = None,
    ) -> None:
        cfg.validate()  # names, ranges, hyperparameters: before any work
        self.method_cfgs = {
            (s, m): method_config(m, cfg.hparams_for(s, m)) for s in cfg.scenarios for m in cfg.methods
        }
        if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
            raise ConfigError(f"shard must be i/n with 0 ≤ i < n, got {shard[0]}/{shard[1]}")
        if shard is not None and queue is not None:
            raise ConfigError("give a shard or a queue, not both: a queue already divides the runs")
        self.cfg, self.out, self.shard = cfg, Path(out), shard
        self.queue = RunQueue.at(queue) if queue is not None else None
        self.device = torch.device(device)
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.save_features, self.progress = save_features, progress
        self.log = log or (lambda msg: None)
        self.data: DatasetBundle = load_dataset(
            cfg.dataset, data_root, cache_dir=self.cache_dir / "datasets", **cfg.dataset_kwargs
        )
        cfg.check_data(self.data)  # every split gives the metrics enough samples: before any training
        self.models = ReferenceModels(
            cfg, self.data, self.device, self.cache_dir, progress=progress, log=self.log
        )
        self.runs: list[Run] = []

    # ---------------------------------------------------------------- data and models
    def prepare(self, scenario: str, seed: int) -> Prepared:
        c = self.cfg
        split = make_split(
            self.data.train.y,
            self.data.test.y,
            self.data.classes,
            c.scenarios[scenario],
            seed,
            holdout_fraction=c.holdout_fraction,
            train_subset=c.train_subset,
            test_subset=c.test_subset,
            pool_size=c.pool_size,
        )
        aug = self.data.augment if c.recipe.augment else NO_AUGMENT

        def on_device(
            arr: Any, idx: np.ndarray, labels: np.ndarray | None = None, augment: Any = NO_AUGMENT
        ) -> LabeledData:
            return LabeledData.from_arrays(arr, idx, augment, self.device, labels)

        tr, te = self.data.train, self.data.test
        sets = {
            "forget": on_device(tr, split.forget),
            "retain": on_device(tr, split.retain, split.labels),
            "test": on_device(te, split.test),
            "val": on_device(tr, split.val),
        }
        train_sets = {
            "train": on_device(tr, split.train, split.labels, aug),
            "forget": on_device(tr, split.forget, split.labels, aug),
            "retain": on_device(tr, split.retain, split.labels, aug),
            "val": on_device(tr, split.val, None, aug),
            "pool": on_device(tr, split.pool, None, aug),
        }
        like_forget = matched_sample(
            tr.y[split.forget], te.y, split.test, np.random.default_rng([seed, 0xC4A])
        )
        probe = probe_set(sets["forget"], on_device(te, like_forget), seed)
        return Prepared(split, sets, train_sets, probe)

    def new_model(self, seed: int) -> SplitModel:
        return self.models.new_model(seed)

    def trained(
        self, kind: str, seed: int, train_idx: np.ndarray, labels: np.ndarray, data: LabeledData
    ) -> tuple[SplitModel, dict[str, Any]]:
        """The ``kind`` model for ``seed`` trained on ``data`` (= ``train_idx``): :class:`ReferenceModels`."""
        return self.models.trained(kind, seed, train_idx, labels, data)

    def oracle_time(self, seed: int, r_meta: dict[str, Any], retain: LabeledData) -> tuple[float, str]:
        """The oracle's training time in this process: its own, or one timed epoch × the recipe's epochs."""
        epochs = self.cfg.recipe.epochs
        if r_meta["key"] in self.models.trained_here:
            return float(r_meta["train_s"]), f"the oracle's training in this process ({epochs} epochs)"
        model = self.new_model(seed)
        one = dataclasses.replace(self.cfg.recipe, epochs=1)
        res = fit(
            model, retain, one, seeded_generator(self.device, "oracle-epoch", seed), engine=self.cfg.engine
        )
        return (
            res.seconds * epochs,
            f"one oracle epoch timed in this process ({res.seconds:.2f} s) × {epochs}",
        )

    # ---------------------------------------------------------------- runs
    def run_dir(self, scenario: str, method: str, seed: int) -> Path:
        return layout.run_dir(self.out, scenario, method, seed)

    def evaluate(self, refs: References, model: SplitModel) -> tuple[dict[str, Any], dict[str, SplitOutputs]]:
        """Every metric of ``model`` on ``refs``' splits, and the cached forward pass they came from."""
        return evaluate(
            model,
            refs.prep.sets,
            forget_classes=refs.prep.split.forget_classes,
            seed=refs.seed,
            z_layer="",
            batch_size=self.cfg.eval_batch_size,
        )

    def scored(
        self, refs: References, method: str, metrics: dict[str, Any], outs: dict[str, SplitOutputs]
    ) -> dict[str, Any]:
        """``metrics`` plus how far the forget and validation representations moved from the original's."""
        before = self.reference_outputs(refs)[ORIGINAL]
        return {
            **metrics,
            "forget_drift": drift(outs["forget"], before["forget"]),
            "val_drift": drift(outs["val"], before["val"]),
        }

    def record(
        self,
        refs: References,
        method: str,
        model: SplitModel,
        hparams: dict[str, Any],
        runtime: dict[str, float],
        info: dict[str, Any],
    ) -> Run:
        scenario, seed = refs.scenario, refs.seed
        metrics, outs = self.evaluate(refs, model)
        metrics = self.scored(refs, method, metrics, outs) | runtime
        d = self.run_dir(scenario, method, seed)
        if self.save_features:
            save_features(d / layout.FEATURES_NPZ, outs)
        # where in the network the forget set stays visible: a fresh probe at every layer
        metrics["rep_auc_layers"] = rep_auc_layers(model, refs.prep.probe, seed)
        # where in the network the representation moved: linear CKA per layer to the oracle and the original
        if refs.grams is None:
            refs.grams = {
                ORACLE_REF: layer_grams(refs.oracle, refs.prep.probe),
                ORIGINAL: layer_grams(refs.original, refs.prep.probe),
            }
        cka, per_layer = cka_to_references(model, refs.prep.probe, refs.grams)
        metrics.update(cka)
        atomic_write_text(d / layout.CKA_JSON, json.dumps(jsonable(per_layer)))
        # a sample for 2-D embeddings in reports: the probe's forget and never-seen halves, whose z the
        # evaluation pass above already computed (the never-seen half is drawn from the test split)
        m = len(refs.prep.probe) // 2
        idx = refs.prep.probe.idx.numpy()
        forget, test = (rows_of(outs[s], part) for s, part in (("forget", idx[:m]), ("test", idx[m:])))
        embed = {"forget_z": forget.z, "test_z": test.z, "forget_y": forget.y, "test_y": test.y}
        atomic_write_bytes(d / layout.EMBED_NPZ, lambda f: np.savez(f, **embed))  # type: ignore[arg-type]
        return Run(method, scenario, seed, hparams, metrics, info={**info, "reference_weights": refs.weights})

    def write_run(self, run: Run) -> None:
        d = self.run_dir(run.scenario, run.method, run.seed)
        run = dataclasses.replace(run, env=environment(self.device))
        atomic_write_text(d / layout.RUN_JSON, json.dumps(jsonable(run.to_dict()), indent=1, default=float))

    def cached_run(self, refs: References, method: str, key: str) -> Run | None:
        """The run already in the results directory under ``key``, unless it was measured against other
        reference models than ``refs``' (same cache key, other weights: retrained by changed code or on
        another machine). A run recorded before runs named their references is taken as it is."""
        p = self.run_dir(refs.scenario, method, refs.seed) / layout.RUN_JSON
        if not p.exists() or (self.save_features and not (p.parent / layout.FEATURES_NPZ).exists()):
            return None
        try:
            run = Run.from_dict(json.loads(p.read_text()))
        except (ValueError, TypeError):
            return None
        if run.key != key:
            return None
        if run.info.get("reference_weights", refs.weights) != refs.weights:
            self.log(
                f"  {method}: its cached run was measured against other reference models "
                f"({run.info['reference_weights']}, now {refs.weights}); running it again"
            )
            return None
        return run

    def references(self, scenario: str, seed: int) -> References:
        """The split, the original and the oracle of one (scenario, seed), trained or from the cache."""
        c = self.cfg
        prep = self.prepare(scenario, seed)
        split = prep.split
        split.save(layout.split_path(self.out, scenario, seed))
        self.log(
            f"[{scenario} seed {seed}] forget {len(split.forget)}, retain {len(split.retain)}, "
            f"val {len(split.val)}, test {len(split.test)}"
        )
        original, o_meta = self.trained(ORIGINAL, seed, split.train, split.labels, prep.train_sets["train"])
        oracle, r_meta = self.trained(ORACLE, seed, split.retain, split.labels, prep.train_sets["retain"])
        data = UnlearnData(
            forget=prep.train_sets["forget"],
            retain=prep.train_sets["retain"],
            val=prep.train_sets["val"],
            pool=prep.train_sets["pool"],
            num_classes=self.data.num_classes,
            original_recipe=c.recipe,
            init_state=self.new_model(seed).state_dict(),  # θ_init: the original's weights at step 0 (EU-k)
        )
        base_key = content_key(
            split=[split.forget, split.retain, split.val, split.test, split.pool],
            o=o_meta["key"],
            r=r_meta["key"],
        )
        return References(scenario, seed, prep, original, oracle, o_meta, r_meta, data, base_key)

    def timed(self, refs: References) -> References:
        """``refs`` with the oracle's same-process training time measured (once)."""
        if not refs.rrt_basis:
            refs.oracle_s, refs.rrt_basis = self.oracle_time(
                refs.seed, refs.r_meta, refs.prep.train_sets["retain"]
            )
        return refs

    def unlearn(
        self, refs: References, method: str, mcfg: Any
    ) -> tuple[SplitModel, dict[str, Any], dict[str, float], dict[str, Any]]:
        """Run ``method`` on a copy of the original: (model, hparams incl. epochs, runtime metrics, info)."""
        self.timed(refs)
        hparams = dataclasses.asdict(mcfg)
        ctx = RunContext(
            seeded_generator(self.device, method, refs.scenario, refs.seed),
            progress=self.progress,
            engine=self.cfg.engine,
        )
        start = time.perf_counter()
        model = run_method(method, refs.original, refs.data, mcfg, ctx)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        info = dict(ctx.info)
        epochs = int(info.pop("epochs", hparams.get("epochs", 0)))
        spe = info.pop("seconds_per_epoch", seconds / epochs if epochs else None)
        runtime = {"runtime_s": seconds, "rrt": seconds / refs.oracle_s}
        info.update(rrt_oracle_s=refs.oracle_s, rrt_basis=refs.rrt_basis)
        if epochs > 0 and spe is not None:  # one-shot methods (SSD, IU) have no epochs to time
            runtime["seconds_per_epoch"] = float(spe)
        return model, {**hparams, "epochs": epochs}, runtime, info

    def gaps_of(self, refs: References, metrics: dict[str, Any]) -> dict[str, float]:
        """Per-metric |Δ| to the oracle, gap_avg, gap_rep and the calibrated distance (and its terms)."""
        ref = self.reference_metrics(refs)
        return metric_gaps(metrics, ref[ORACLE]) | distance(
            metrics, ref[ORIGINAL], ref[ORACLE], self.data.num_classes
        )

    def evaluate_run(self, refs: References, method: str, mcfg: Any) -> Run:
        """Unlearn and evaluate without writing anything: a run whose ``gaps`` are to this seed's oracle.

        The building block of hyperparameter search (``sure tune``): the original and oracle come from the
        cache, and nothing of the trial touches the results directory.
        """
        model, hparams, runtime, info = self.unlearn(refs, method, mcfg)
        metrics, outs = self.evaluate(refs, model)
        metrics = self.scored(refs, method, metrics, outs) | runtime
        return Run(method, refs.scenario, refs.seed, hparams, metrics, self.gaps_of(refs, metrics), info)

    def reference_outputs(self, refs: References) -> dict[str, dict[str, SplitOutputs]]:
        self.reference_metrics(refs)
        assert refs.outputs is not None
        return refs.outputs

    def reference_metrics(self, refs: References) -> dict[str, dict[str, Any]]:
        """The original's and the oracle's metrics for ``refs`` (computed once, then memoised)."""
        if refs.metrics is None:
            refs.metrics, refs.outputs = {}, {}
            for name, model in ((ORIGINAL, refs.original), (ORACLE, refs.oracle)):
                refs.metrics[name], refs.outputs[name] = self.evaluate(refs, model)
        return refs.metrics

    def attacked(self, method: str) -> bool:
        a = self.cfg.attacks
        return a.enabled and (method in (ORIGINAL, ORACLE) or method in a.methods)

    def attack(self, refs: References, run: Run, model: SplitModel | None) -> Run:
        """Per-example attacks on one run (``attacks.npz`` beside its run.json), unless already there.

        Shadow models are built once per (scenario, seed) and cached on disk, so every attacked method and
        every rerun shares them. ``model`` None (a resumed run) re-runs the method as the benchmark did.
        """
        method, d = run.method, self.run_dir(refs.scenario, run.method, refs.seed)
        if self.has_attacks(run, d):
            return run
        settings = self.attack_settings()
        from sure_unlearn.attacks.pipeline import ShadowAttacks

        if refs.attacks is None:
            refs.attacks = ShadowAttacks(
                self.models,
                refs.prep,
                refs.scenario,
                refs.seed,
                n_shadows=settings["shadows"],
                n_models=settings["models"],
                n_nonmembers=settings["nonmembers"],
                progress=self.progress,
            )
        metrics, arrays = refs.attacks.run(
            method, model, self.method_cfgs.get((refs.scenario, method)), refs.original, refs.oracle
        )
        atomic_write_bytes(d / layout.ATTACKS_NPZ, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
        used = {str(k): str(v) for k, v in zip(arrays["models"], arrays["weights"], strict=True)}
        run = run.with_metrics(metrics, attacks=settings, info={**run.info, "attack_weights": used})
        self.write_run(run)
        return run

    # ---------------------------------------------------------------- the plan
    def plan(self) -> list[tuple[str, int, str]]:
        """This process's (scenario, seed, method) runs, references first within each (scenario, seed).

        With ``shard=(i, n)`` run j of (scenario, seed) group g belongs to shard (g + j) mod n: the
        assignment rotates from group to group, so each shard gets its share of every method (with k mod n
        over the flat list, a group size divisible by n would send a costly method to one shard in every
        group). Each shard visits its groups starting at a different one, so shards sharing a cache train
        different references first instead of waiting for each other.
        """
        methods = [m for m in self.cfg.methods if m != ORACLE]  # the cached oracle *is* the retrain run
        per_group = (*layout.REFERENCES, *methods)
        units = [(s, seed, m) for s in self.cfg.scenarios for seed in self.cfg.seeds for m in per_group]
        if self.shard is None:
            return units
        i, n = self.shard
        mine = [u for k, u in enumerate(units) if (k // len(per_group) + k % len(per_group)) % n == i]
        groups = list(dict.fromkeys((s, seed) for s, seed, _ in mine))
        start = (i * len(groups)) // n
        order = {g: k for k, g in enumerate(groups[start:] + groups[:start])}
        return sorted(mine, key=lambda u: order[(u[0], u[1])])

    def run_key(self, refs: References, method: str) -> str:
        if layout.is_reference(method):
            return content_key(base=refs.base_key, method=method)
        return content_key(
            base=refs.base_key,
            method=method,
            hparams=dataclasses.asdict(self.method_cfgs[(refs.scenario, method)]),
        )

    def reference_run(self, refs: References, name: str) -> tuple[SplitModel, Run]:
        """``original``, ``retrain`` or ``broken`` as a run: its model and its evaluation."""
        recipe_h = {**dataclasses.asdict(self.cfg.recipe), "epochs": self.cfg.recipe.epochs}
        if name == BROKEN:
            model = refs.broken
            return model, self.record(
                refs,
                name,
                model,
                {"head": "re-initialised", "epochs": 0},
                {"runtime_s": 0.0},
                {"reference": "the original with a freshly initialised head"},
            )
        model, meta = (refs.original, refs.o_meta) if name == ORIGINAL else (refs.oracle, refs.r_meta)
        runtime = {"runtime_s": float(meta["train_s"]), "seconds_per_epoch": float(meta["seconds_per_epoch"])}
        info = {
            "cached_model": meta["key"],
            "trained_in_this_process": meta["key"] in self.models.trained_here,
        }
        if name == ORACLE:
            self.timed(refs)
            runtime["rrt"] = 1.0
            info.update(rrt_oracle_s=refs.oracle_s, rrt_basis=refs.rrt_basis)
        return model, self.record(refs, name, model, recipe_h, runtime, info)

    def method_run(self, refs: References, method: str) -> tuple[SplitModel | None, Run]:
        """Unlearn with ``method`` and evaluate; a method that fails (e.g. diverges) is a failed run."""
        self.log(f"  {method}: unlearning")
        mcfg = self.method_cfgs[(refs.scenario, method)]
        try:
            model, hparams, runtime, info = self.unlearn(refs, method, mcfg)
            return model, self.record(refs, method, model, hparams, runtime, info)
        except RUN_FAILURES as e:
            self.log(f"  {method}: FAILED ({type(e).__name__}: {e})")
            return None, Run(
                method,
                refs.scenario,
                refs.seed,
                dataclasses.asdict(mcfg),
                status="failed",
                error=f"{type(e).__name__}: {e}",
            )

    def run_group(self, scenario: str, seed: int, methods: list[str]) -> None:
        """The runs of ``methods`` on one (scenario, seed), each with its gaps to this seed's oracle, added to
        ``self.runs`` (and written) as each finishes."""
        refs = self.references(scenario, seed)
        for method in methods:
            key = self.run_key(refs, method)
            run = self.cached_run(refs, method, key)
            if self.queue is None or self.complete(run):
                self.runs.append(self.finish(refs, method, key, run))
                continue
            path = self.run_dir(scenario, method, seed) / layout.RUN_JSON
            with self.queue.claimed(f"{scenario}-seed{seed}-{method}-{key}", path) as holder:
                if holder is not None:
                    self.log(f"  {method}: claimed by another process, {describe(holder)}")
                    continue
                self.runs.append(self.finish(refs, method, key, run))

    def finish(self, refs: References, method: str, key: str, run: Run | None) -> Run:
        """``run`` (the cached run, or None) made whole: run, with its gaps, and attacked where asked; written."""
        model: SplitModel | None = None
        if run is None:
            model, run = (
                self.reference_run(refs, method)
                if layout.is_reference(method)
                else self.method_run(refs, method)
            )
            run = dataclasses.replace(run, key=key)
        if run.ok:
            run = run.with_gaps(self.gaps_of(refs, run.metrics))
            if self.attacked(method):
                run = self.attack(refs, run, model)
        self.write_run(run)
        return run

    def complete(self, run: Run | None) -> bool:
        """Whether the cached ``run`` needs no more work: it exists, and carries its attacks where asked."""
        if run is None:
            return False
        d = self.run_dir(run.scenario, run.method, run.seed)
        return not (run.ok and self.attacked(run.method)) or self.has_attacks(run, d)

    def has_attacks(self, run: Run, d: Path) -> bool:
        return run.attacks == self.attack_settings() and (d / layout.ATTACKS_NPZ).exists()

    def attack_settings(self) -> dict[str, int]:
        a = self.cfg.attacks
        return {"shadows": a.shadows, "models": a.models, "nonmembers": a.nonmembers}

    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.out / layout.CONFIG_JSON, json.dumps(self.cfg.to_dict(), indent=1, default=str)
        )
        self.runs = []
        plan = self.plan()
        try:
            for group in dict.fromkeys((s, seed) for s, seed, _ in plan):
                self.run_group(*group, [m for s, seed, m in plan if (s, seed) == group])
                self.write()
        except KeyboardInterrupt:
            if self.runs:  # the summary of every finished run, so `sure report` can read a cut benchmark
                self.write(plots="none")
            raise
        # ROC curves, CKA per layer and embeddings read every run's files: once, at the end
        self.write(plots="all")
        return self.summary()

    def summary(self) -> dict[str, Any]:
        from sure_unlearn.report.ranking import summarise

        config = {**self.cfg.to_dict(), "device": str(self.device), "num_classes": self.data.num_classes}
        if self.shard is not None:
            config["shard"] = f"{self.shard[0]}/{self.shard[1]}"
        if self.queue is not None:
            config["queue"] = str(self.queue.root)
        return summarise(config, [r.to_dict(summary=True) for r in self.runs])

    def write(self, plots: PlotMode = "cheap") -> None:
        write_summary(self.out, self.summary(), plots=plots)
