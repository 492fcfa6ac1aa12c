"""bf16 autocast for *training* on a CPU with bf16 instructions: speed and what it does to the model.

    SURE_DATA=../shared/data .venv/bin/python benchmarks/bf16_cpu.py [SEED] [THREADS]

The `cpu` preset's original (partial_class split of SEED, default 0) as the preset trains it (fp32, from
the model cache when there) and trained again from the same initialisation and generator under bf16
autocast (``train.Engine(bf16=True)``); both evaluated in fp32 (``Engine.for_eval``) on the split: training
seconds (the fp32 time is the cache's, from whichever run trained it, so compare speed with
``speed_sure.py --part engine`` instead) and every metric, one JSON line each, appended to
``benchmarks/results/bf16_cpu.jsonl`` with the machine. The engine's automatic choice stays fp32 on CPUs
(results must not depend on which instructions a CPU has); this measures what an explicit switch would buy.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.evaluate import evaluate
from sure_unlearn.protocol.layout import ORIGINAL
from sure_unlearn.protocol.presets import PRESETS
from sure_unlearn.protocol.references import seeded_generator
from sure_unlearn.train import Engine, fit

KEYS = (
    "forget_acc",
    "retain_acc",
    "test_acc",
    "val_acc",
    "mia_efficacy",
    "mia_loss",
    "rep_mia_knn",
    "rep_mia_linear",
    "rep_auc",
    "rep_auc_cond",
)


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return sorted({f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f" {f}" in text})


def main(seed: int, threads: int) -> None:
    torch.set_num_threads(threads)
    cfg = PRESETS.get("cpu")()
    bench = Benchmark(cfg, "/tmp/bf16_cpu", data_root=os.environ.get("SURE_DATA"))
    prep = bench.prepare("partial_class", seed)
    split, train = prep.split, prep.train_sets["train"]
    out = Path(__file__).parent / "results" / "bf16_cpu.jsonl"
    # fp32: the preset's own original (from the cache, or trained here: deterministic either way)
    fp32, meta = bench.trained(ORIGINAL, seed, split.train, split.labels, train)
    bf16 = bench.new_model(seed)
    start = time.perf_counter()
    fit(bf16, train, cfg.recipe, seeded_generator(bench.device, "train", seed), engine=Engine(bf16=True))
    bf16_s = time.perf_counter() - start
    for name, model, seconds in (("fp32", fp32, meta.get("train_s")), ("bf16", bf16, bf16_s)):
        metrics, _ = evaluate(
            model, prep.sets, forget_classes=split.forget_classes, seed=seed, batch_size=cfg.eval_batch_size
        )
        rec = {
            "seed": seed,
            "training": name,
            "train_s": seconds,
            "epochs": cfg.recipe.epochs,
            "timed_here": name == "bf16" or meta["key"] in bench.models.trained_here,
            **{k: metrics.get(k) for k in KEYS},
            "machine": {
                "processor": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(),
                "flags": cpu_flags(),
                "threads": threads,
                "load": list(os.getloadavg()),
                "torch": torch.__version__,
            },
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        print(
            json.dumps(
                {
                    k: rec[k]
                    for k in ("training", "train_s", "test_acc", "retain_acc", "forget_acc", "rep_auc")
                }
            )
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
