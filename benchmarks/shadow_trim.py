"""How many shadows the per-example attacks need, measured on runs already attacked: U-LiRA, rep-LiRA,
RMIA and rep-RMIA recomputed from each run's saved statistics (``attacks.npz``) with every shadow, which
must reproduce the AUCs the run recorded, and with fewer: each target keeps ``k`` of its IN and ``k`` of
its OUT shadows, drawn at random (the others' roles set to ignore), over ``--draws`` draws. That is the
design a benchmark with 2k shadows would have, up to which shadows each target shares with the others;
no model is trained or run.

    .venv/bin/python benchmarks/shadow_trim.py RESULTS_DIR [--per-side 2] [--draws 20]

Prints a markdown table per scenario: each attacked run's AUCs with every shadow, and with 2k shadows as
the mean over draws and its largest distance from the full value. Fewer shadows are safe where that
distance is small beside the spread over seeds that the comparison between methods rests on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sure_unlearn.attacks.rmia import rmia_on_stats
from sure_unlearn.attacks.ulira import ulira

ATTACKS = ("ulira_auc", "rep_lira_auc", "rmia_auc", "rep_rmia_auc")


def aucs(a: dict[str, np.ndarray], roles: np.ndarray) -> dict[str, float]:
    """The four attacks' AUCs from one run's statistics, with the shadows ``roles`` marks (-1: ignored)."""
    labels = a["labels"]
    out = {
        **ulira(a["target_phi"], labels, a["shadow_phi"], roles)[0],
        **ulira(a["target_rep"], labels, a["shadow_rep"], roles, prefix="rep_lira")[0],
        **rmia_on_stats(a["target_phi"], a["target_rep"], labels, a["shadow_phi"], a["shadow_rep"], roles)[0],
    }
    return {k: float(out[k]) for k in ATTACKS}


def trimmed_roles(roles: np.ndarray, per_side: int, rng: np.random.Generator) -> np.ndarray:
    """``roles`` with all but ``per_side`` IN and ``per_side`` OUT shadows of every target set to -1.

    >>> r = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    >>> t = trimmed_roles(r, 1, np.random.default_rng(0))
    >>> ((t == 1).sum(axis=0).tolist(), (t == 0).sum(axis=0).tolist())
    ([1, 1], [1, 1])
    """
    out = np.full_like(roles, -1)
    for j in range(roles.shape[1]):
        for side in (1, 0):
            rows = np.flatnonzero(roles[:, j] == side)
            if len(rows) < per_side:
                raise ValueError(
                    f"target {j} has {len(rows)} shadows with role {side}, fewer than {per_side}"
                )
            out[rng.choice(rows, per_side, replace=False), j] = side
    return out


def measure(run_dir: Path, per_side: int, draws: int, seed: int = 0) -> dict:
    """One attacked run: its recorded AUCs, the recomputed full ones, and the trimmed draws'."""
    with np.load(run_dir / "attacks.npz", allow_pickle=False) as f:
        a = {k: f[k] for k in f.files}
    run = json.loads((run_dir / "run.json").read_text())
    full = aucs(a, a["roles"])
    for k in ATTACKS:
        recorded = run["metrics"][k]
        if not np.isclose(full[k], recorded, atol=1e-9):
            raise SystemExit(
                f"{run_dir}: {k} recomputed as {full[k]}, recorded {recorded}: not the same attack"
            )
    rng = np.random.default_rng(seed)
    trims = [aucs(a, trimmed_roles(a["roles"], per_side, rng)) for _ in range(draws)]
    return {
        "method": run["method"],
        "scenario": run["scenario"],
        "seed": run["seed"],
        "shadows": int(a["roles"].shape[0]),
        "full": full,
        "trim_mean": {k: float(np.mean([t[k] for t in trims])) for k in ATTACKS},
        "trim_max_dev": {k: float(max(abs(t[k] - full[k]) for t in trims)) for k in ATTACKS},
    }


def table(rows: list[dict], per_side: int) -> str:
    """Markdown: per run, every AUC with all shadows → mean with 2·per_side (largest |Δ| over draws)."""
    head = "| method | seed | " + " | ".join(ATTACKS) + " |"
    lines = [head, "|---|---|" + "---|" * len(ATTACKS)]
    for r in sorted(rows, key=lambda r: (r["method"], r["seed"])):
        cells = [
            f"{r['full'][k]:.3f} → {r['trim_mean'][k]:.3f} ({r['trim_max_dev'][k]:.3f})" for k in ATTACKS
        ]
        lines.append(f"| {r['method']} | {r['seed']} | " + " | ".join(cells) + " |")
    worst = {k: max(r["trim_max_dev"][k] for r in rows) for k in ATTACKS}
    lines.append("")
    lines.append(
        f"Each cell: AUC with all {rows[0]['shadows']} shadows → mean with {2 * per_side} (largest distance "
        "from the full value over the draws in brackets). Largest distance over runs: "
        + ", ".join(f"{k} {v:.3f}" for k, v in worst.items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, help="a benchmark's results directory (its runs' attacks.npz)")
    p.add_argument("--per-side", type=int, default=2, help="IN and OUT shadows kept per target (default 2)")
    p.add_argument("--draws", type=int, default=20, help="random draws of the kept shadows (default 20)")
    a = p.parse_args(argv)
    found = sorted(a.results.glob("*/*/seed*/attacks.npz"))
    if not found:
        sys.exit(f"no attacks.npz under {a.results}: run `sure benchmark --preset attacks` first")
    if a.per_side < 2 or a.draws < 1:
        sys.exit("--per-side must be ≥ 2 (a spread needs two shadows per side) and --draws ≥ 1")
    try:
        rows = [measure(f.parent, a.per_side, a.draws) for f in found]
    except ValueError as e:  # a target with fewer shadows on a side than --per-side
        sys.exit(f"--per-side {a.per_side}: {e}")
    for scenario in sorted({r["scenario"] for r in rows}):
        print(f"## {scenario}\n")
        print(table([r for r in rows if r["scenario"] == scenario], a.per_side))
        print()


if __name__ == "__main__":
    main()
