"""How each method's distance changed between two benchmarks of the same seeds (e.g. old and new tuned values).

    .venv/bin/python benchmarks/paired_change.py benchmarks/results/cpu-heldout/summary.json \
        benchmarks/results/cpu-heldout-v2/summary.json --scenario partial_class

Prints a Markdown table: per method, its mean distance in each, the paired difference (new − old) over the
seeds both ran with its 95% t-interval, and the mean test accuracy in each. Pairing over the same seeds (the
same forget set, original and oracle) removes the seed-to-seed spread that unpaired means carry; the
reference rows (original, retrain, broken) should come out identical when both used the same cached models.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sure_unlearn.metrics.stats import paired


def by_run(path: Path, scenario: str) -> dict[tuple[str, int], dict[str, float]]:
    try:
        runs = json.loads(path.read_text())["runs"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(
            f"paired_change: {path} is not a benchmark's summary.json ({type(e).__name__}: {e})"
        ) from None
    return {
        (r["method"], int(r["seed"])): {
            "distance": r["gaps"]["distance"],
            "test_acc": r["metrics"]["test_acc"],
        }
        for r in runs
        if r["scenario"] == scenario and "distance" in r.get("gaps", {})
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--scenario", required=True)
    a = p.parse_args()
    old, new = by_run(a.old, a.scenario), by_run(a.new, a.scenario)
    print("| method | old | new | new − old, paired [95% CI] | seeds | test acc old → new |")
    print("|---|---|---|---|---|---|")
    for m in sorted({m for m, _ in new}):
        seeds = sorted(s for mm, s in new if mm == m and (m, s) in old)
        if not seeds:
            continue
        x = {s: old[(m, s)]["distance"] for s in seeds}
        y = {s: new[(m, s)]["distance"] for s in seeds}
        d = paired(y, x)  # the library's paired t-interval of new − old
        if all(abs(y[s] - x[s]) < 1e-12 for s in seeds):
            change = "identical"
        elif d.ci_low is None:
            change = f"{d.mean:+.3f} (one seed: no interval)"
        else:
            change = f"{d.mean:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]"
        acc = [np.mean([run[(m, s)]["test_acc"] for s in seeds]) for run in (old, new)]
        print(
            f"| {m} | {np.mean(list(x.values())):.3f} | {np.mean(list(y.values())):.3f} | {change} | "
            f"{len(seeds)} | {acc[0]:.1f} → {acc[1]:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
