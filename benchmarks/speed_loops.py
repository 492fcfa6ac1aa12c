"""The methods with their own training loop, with and without the engine's channels-last layout.

    SURE_DATA=../shared/data .venv/bin/python benchmarks/speed_loops.py [METHODS] [REPEATS] [THREADS]

NegGrad+, RandomLabel and SCRUB (and SalUn, through RandomLabel's loop) train in loops of their own
rather than in ``train.fit``. Each takes its layout and precision from ``RunContext.engine``: this script
runs one epoch of each on the `cpu` preset's cached original (partial_class, seed 0) with
``Engine(channels_last=False)`` (NCHW, how those loops ran before they used the engine) and with the
automatic engine (channels-last on this CPU), interleaved ``REPEATS`` times (default 3); it prints the
median seconds per epoch and their ratio, and appends one JSON line per method to
``benchmarks/results/speed_loops.jsonl`` with the machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.presets import PRESETS
from sure_unlearn.train import Engine

ENGINES = {"nchw": Engine(channels_last=False), "auto": None}


def main(methods: list[str], repeats: int, threads: int) -> None:
    torch.set_num_threads(threads)
    cfg = PRESETS.get("cpu")()
    bench = Benchmark(
        cfg.with_overrides(methods=tuple(methods)), "/tmp/speed_loops", data_root=os.environ.get("SURE_DATA")
    )
    refs = bench.references("partial_class", 0)
    out = Path(__file__).parent / "results" / "speed_loops.jsonl"
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for m in methods:
            mcfg = make_config(m, {**cfg.hparams.get(m, {}), "epochs": 1})
            for name, engine in ENGINES.items():
                ctx = RunContext(torch.Generator().manual_seed(0), engine=engine)
                start = time.perf_counter()
                run_method(m, refs.original, refs.data, mcfg, ctx)
                times.setdefault((m, name), []).append(time.perf_counter() - start)
    for m in methods:
        nchw, auto = (statistics.median(times[(m, k)]) for k in ENGINES)
        rec = {
            "method": m,
            "epoch_s_nchw": round(nchw, 2),
            "epoch_s_auto": round(auto, 2),
            "speedup": round(nchw / auto, 3),
            "runs_nchw": [round(t, 2) for t in times[(m, "nchw")]],
            "runs_auto": [round(t, 2) for t in times[(m, "auto")]],
            "machine": {
                "processor": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(),
                "threads": threads,
                "load": list(os.getloadavg()),
                "torch": torch.__version__,
            },
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"{m}: {nchw:.1f} s NCHW, {auto:.1f} s automatic, {nchw / auto:.2f}x")


if __name__ == "__main__":
    a = sys.argv[1:]
    main(
        (a[0] if a else "neggrad_plus,random_label,scrub").split(","),
        int(a[1]) if len(a) > 1 else 3,
        int(a[2]) if len(a) > 2 else 1,
    )
