"""The `paper` preset on one GPU inside one 10-minute command: original, oracle, FineTune and SURE, evaluated.

    PYTHONPATH=src python3 benchmarks/gpu_paper.py --data-root gpu_data            # on the GPU machine
    .venv/bin/python benchmarks/gpu_paper.py --tiny                                 # a CPU check in < 1 min

Full CIFAR-10 (45,000 training images after the 10% holdout), ResNet-18 width 64 (CIFAR stem), the paper
recipe (SGD 0.1, batch 256, cosine) for ``--epochs`` epochs (default 80, not 150: the arithmetic is in
``gpu_paper.md``), the partial_class scenario (100 cats), seed 0. Throughput levers (REFERENCES §5.5): data
on the GPU as uint8 with batched crop/flip there (``LabeledData``); bf16 autocast and channels-last
(``train.Engine``'s automatic choice on CUDA; ``--fp32`` turns bf16 off); ``--compile`` for the original and
the oracle; evaluation batches of ``--eval-batch`` (default 2,048); cuDNN autotuning.

The original and the oracle are stored in the model cache under the key ``Benchmark.trained`` uses, so a
rerun (or a ``sure benchmark`` with the same config) reuses them. A time guard keeps the whole run inside
``--budget-s`` (default 540 s, leaving a margin under a 600 s limit): after each training epoch it predicts
when the original and oracle will be done and stops early, recording the epoch count that would fit, when
they would leave less than ``--reserve-s`` for the unlearning and evaluation; later phases are skipped once
the deadline has passed. ``results.json`` is rewritten after every phase, so whatever finished is kept.

Writes to ``$OUT`` (default ``./out``): ``results.json`` (phases with seconds, throughput, the GPU, the
config, every metric and gap), and ``summary.json`` / ``summary.md`` / ``metrics.png`` in SPEC §9's format.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from sure_unlearn.data.types import NO_AUGMENT
from sure_unlearn.files import atomic_write_text
from sure_unlearn.methods import RunContext, UnlearnData, run_method
from sure_unlearn.metrics import gaps
from sure_unlearn.models import SplitModel
from sure_unlearn.protocol.benchmark import ORACLE, ORIGINAL, Benchmark
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.protocol.distributed import model_key
from sure_unlearn.protocol.evaluate import collect, evaluate
from sure_unlearn.protocol.presets import PRESETS
from sure_unlearn.protocol.references import Prepared, seeded_generator, trained_meta
from sure_unlearn.report.tables import write_summary
from sure_unlearn.train import Engine, accuracy, fit


class OutOfTime(Exception):
    """Raised by the epoch guard to stop training before the budget runs out."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Results:
    """``results.json``: phases with their seconds, rewritten (atomically) after every phase."""

    def __init__(self, out: Path, budget_s: float, device: torch.device, meta: dict[str, Any]) -> None:
        self.out, self.device = out, device
        self.start = time.perf_counter()
        self.deadline = self.start + budget_s
        self.train_start = 0.0  # when the first reference model began training (for the guard's advice)
        self.data: dict[str, Any] = {**meta, "complete": False, "phases": {}, "runs": [], "skipped": []}
        out.mkdir(parents=True, exist_ok=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    @contextmanager
    def phase(self, name: str, **info: Any) -> Iterator[dict[str, Any]]:
        """Time a phase (device synchronised at both ends); ``info`` and what the body adds are recorded."""
        sync(self.device)
        log(f"{name} …")
        t = time.perf_counter()
        record: dict[str, Any] = dict(info)
        try:
            yield record
        finally:
            sync(self.device)
            record["seconds"] = round(time.perf_counter() - t, 3)
            self.data["phases"][name] = record
            self.write()
            log(f"{name}: {record['seconds']:.1f} s")

    def skip(self, name: str, why: str) -> None:
        log(f"skipping {name}: {why}")
        self.data["skipped"].append({"phase": name, "why": why})
        self.write()

    def write(self) -> None:
        self.data["elapsed_s"] = round(self.elapsed(), 3)
        if self.device.type == "cuda":
            self.data["max_memory_gib"] = round(torch.cuda.max_memory_allocated(self.device) / 2**30, 2)
        atomic_write_text(self.out / "results.json", json.dumps(self.data, indent=1, default=float))


def make_config(a: argparse.Namespace) -> BenchmarkConfig:
    """The `paper` preset narrowed to one scenario, one seed, FineTune and SURE (or its --tiny version)."""
    cfg = PRESETS.get("paper")()
    scenario = cfg.scenarios[a.scenario]
    epochs, ft, su = 80, 10, 20  # paper: 150 epochs; FineTune 10 (OPTML); SURE 20 (the paper's)
    if a.tiny:  # 900 training images (1,000 minus the holdout), width 8: the CPU check
        cfg = cfg.with_overrides(train_subset=1000, test_subset=500, model_kwargs={"width": 8})
        scenario = dataclasses.replace(scenario, n=20) if scenario.n else scenario
        epochs, ft, su = 2, 1, 1
    epochs, ft, su = a.epochs or epochs, a.finetune_epochs or ft, a.sure_epochs or su
    return cfg.with_overrides(
        recipe=dataclasses.replace(cfg.recipe, epochs=epochs),
        scenarios={a.scenario: scenario},
        methods=("finetune", "sure"),
        hparams={"finetune": {"epochs": ft}, "sure": {"epochs": su}},
        seeds=(a.seed,),
        eval_batch_size=a.eval_batch,
    )


def train_reference(
    res: Results,
    bench: Benchmark,
    prep: Prepared,
    kind: str,
    seed: int,
    engine: Engine,
    reserve_s: float,
    other_epochs: int,
) -> tuple[SplitModel, dict[str, Any]] | None:
    """The original or oracle from the cache, else trained with ``engine`` and cached; None if out of time.

    The guard, after each epoch at the measured seconds/epoch: stop if this model's remaining epochs plus
    ``other_epochs`` (the oracle's, while training the original) would end later than the deadline minus
    ``reserve_s``.
    """
    split, recipe = prep.split, bench.cfg.recipe
    idx, data = (
        (split.train, prep.train_sets["train"])
        if kind == ORIGINAL
        else (split.retain, prep.train_sets["retain"])
    )
    key = model_key(bench, seed, idx, split.labels)
    model = bench.new_model(seed)
    meta = bench.models.cache.load(kind, key, model)
    if meta is not None:
        res.data["phases"][f"train_{kind}"] = {"cached": True, **meta}
        log(f"{kind}: cached ({bench.models.cache.path(kind, key).name})")
        return model, meta
    res.train_start = res.train_start or time.perf_counter()
    last = [time.perf_counter()]

    def guard(epoch: int) -> None:
        # the latest epoch's seconds: the first epoch also carries compilation and cuDNN autotuning
        now = time.perf_counter()
        s_epoch, last[0] = now - last[0], now
        left = recipe.epochs - epoch - 1 + other_epochs
        if now > res.deadline or (epoch > 0 and now + s_epoch * left > res.deadline - reserve_s):
            fits = math.floor((res.deadline - reserve_s - res.train_start) / (2 * s_epoch))
            raise OutOfTime(
                f"{kind} stopped after epoch {epoch + 1}: at {s_epoch:.2f} s/epoch the {left} epochs to go would "
                f"leave less than {reserve_s:.0f} s for unlearning and evaluation; about --epochs {max(fits, 1)} fits"
            )

    with res.phase(f"train_{kind}", n_images=len(data), epochs=recipe.epochs) as rec:
        try:
            fr = fit(
                model,
                data,
                recipe,
                seeded_generator(bench.device, "train", seed),
                engine=engine,
                epoch_hook=guard,
                progress=sys.stderr.isatty(),
                desc=kind,
            )
        except OutOfTime as e:
            rec.update(complete=False, stopped=str(e))
            res.skip(f"train_{kind}", str(e))
            return None
        train_acc = accuracy(model, data.with_augment(NO_AUGMENT), bench.cfg.eval_batch_size)
        rec.update(
            complete=True,
            seconds_per_epoch=fr.seconds_per_epoch,
            final_loss=fr.final_loss,
            train_images_per_s=len(data) * fr.epochs / fr.seconds,
            train_acc=train_acc,
        )
    meta = {
        **trained_meta(kind, key, fr, bench.device),
        "world_size": 1,
        "engine": dataclasses.asdict(engine.resolve(model)),
    }
    bench.models.cache.save(kind, key, model, meta)
    return model, meta


def evaluated(
    res: Results, bench: Benchmark, prep: Prepared, name: str, model: SplitModel, seed: int
) -> dict[str, float]:
    with res.phase(f"eval_{name}") as rec:
        metrics, _ = evaluate(
            model,
            prep.sets,
            forget_classes=prep.split.forget_classes,
            seed=seed,
            batch_size=bench.cfg.eval_batch_size,
        )
        rec["eval_s"] = metrics["eval_s"]
    return metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data-root", help="folder holding cifar10-jpeg.tar.xz (default: $SURE_DATA, else ./data)"
    )
    p.add_argument(
        "--cache-dir", help="decoded data and cached models (default: $SURE_CACHE or ~/.cache/sure)"
    )
    p.add_argument(
        "--out", default=os.environ.get("OUT", "out"), help="results folder (default: $OUT or ./out)"
    )
    p.add_argument("--epochs", type=int, help="original and oracle epochs (default 80; paper: 150)")
    p.add_argument("--finetune-epochs", type=int, help="FineTune epochs (default: OPTML's 10)")
    p.add_argument("--sure-epochs", type=int, help="SURE epochs (default: the paper's 20)")
    p.add_argument(
        "--scenario", default="partial_class", choices=["partial_class", "random", "full_class", "confusion"]
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-batch", type=int, default=2048)
    p.add_argument(
        "--compile", action="store_true", help="torch.compile the original's and oracle's training step"
    )
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast (a baseline for the speed-up)")
    p.add_argument("--budget-s", type=float, default=540.0, help="stop cleanly within this many seconds")
    p.add_argument(
        "--reserve-s", type=float, default=120.0, help="kept for unlearning + evaluation after training"
    )
    p.add_argument("--device", default="auto", help="auto (cuda if available), cuda or cpu")
    p.add_argument(
        "--tiny", action="store_true", help="CPU check: 1,000 images, width 8, 2 epochs, 1 per method"
    )
    a = p.parse_args(argv)

    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest convolutions
    cfg = make_config(a)
    engine = Engine(bf16=False if a.fp32 else None, compile=a.compile)
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        env.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda)
    out = Path(a.out)
    res = Results(out, a.budget_s, device, {"config": cfg.to_dict(), "args": vars(a), "env": env})
    log(f"{env.get('gpu', device)}: {cfg.name} preset, {cfg.recipe.epochs} epochs, engine {engine}")

    with res.phase("load_data") as rec:
        bench = Benchmark(cfg, out, device=device, data_root=a.data_root, cache_dir=a.cache_dir)
        rec.update(n_train=len(bench.data.train), n_test=len(bench.data.test))
    with res.phase("prepare_split") as rec:
        prep = bench.prepare(a.scenario, a.seed)
        rec.update({k: len(getattr(prep.split, k)) for k in ("train", "forget", "retain", "val", "test")})

    refs = {}
    for kind, other in ((ORIGINAL, cfg.recipe.epochs), (ORACLE, 0)):
        got = train_reference(res, bench, prep, kind, a.seed, engine, a.reserve_s, other)
        if got is None:
            return finish(res, out)
        refs[kind] = got
    (original, o_meta), (oracle, r_meta) = refs[ORIGINAL], refs[ORACLE]
    oracle_s = float(r_meta["train_s"])

    with res.phase("eval_throughput") as rec:  # one timed forward over the retain set
        t = time.perf_counter()
        collect(original, prep.sets["retain"], cfg.eval_batch_size)
        sync(device)
        rec["eval_images_per_s"] = len(prep.sets["retain"]) / (time.perf_counter() - t)

    runs: list[dict[str, Any]] = []
    recipe_h = {**dataclasses.asdict(cfg.recipe)}
    for name, model, meta in ((ORIGINAL, original, o_meta), (ORACLE, oracle, r_meta)):
        if res.left() <= 0:
            res.skip(f"eval_{name}", "deadline passed")
            return finish(res, out)
        m = evaluated(res, bench, prep, name, model, a.seed)
        m.update(
            runtime_s=float(meta["train_s"]),
            rrt=float(meta["train_s"]) / oracle_s,
            seconds_per_epoch=float(meta["seconds_per_epoch"]),
        )
        runs.append(
            {"method": name, "scenario": a.scenario, "seed": a.seed, "hparams": recipe_h, "metrics": m}
        )

    data = UnlearnData(
        forget=prep.train_sets["forget"],
        retain=prep.train_sets["retain"],
        val=prep.train_sets["val"],
        num_classes=bench.data.num_classes,
        original_recipe=cfg.recipe,
        init_state=bench.new_model(a.seed).state_dict(),
    )
    for method in cfg.methods:
        if res.left() <= 0:
            res.skip(method, "deadline passed")
            continue
        mcfg = bench.method_cfgs[method]
        ctx = RunContext(seeded_generator(device, method, a.scenario, a.seed))
        with res.phase(f"unlearn_{method}") as rec:
            t = time.perf_counter()
            model = run_method(method, original, data, mcfg, ctx)
            sync(device)
            seconds = time.perf_counter() - t
            epochs = int(ctx.info.get("epochs", mcfg.epochs))
            rec.update(
                epochs=epochs, seconds_per_epoch=ctx.info.get("seconds_per_epoch", seconds / max(epochs, 1))
            )
        m = evaluated(res, bench, prep, method, model, a.seed)
        m.update(runtime_s=seconds, rrt=seconds / oracle_s, seconds_per_epoch=float(rec["seconds_per_epoch"]))
        info = {k: v for k, v in ctx.info.items() if k not in ("epochs", "seconds_per_epoch", "history")}
        runs.append(
            {
                "method": method,
                "scenario": a.scenario,
                "seed": a.seed,
                "info": info,
                "hparams": {**dataclasses.asdict(mcfg), "epochs": epochs},
                "metrics": m,
            }
        )

    for run in runs:
        run["gaps"] = gaps(run["metrics"], runs[1]["metrics"])
    res.data["runs"] = runs
    write_summary(
        out,
        {
            "config": {**cfg.to_dict(), "device": str(device)},
            "runs": [
                {k: r[k] for k in ("method", "scenario", "seed", "hparams", "metrics", "gaps")} for r in runs
            ],
        },
    )
    res.data["complete"] = not res.data["skipped"]
    return finish(res, out)


def finish(res: Results, out: Path) -> int:
    res.write()
    d = res.data
    log(
        f"done in {res.elapsed():.1f} s ({'complete' if d['complete'] else 'PARTIAL'}); results in {out}/results.json"
    )
    for r in d["runs"]:
        m = r["metrics"]
        log(
            f"  {r['method']:9s} forget {m['forget_acc']:5.1f}  retain {m['retain_acc']:5.1f}  test {m['test_acc']:5.1f}"
            f"  rep_auc {m['rep_auc']:.3f}  time {m['runtime_s']:7.1f} s  rrt {m['rrt']:.3f}"
        )
    return 0 if d["complete"] else 3


if __name__ == "__main__":
    sys.exit(main())
