"""The benchmark protocol: original, oracle, every method, every scenario and seed; results as files.

For each seed the original is trained once (shared by the random and class scenarios, which use the same
training set) and each scenario's oracle is retrained without its forget set; both are cached on disk under
a content key. Each method unlearns a copy of the original; everything is evaluated by one cached forward
pass per split. Every run is written to ``DIR/<scenario>/<method>/seed<k>/run.json`` as soon as it
finishes, so an interrupted benchmark resumes where it stopped; ``summary.json`` (SPEC §9) and
``summary.md`` are rewritten atomically after each run.
"""

from __future__ import annotations

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
from sure_unlearn.data.splits import SCENARIOS, Split, make_split, matched_sample
from sure_unlearn.data.types import NO_AUGMENT, DatasetBundle, LabeledData
from sure_unlearn.errors import ConfigError
from sure_unlearn.files import atomic_write_bytes, atomic_write_text, content_key
from sure_unlearn.methods import METHODS, RunContext, UnlearnData, make_config, run_method
from sure_unlearn.metrics import SplitOutputs
from sure_unlearn.metrics import gaps as metric_gaps
from sure_unlearn.models import ModelSpec, SplitModel, build_model
from sure_unlearn.protocol.checkpoints import ModelCache
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.protocol.evaluate import evaluate, save_features
from sure_unlearn.protocol.similarity import cka_to_references, layer_grams, probe_set
from sure_unlearn.report.tables import PlotMode, write_summary
from sure_unlearn.train import FitResult, fit

ORIGINAL, ORACLE = "original", "retrain"
ORACLE_REF = "oracle"  # the name CKA metrics use for the retrained model (cka_to_oracle)


def default_cache_dir() -> Path:
    return Path(os.environ.get("SURE_CACHE", Path.home() / ".cache" / "sure"))


def seeded_generator(device: torch.device, *parts: object) -> torch.Generator:
    """A generator on ``device`` seeded from ``parts`` (stable across runs and processes)."""
    seed = int(content_key(parts=[str(p) for p in parts]), 16) % (2**63)
    return torch.Generator(device=device).manual_seed(seed)


def environment(device: torch.device) -> dict[str, Any]:
    env = {
        "python": platform.python_version(), "torch": torch.__version__, "device": str(device),
        "machine": platform.machine(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def rows_of(outs: SplitOutputs, idx: np.ndarray) -> SplitOutputs:
    """The rows of ``outs`` whose dataset indices are ``idx``, in that order."""
    order = np.argsort(outs.idx)
    return outs.subset(order[np.searchsorted(outs.idx, idx, sorter=order)])


def trained_meta(kind: str, key: str, res: FitResult, device: torch.device) -> dict[str, Any]:
    """What the model cache records beside a trained original/oracle (shared with DDP and the GPU script)."""
    return {"kind": kind, "key": key, "train_s": res.seconds, "seconds_per_epoch": res.seconds_per_epoch,
            "epochs": res.epochs, "device": str(device), "final_loss": res.final_loss}


@dataclass
class Prepared:
    """One (scenario, seed): the split and its sets on the device."""

    split: Split
    sets: dict[str, LabeledData]  # forget/retain/test/val with *true* labels, for evaluation
    train_sets: dict[str, LabeledData]  # train/forget/retain with *training* labels, val, for learning
    probe: LabeledData  # D_f then as many never-seen test samples of its distribution (CKA, embeddings)


@dataclass
class References:
    """One (scenario, seed) ready for unlearning: the split, the original, the oracle and the methods' data."""

    scenario: str
    seed: int
    prep: Prepared
    original: SplitModel
    oracle: SplitModel
    o_meta: dict[str, Any]
    r_meta: dict[str, Any]
    data: UnlearnData
    base_key: str
    metrics: dict[str, dict[str, float]] | None = None  # the original's and oracle's, memoised
    attacks: Any = None  # the (scenario, seed)'s ShadowAttacks, built on first use
    grams: dict[str, dict[str, np.ndarray]] | None = None  # per-layer Grams of original and oracle on the probe

    @property
    def oracle_s(self) -> float:
        return float(self.r_meta["train_s"])


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
    ) -> None:
        for m in cfg.methods:
            METHODS.get(m)  # unknown names fail before any work
        for s in cfg.scenarios.values():
            SCENARIOS.get(s.name)
        self.method_cfgs = {m: make_config(m, cfg.hparams.get(m)) for m in cfg.methods}
        cfg.attacks.validate()
        not_run = set(cfg.attacks.methods) - set(cfg.methods) - {ORIGINAL, ORACLE}
        if not_run:
            raise ConfigError(f"attacks.methods names {sorted(not_run)}, which the benchmark does not run; "
                              f"add them to methods or drop them from attacks.methods")
        unknown = set(cfg.hparams) - set(cfg.methods) - set(METHODS.available())
        if unknown:
            raise ConfigError(f"hyperparameters given for unknown method(s) {sorted(unknown)}")
        self.cfg, self.out = cfg, Path(out)
        self.device = torch.device(device)
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.models = ModelCache(self.cache_dir / "models")
        self.save_features, self.progress = save_features, progress
        self.log = log or (lambda msg: None)
        self.data: DatasetBundle = load_dataset(
            cfg.dataset, data_root, cache_dir=self.cache_dir / "datasets", **cfg.dataset_kwargs
        )
        self.spec = ModelSpec(
            num_classes=self.data.num_classes, in_channels=self.data.image_shape[0],
            image_size=self.data.image_shape[1], mean=self.data.mean, std=self.data.std,
        )
        self.runs: list[dict[str, Any]] = []

    # ---------------------------------------------------------------- data and models
    def prepare(self, scenario: str, seed: int) -> Prepared:
        c = self.cfg
        split = make_split(
            self.data.train.y, self.data.test.y, self.data.classes, c.scenarios[scenario], seed,
            holdout_fraction=c.holdout_fraction, train_subset=c.train_subset, test_subset=c.test_subset,
        )
        aug = self.data.augment if c.recipe.augment else NO_AUGMENT

        def on_device(arr: Any, idx: np.ndarray, labels: np.ndarray | None = None, augment: Any = NO_AUGMENT) -> LabeledData:
            return LabeledData.from_arrays(arr, idx, augment, self.device, labels)

        tr, te = self.data.train, self.data.test
        sets = {
            "forget": on_device(tr, split.forget), "retain": on_device(tr, split.retain, split.labels),
            "test": on_device(te, split.test), "val": on_device(tr, split.val),
        }
        train_sets = {
            "train": on_device(tr, split.train, split.labels, aug),
            "forget": on_device(tr, split.forget, split.labels, aug),
            "retain": on_device(tr, split.retain, split.labels, aug),
            "val": on_device(tr, split.val, None, aug),
        }
        like_forget = matched_sample(tr.y[split.forget], te.y, split.test, np.random.default_rng([seed, 0xC4A]))
        probe = probe_set(sets["forget"], on_device(te, like_forget), seed)
        return Prepared(split, sets, train_sets, probe)

    def new_model(self, seed: int) -> SplitModel:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(self.cfg.model, self.spec, **self.cfg.model_kwargs)
        return model.to(self.device)

    def model_key(self, seed: int, train_idx: np.ndarray, labels: np.ndarray) -> str:
        """The cache key of a model of this config trained from ``seed`` on ``train_idx`` with ``labels``
        (everything that determines it; shared with DDP training, ``sure_unlearn.protocol.distributed``)."""
        c = self.cfg
        return content_key(
            dataset=c.dataset, dataset_kwargs=c.dataset_kwargs, n_train=len(self.data.train),
            model=c.model, model_kwargs=c.model_kwargs, recipe=c.recipe, train_idx=train_idx,
            labels=labels[train_idx], seed=seed,
        )

    def trained(self, kind: str, seed: int, train_idx: np.ndarray, labels: np.ndarray, data: LabeledData) -> tuple[SplitModel, dict[str, Any]]:
        """The original or oracle for ``seed``, trained on ``data`` (= ``train_idx``), from the cache if there."""
        c = self.cfg
        key = self.model_key(seed, train_idx, labels)
        model = self.new_model(seed)
        meta = self.models.load(kind, key, model)
        if meta is not None:
            self.log(f"  {kind}: cached ({self.models.path(kind, key).name})")
            return model, meta
        self.log(f"  {kind}: training on {len(train_idx)} samples, {c.recipe.epochs} epochs")
        res = fit(model, data, c.recipe, seeded_generator(self.device, "train", seed), progress=self.progress, desc=kind)
        meta = trained_meta(kind, key, res, self.device)
        self.models.save(kind, key, model, meta)
        return model, meta

    # ---------------------------------------------------------------- runs
    def run_dir(self, scenario: str, method: str, seed: int) -> Path:
        return self.out / scenario / method / f"seed{seed}"

    def evaluate(self, refs: References, model: SplitModel) -> tuple[dict[str, float], dict[str, SplitOutputs]]:
        """Every metric of ``model`` on ``refs``' splits, and the cached forward pass they came from."""
        return evaluate(model, refs.prep.sets, forget_classes=refs.prep.split.forget_classes, seed=refs.seed,
                        z_layer="", batch_size=self.cfg.eval_batch_size)

    def record(self, refs: References, method: str, model: SplitModel,
               hparams: dict[str, Any], runtime: dict[str, float], info: dict[str, Any]) -> dict[str, Any]:
        scenario, seed = refs.scenario, refs.seed
        metrics, outs = self.evaluate(refs, model)
        metrics.update(runtime)
        d = self.run_dir(scenario, method, seed)
        if self.save_features:
            save_features(d / "features.npz", outs)
        # where in the network the representation moved: linear CKA per layer to the oracle and the original
        if refs.grams is None:
            refs.grams = {ORACLE_REF: layer_grams(refs.oracle, refs.prep.probe),
                          ORIGINAL: layer_grams(refs.original, refs.prep.probe)}
        cka, per_layer = cka_to_references(model, refs.prep.probe, refs.grams)
        metrics.update(cka)
        atomic_write_text(d / "cka.json", json.dumps(per_layer, default=float))
        # a sample for 2-D embeddings in reports: the probe's forget and never-seen halves, whose z the
        # evaluation pass above already computed (the never-seen half is drawn from the test split)
        m = len(refs.prep.probe) // 2
        idx = refs.prep.probe.idx.numpy()
        forget, test = (rows_of(outs[s], part) for s, part in (("forget", idx[:m]), ("test", idx[m:])))
        embed = {"forget_z": forget.z, "test_z": test.z, "forget_y": forget.y, "test_y": test.y}
        atomic_write_bytes(d / "embed.npz", lambda f: np.savez(f, **embed))  # type: ignore[arg-type]
        return {"method": method, "scenario": scenario, "seed": seed, "hparams": hparams,
                "metrics": metrics, "gaps": {}, "info": info}

    def write_run(self, run: dict[str, Any], key: str) -> None:
        d = self.run_dir(run["scenario"], run["method"], run["seed"])
        atomic_write_text(d / "run.json", json.dumps({**run, "key": key, "env": environment(self.device)}, indent=1, default=float))

    def cached_run(self, scenario: str, method: str, seed: int, key: str) -> dict[str, Any] | None:
        p = self.run_dir(scenario, method, seed) / "run.json"
        if not p.exists() or (self.save_features and not (p.parent / "features.npz").exists()):
            return None
        try:
            run = json.loads(p.read_text())
        except ValueError:
            return None
        return run if run.get("key") == key else None

    def references(self, scenario: str, seed: int) -> References:
        """The split, the original and the oracle of one (scenario, seed), trained or from the cache."""
        c = self.cfg
        prep = self.prepare(scenario, seed)
        split = prep.split
        split.save(self.out / scenario / f"seed{seed}" / "split.npz")
        self.log(f"[{scenario} seed {seed}] forget {len(split.forget)}, retain {len(split.retain)}, "
                 f"val {len(split.val)}, test {len(split.test)}")
        original, o_meta = self.trained(ORIGINAL, seed, split.train, split.labels, prep.train_sets["train"])
        oracle, r_meta = self.trained(ORACLE, seed, split.retain, split.labels, prep.train_sets["retain"])
        data = UnlearnData(
            forget=prep.train_sets["forget"], retain=prep.train_sets["retain"], val=prep.train_sets["val"],
            num_classes=self.data.num_classes, original_recipe=c.recipe,
            init_state=self.new_model(seed).state_dict(),  # θ_init: the original's weights at step 0 (EU-k)
        )
        base_key = content_key(split=[split.forget, split.retain, split.val, split.test], o=o_meta["key"], r=r_meta["key"])
        return References(scenario, seed, prep, original, oracle, o_meta, r_meta, data, base_key)

    def unlearn(self, refs: References, method: str, mcfg: Any) -> tuple[SplitModel, dict[str, Any], dict[str, float], dict[str, Any]]:
        """Run ``method`` on a copy of the original: (model, hparams incl. epochs, runtime metrics, info)."""
        hparams = dataclasses.asdict(mcfg)
        ctx = RunContext(seeded_generator(self.device, method, refs.scenario, refs.seed), progress=self.progress)
        start = time.perf_counter()
        model = run_method(method, refs.original, refs.data, mcfg, ctx)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        info = dict(ctx.info)
        epochs = int(info.pop("epochs", hparams.get("epochs", 0)))
        spe = info.pop("seconds_per_epoch", seconds / epochs if epochs else None)
        runtime = {"runtime_s": seconds, "rrt": seconds / refs.oracle_s}
        if epochs > 0 and spe is not None:  # one-shot methods (SSD, IU) have no epochs to time
            runtime["seconds_per_epoch"] = float(spe)
        return model, {**hparams, "epochs": epochs}, runtime, info

    def evaluate_run(self, refs: References, method: str, mcfg: Any) -> dict[str, Any]:
        """Unlearn and evaluate without writing anything: a run dict whose ``gaps`` are to this seed's oracle.

        The building block of hyperparameter search (``sure tune``): the original and oracle come from the
        cache, and nothing of the trial touches the results directory.
        """
        oracle_metrics = self.reference_metrics(refs)[ORACLE]
        model, hparams, runtime, info = self.unlearn(refs, method, mcfg)
        metrics, _ = self.evaluate(refs, model)
        metrics.update(runtime)
        return {"method": method, "scenario": refs.scenario, "seed": refs.seed, "hparams": hparams,
                "metrics": metrics, "gaps": metric_gaps(metrics, oracle_metrics), "info": info}

    def reference_metrics(self, refs: References) -> dict[str, dict[str, float]]:
        """The original's and the oracle's metrics for ``refs`` (computed once, then memoised)."""
        if refs.metrics is None:
            refs.metrics = {}
            for name, model in ((ORIGINAL, refs.original), (ORACLE, refs.oracle)):
                refs.metrics[name], _ = self.evaluate(refs, model)
        return refs.metrics

    def attacked(self, method: str) -> bool:
        a = self.cfg.attacks
        return a.enabled and (method in (ORIGINAL, ORACLE) or method in a.methods)

    def attack(self, refs: References, run: dict[str, Any], model: SplitModel | None, key: str) -> None:
        """Per-example attacks on one run (``attacks.npz`` beside its run.json), unless already there.

        Shadow models are built once per (scenario, seed) and cached on disk, so every attacked method and
        every rerun shares them. ``model`` None (a resumed run) re-runs the method as the benchmark did.
        """
        method, d = run["method"], self.run_dir(refs.scenario, run["method"], refs.seed)
        settings = {"shadows": self.cfg.attacks.shadows, "models": self.cfg.attacks.models, "nonmembers": self.cfg.attacks.nonmembers}
        if run.get("attacks") == settings and (d / "attacks.npz").exists():
            return
        from sure_unlearn.attacks.pipeline import ShadowAttacks

        if refs.attacks is None:
            refs.attacks = ShadowAttacks(self, refs.prep, refs.scenario, refs.seed, n_shadows=settings["shadows"],
                                         n_models=settings["models"], n_nonmembers=settings["nonmembers"], progress=self.progress)
        metrics, arrays = refs.attacks.run(method, model, self.method_cfgs.get(method), refs.original, refs.oracle)
        atomic_write_bytes(d / "attacks.npz", lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
        run["metrics"].update(metrics)
        run["attacks"] = settings
        self.write_run(run, key)

    def run_scenario_seed(self, scenario: str, seed: int) -> list[dict[str, Any]]:
        c = self.cfg
        refs = self.references(scenario, seed)
        recipe_h = {**dataclasses.asdict(c.recipe), "epochs": c.recipe.epochs}

        runs = []
        for name, model, meta in ((ORIGINAL, refs.original, refs.o_meta), (ORACLE, refs.oracle, refs.r_meta)):
            key = content_key(base=refs.base_key, method=name)
            run = self.cached_run(scenario, name, seed, key)
            if run is None:
                runtime = {"runtime_s": float(meta["train_s"]), "rrt": float(meta["train_s"]) / refs.oracle_s,
                           "seconds_per_epoch": float(meta["seconds_per_epoch"])}
                run = self.record(refs, name, model, recipe_h, runtime, {"cached_model": meta["key"]})
                self.write_run(run, key)
            if self.attacked(name):
                self.attack(refs, run, model, key)
            runs.append(run)

        for method in c.methods:
            if method == ORACLE:
                continue  # the cached oracle *is* the retrain run
            mcfg = self.method_cfgs[method]
            key = content_key(base=refs.base_key, method=method, hparams=dataclasses.asdict(mcfg))
            run = self.cached_run(scenario, method, seed, key)
            unlearned: SplitModel | None = None
            if run is None:
                self.log(f"  {method}: unlearning")
                unlearned, hparams, runtime, info = self.unlearn(refs, method, mcfg)
                run = self.record(refs, method, unlearned, hparams, runtime, info)
                self.write_run(run, key)
            if self.attacked(method):
                self.attack(refs, run, unlearned, key)
            runs.append(run)
        oracle_metrics = runs[1]["metrics"]
        for run in runs:
            run["gaps"] = metric_gaps(run["metrics"], oracle_metrics)
        return runs

    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "config.json", json.dumps(self.cfg.to_dict(), indent=1, default=str))
        self.runs = []
        for scenario in self.cfg.scenarios:
            for seed in self.cfg.seeds:
                self.runs.extend(self.run_scenario_seed(scenario, seed))
                self.write()
        self.write(plots="all")  # ROC curves, CKA per layer and embeddings read every run's files: once, at the end
        return self.summary()

    def summary(self) -> dict[str, Any]:
        runs = [{k: r[k] for k in ("method", "scenario", "seed", "hparams", "metrics", "gaps")} for r in self.runs]
        return {"config": {**self.cfg.to_dict(), "device": str(self.device)}, "runs": runs}

    def write(self, plots: PlotMode = "cheap") -> None:
        write_summary(self.out, self.summary(), plots=plots)
