"""What a challenge run's statistics cost: the full statistics a shadow needs (φ and the representation
margin on the targets, with the class-mean reference pass, and φ on D_f) against φ on D_f alone, which is
all the challenge score reads, on the `attacks` preset's trained original of one (scenario, seed).

    SURE_DATA=../shared/data .venv/bin/python benchmarks/speed_attack_stats.py [SCENARIO] [REPEATS]

Prints one JSON line (medians over REPEATS alternating repeats, seconds, and their ratio); the original
comes from the model cache (trained first if missing: ≈ 2 min on one core).
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import tempfile
import time

import torch

from sure_unlearn.attacks.pipeline import ALL_STATS, ShadowAttacks
from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.config import PRESETS


def main(scenario: str = "partial_class", repeats: int = 5) -> None:
    torch.set_num_threads(1)
    cfg = PRESETS.get("attacks")()
    if scenario not in cfg.scenarios:
        sys.exit(f"unknown scenario {scenario!r}: the attacks preset has {', '.join(cfg.scenarios)}")
    bench = Benchmark(cfg, tempfile.mkdtemp(prefix="speed_attack_stats-"), progress=False)
    prep = bench.prepare(scenario, 0)
    s = prep.split
    original, _ = bench.trained("original", 0, s.train, s.labels, prep.train_sets["train"])
    a = cfg.attacks
    attacks = ShadowAttacks(
        bench.models, prep, scenario, 0, n_shadows=a.shadows, n_models=a.models, n_nonmembers=a.nonmembers
    )
    times: dict[str, list[float]] = {"full": [], "forget_only": []}
    for _ in range(repeats):
        for name, parts in (("full", ALL_STATS), ("forget_only", ("forget_phi",))):
            t0 = time.perf_counter()
            attacks.statistics(original, parts)
            times[name].append(time.perf_counter() - t0)
    full, forget = statistics.median(times["full"]), statistics.median(times["forget_only"])
    print(
        json.dumps(
            {
                "scenario": scenario,
                "images_full": len(attacks.targets) + len(attacks.reference) + len(attacks.forget_eval),
                "images_forget_only": len(attacks.forget_eval),
                "full_s": round(full, 3),
                "forget_only_s": round(forget, 3),
                "ratio": round(full / forget, 1),
                "repeats": repeats,
                "threads": 1,
                "machine": f"{platform.machine()}, {torch.get_num_threads()} thread, torch {torch.__version__}",
            }
        )
    )


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["partial_class"]), *(int(x) for x in sys.argv[2:3]))
