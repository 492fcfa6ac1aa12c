"""SURE's cost on the `cpu` preset (issue 6), measured side by side in one process.

    .venv/bin/python benchmarks/speed_sure.py [--part epoch,quality,engine] [--scenario partial_class,random]
        [--threads 2] [--repeats 3] [--configs '{"name": {"alpha": 3.0}, ...}'] [--out FILE]

* ``engine``: training and evaluation throughput of the preset's model (width-16 ResNet-18, 32×32,
  batch 128 / 512) with and without channels-last, bf16 autocast (and, for evaluation, BatchNorm folded
  into the convolutions), with ``--engine-threads`` (1 and 2), interleaved.
* ``epoch``: one epoch of FineTune and of each SURE configuration on the preset's real data and cached
  original, interleaved (FT, SURE a, SURE b, FT, …) ``--repeats`` times; medians and the median of the
  per-repeat ratios SURE/FT.
* ``quality``: each SURE configuration at the preset's budget (3 epochs), evaluated against the cached
  oracle: gap_avg, gap_rep and the main metrics, wall time, and RRT. The oracle in the cache was timed in
  an earlier session under another load, so one oracle epoch is timed *now* and RRT = SURE seconds /
  (oracle seconds per epoch now × the oracle's epochs).

Every record is appended as one JSON line to ``--out`` (default
``benchmarks/results/speed_sure.jsonl``) with the machine, thread count and load average. Needs the
cpu preset's original and oracle in the model cache (``sure benchmark --preset cpu`` puts them there);
they are trained here if missing, which takes minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sure_unlearn.methods import RunContext, UnlearnData, make_config, run_method
from sure_unlearn.metrics import gaps
from sure_unlearn.models import SplitModel
from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.evaluate import evaluate
from sure_unlearn.protocol.presets import PRESETS
from sure_unlearn.protocol.references import seeded_generator
from sure_unlearn.train import Engine, fit

# SURE before issue 6 (64 domain samples per step, whole model) and the measured alternatives
CONFIGS: dict[str, dict[str, Any]] = {
    "before": {"domain_batch_size": 64},
    "one_pass": {"domain_batch_size": 0},  # whole model, the forget set once per epoch (target 1)
    "fast": {"freeze_blocks": 4, "retain_fraction": 0.5, "domain_batch_size": 0, "forget_passes": 3},
}
BUDGET = 3  # the cpu preset's epochs for every iterative method
KEYS = ("forget_acc", "retain_acc", "test_acc", "mia_efficacy", "rep_auc", "gap_avg", "gap_rep", "eval_s")


def machine(threads: int) -> dict[str, Any]:
    return {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "load": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__,
    }


def emit(out: Path, rec: dict[str, Any], threads: int) -> None:
    rec = {**rec, "machine": machine(threads), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print(json.dumps(rec), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(rec) + "\n")


# ------------------------------------------------------------------------------------------------ engine
def throughput(model: SplitModel, engine: Engine, train: bool, fold: bool = False, reps: int = 6) -> float:
    """Images per second of a training step (batch 128) or an eval forward (batch 512, BatchNorm folded
    into the convolutions when ``fold``), inside the engine's autocast; median of ``reps`` after two
    warm-up runs."""
    eng = engine.resolve(model)
    eng.prepare(model)
    x = eng.inputs(torch.rand(128 if train else 512, 3, 32, 32))
    y = torch.randint(0, 10, (len(x),))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=True)
    net = eng.inference(model) if fold else model
    times = []
    for _ in range(reps + 2):
        t = time.perf_counter()
        if train:
            model.train()
            with eng.autocast():
                loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            net.eval()
            with torch.no_grad(), eng.autocast():
                net(x)
        times.append(time.perf_counter() - t)
    return len(x) / statistics.median(times[2:])


def engine_part(bench: Benchmark, out: Path, repeats: int, thread_counts: list[int]) -> None:
    """Every case once per repeat, interleaved, so that load drift hits them alike."""
    cases = [  # (kind, channels_last, BatchNorm folded, bf16 autocast)
        ("train", False, False, False),
        ("train", True, False, False),
        ("train", True, False, True),
        ("eval", False, False, False),
        ("eval", True, False, False),
        ("eval", True, True, False),
        ("eval", True, True, True),
    ]
    rows: dict[str, list[float]] = {}
    for _ in range(repeats):
        for threads in thread_counts:
            torch.set_num_threads(threads)
            for kind, cl, fold, bf16 in cases:
                key = (
                    f"{kind} threads={threads} channels_last={cl}"
                    + (" bn_folded" if fold else "")
                    + (" bf16" if bf16 else "")
                )
                img_s = throughput(
                    bench.new_model(0), Engine(channels_last=cl, bf16=bf16), kind == "train", fold
                )
                rows.setdefault(key, []).append(img_s)
    for key, v in rows.items():
        rec = {
            "part": "engine",
            "case": key,
            "img_s": round(statistics.median(v), 1),
            "runs": [round(x, 1) for x in v],
        }
        emit(out, rec, torch.get_num_threads())


# ------------------------------------------------------------------------------------------------ epoch / quality
def run(
    name: str, hp: dict[str, Any], original: SplitModel, data: UnlearnData, scenario: str, seed: int = 0
) -> tuple[SplitModel, float, dict[str, Any]]:
    """One unlearning run from the cached original; ``seed`` varies only the method's own randomness."""
    ctx = RunContext(seeded_generator(torch.device("cpu"), name, scenario, seed))
    start = time.perf_counter()
    model = run_method(name, original, data, make_config(name, hp), ctx)
    return model, time.perf_counter() - start, ctx.info


def epoch_part(
    bench: Benchmark, scenario: str, configs: dict[str, dict[str, Any]], out: Path, repeats: int, threads: int
) -> None:
    prep = bench.prepare(scenario, 0)
    original, _ = bench.trained("original", 0, prep.split.train, prep.split.labels, prep.train_sets["train"])
    data = UnlearnData(
        forget=prep.train_sets["forget"], retain=prep.train_sets["retain"], val=prep.train_sets["val"]
    )
    spe: dict[str, list[float]] = {"finetune": []}
    ratios: dict[str, list[float]] = {}
    for _ in range(repeats):
        spe["finetune"].append(
            run("finetune", {"epochs": 1}, original, data, scenario)[2]["seconds_per_epoch"]
        )
        for cname, hp in configs.items():
            info = run("sure", {**hp, "epochs": 1, "early_stop": False}, original, data, scenario)[2]
            spe.setdefault(cname, []).append(info["seconds_per_epoch"])
            ratios.setdefault(cname, []).append(info["seconds_per_epoch"] / spe["finetune"][-1])
    ft = statistics.median(spe["finetune"])
    for cname in configs:
        emit(
            out,
            {
                "part": "epoch",
                "scenario": scenario,
                "config": cname,
                "hparams": configs[cname],
                "sure_s_per_epoch": round(statistics.median(spe[cname]), 3),
                "ft_s_per_epoch": round(ft, 3),
                "ratio_of_medians": round(statistics.median(spe[cname]) / ft, 3),
                "median_ratio": round(statistics.median(ratios[cname]), 3),
                "ratios": [round(r, 3) for r in ratios[cname]],
            },
            threads,
        )


def quality_part(
    bench: Benchmark,
    scenario: str,
    configs: dict[str, dict[str, Any]],
    out: Path,
    threads: int,
    seeds: list[int],
) -> None:
    prep = bench.prepare(scenario, 0)
    split = prep.split
    original, _ = bench.trained("original", 0, split.train, split.labels, prep.train_sets["train"])
    oracle, r_meta = bench.trained("retrain", 0, split.retain, split.labels, prep.train_sets["retain"])
    data = UnlearnData(
        forget=prep.train_sets["forget"], retain=prep.train_sets["retain"], val=prep.train_sets["val"]
    )
    recipe = dataclasses.replace(bench.cfg.recipe, epochs=1)

    def metrics(model: SplitModel) -> dict[str, float]:
        return evaluate(model, prep.sets, forget_classes=split.forget_classes, seed=0)[0]

    m_oracle = metrics(oracle)
    rows: dict[str, list[dict[str, float]]] = {c: [] for c in configs}
    for seed in seeds:  # seeds outermost: configs interleaved, so load drift hits them alike
        # one oracle epoch now (from scratch, the preset's recipe): RRT on this round's load
        one = fit(
            bench.new_model(0),
            prep.train_sets["retain"],
            recipe,
            seeded_generator(torch.device("cpu"), "o", seed),
        )
        oracle_s = one.seconds_per_epoch * int(r_meta["epochs"])
        emit(
            out,
            {
                "part": "oracle",
                "scenario": scenario,
                "seed": seed,
                "s_per_epoch_now": round(one.seconds_per_epoch, 3),
                "epochs": r_meta["epochs"],
                "train_s_cached": round(float(r_meta["train_s"]), 1),
                "eval_s": round(m_oracle["eval_s"], 2),
                "metrics": {k: round(m_oracle[k], 4) for k in KEYS[:5]},
            },
            threads,
        )
        for cname, hp in configs.items():
            hp = {"epochs": BUDGET, **hp}
            model, seconds, info = run("sure", hp, original, data, scenario, seed)
            m = metrics(model)
            g = gaps(m, m_oracle)
            row = {
                "seconds": seconds,
                "rrt": seconds / oracle_s,
                "gap_avg": g["gap_avg"],
                "gap_rep": g["gap_rep"],
                **{k: m[k] for k in KEYS if k in m},
            }
            rows[cname].append(row)
            emit(
                out,
                {
                    "part": "quality",
                    "scenario": scenario,
                    "config": cname,
                    "seed": seed,
                    "hparams": hp,
                    **{k: round(v, 4) for k, v in row.items()},
                    "epochs_run": info["epochs"],
                    "s_per_epoch": round(info["seconds_per_epoch"], 3),
                    "setup_s": round(info["setup_s"], 2),
                    "domain_batch": info["domain_batch"],
                    "probe_auc": [round(h["probe_auc"], 3) for h in info["history"] if "probe_auc" in h],
                },
                threads,
            )
    for cname, rs in rows.items():  # mean ± std over seeds
        summary = {
            k: [round(statistics.mean(r[k] for r in rs), 4), round(statistics.pstdev(r[k] for r in rs), 4)]
            for k in rs[0]
        }
        emit(
            out,
            {
                "part": "quality_summary",
                "scenario": scenario,
                "config": cname,
                "hparams": configs[cname],
                "seeds": seeds,
                "mean_std": summary,
            },
            threads,
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", default="epoch,quality")
    p.add_argument("--scenario", default="partial_class")
    p.add_argument(
        "--threads", type=int, default=1, help="1 on a shared machine: 2 threads spin under contention"
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--engine-threads", default="1,2", help="thread counts of the engine part")
    p.add_argument("--seeds", default="0", help="seeds of SURE's own randomness (quality part)")
    p.add_argument("--configs", default="", help="JSON {name: SURE hparams} (default: before/after)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "speed_sure.jsonl"))
    a = p.parse_args()
    configs = json.loads(a.configs) if a.configs else CONFIGS
    out = Path(a.out)
    bench = Benchmark(PRESETS.get("cpu")(), "/tmp/sure-speed")
    parts = a.part.split(",")
    if "engine" in parts:
        engine_part(bench, out, a.repeats, [int(t) for t in a.engine_threads.split(",")])
    torch.set_num_threads(a.threads)
    for scenario in a.scenario.split(","):
        if "epoch" in parts:
            epoch_part(bench, scenario, configs, out, a.repeats, a.threads)
        if "quality" in parts:
            quality_part(bench, scenario, configs, out, a.threads, [int(x) for x in a.seeds.split(",")])


if __name__ == "__main__":
    main()
