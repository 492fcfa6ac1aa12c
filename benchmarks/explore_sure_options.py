"""SURE's options at the cpu preset's tuning seed (100): erasure (rep_auc, per layer, label-aware), utility,
drift and cost of each configuration, one JSON line each, appended to benchmarks/results/sure_plus_explore.jsonl.

    SURE_DATA=../shared/data .venv/bin/python benchmarks/explore_sure_options.py random,partial_class \\
        benchmarks/configs/sure_options_round2.json [THREADS]

A configuration is SURE's hyperparameters on top of 3 epochs on the whole network; ``"_preset": true`` starts
from the preset's values instead, ``"_method"`` runs another method.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.config import method_config
from sure_unlearn.protocol.presets import cpu
from sure_unlearn.protocol.runs import Run
from sure_unlearn.protocol.similarity import rep_auc_layers

KEYS = (
    "forget_acc",
    "retain_acc",
    "test_acc",
    "val_acc",
    "mia_efficacy",
    "rep_mia_knn",
    "rep_mia_linear",
    "rep_auc",
    "rep_auc_cond",
    "val_drift",
    "forget_drift",
    "runtime_s",
    "rrt",
)
REF_KEYS = ("forget_acc", "test_acc", "val_acc", "rep_auc", "rep_auc_cond")
TERMS = ("distance", "dist_outputs", "dist_rep_membership", "dist_rep_probe", "dist_utility")
SEED = 100


def main(scenarios: list[str], configs: dict[str, dict], threads: int) -> None:
    torch.set_num_threads(threads)
    cfg = cpu().with_overrides(methods=("sure", "finetune"))
    bench = Benchmark(cfg, "/tmp/explore_sure_options", data_root=os.environ.get("SURE_DATA"))
    path = Path(__file__).parent / "results" / "sure_plus_explore.jsonl"
    for sc in scenarios:
        refs = bench.references(sc, SEED)
        ref = bench.reference_metrics(refs)
        for name, given in configs.items():
            hp = dict(given)
            method = hp.pop("_method", "sure")
            base = dict(cfg.hparams_for(sc, method)) if hp.pop("_preset", False) else {"epochs": 3}
            t = time.time()
            model, hparams, runtime, info = bench.unlearn(refs, method, method_config(method, {**base, **hp}))
            metrics, outs = bench.evaluate(refs, model)
            metrics = bench.scored(refs, method, metrics, outs) | runtime
            run = Run(method, sc, SEED, hparams, metrics, bench.gaps_of(refs, metrics), info)
            rec = {
                "scenario": sc,
                "seed": SEED,
                "config": name,
                "method": method,
                "hparams": {**base, **hp},
                **{k: run.gaps.get(k) for k in TERMS},
                **{k: run.metrics.get(k) for k in KEYS},
                "rep_auc_layers": rep_auc_layers(model, refs.prep.probe, SEED),
                "oracle": {k: ref["retrain"].get(k) for k in REF_KEYS},
                "original": {k: ref["original"].get(k) for k in REF_KEYS},
                "threads": torch.get_num_threads(),
                "wall_s": time.time() - t,
            }
            with path.open("a") as out:
                out.write(json.dumps(rec) + "\n")
            print(
                f"{sc} {name}: distance {rec['distance']:.3f}, rep_auc {rec['rep_auc']:.3f}, "
                f"label-aware {rec['rep_auc_cond']:.3f}, forget {rec['forget_acc']:.0f}, test {rec['test_acc']:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main(
        sys.argv[1].split(","),
        json.loads(Path(sys.argv[2]).read_text()),
        int(sys.argv[3]) if len(sys.argv) > 3 else 1,
    )
