"""How the per-example attacks depend on the number of shadow models, from runs already made.

    .venv/bin/python benchmarks/attack_shadow_count.py benchmarks/results/attacks [DIR ...] [--plot PNG]

Every ``attacks.npz`` under the directories (written by ``sure benchmark`` with attacks on) holds each
unlearned shadow's statistic per target and its role. This re-scores each attacked model with every
subset of k of its M shadows (k = 2 … M), for U-LiRA and RMIA on outputs and rep-RMIA on representations
(U-LiRA only where every target keeps an IN and an OUT shadow, i.e. k > M/2 with balanced roles),
and prints per method and k: the AUC (mean over subsets and seeds) and the mean |AUC with k − AUC with all
M| (how much the choice of k shadows moves the figure). Beside them, the AUC's own sampling error at these
target counts (Hanley & McNeil 1982, at the all-M AUC): trimming to k shadows is harmless where the change
it causes is well below that error. No model is trained; the numbers come from the stored statistics.
``--plot`` draws the AUC against k, one panel per attack and one line per (scenario, method).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from sure_unlearn.attacks.rmia import rmia_on_stats
from sure_unlearn.attacks.ulira import ulira
from sure_unlearn.report.plots import line_styles, pyplot

ATTACKS = ("ulira", "rmia", "rep_rmia")


def auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil's standard error of an AUC estimated from n_pos positives and n_neg negatives."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))


def scores(npz: np.lib.npyio.NpzFile, rows: list[int]) -> dict[str, float]:
    """The three attacks' AUCs with the shadows ``rows`` alone."""
    labels, roles = npz["labels"], npz["roles"][rows]
    phi, rep = npz["shadow_phi"][rows], npz["shadow_rep"][rows]
    both = bool(((roles == 1).any(axis=0) & (roles == 0).any(axis=0)).all())
    # online U-LiRA needs an IN and an OUT shadow for every target: from the balanced roles of M shadows,
    # every subset of more than M/2 has both, a smaller one may not (then "—")
    out = {"ulira": ulira(npz["target_phi"], labels, phi, roles)[0]["ulira_auc"] if both else float("nan")}
    got = rmia_on_stats(npz["target_phi"], npz["target_rep"], labels, phi, rep, roles)[0]
    return {**out, "rmia": got["rmia_auc"], "rep_rmia": got["rep_rmia_auc"]}


def cell(aucs: list[float], deltas: list[float]) -> str:
    """``mean AUC / mean |Δ|`` over the subsets that could be scored, or — when none could."""
    ok = [i for i, v in enumerate(aucs) if np.isfinite(v)]
    if not ok:
        return "—"
    return f"{np.mean([aucs[i] for i in ok]):.3f} / {np.mean([deltas[i] for i in ok]):.3f}"


def plot(aucs: dict, path: Path) -> None:
    """AUC (mean over subsets and seeds) against the number of shadows, a panel per attack."""
    plt = pyplot()
    if plt is None:
        print("no plot: matplotlib is not installed (pip install '.[plots]')", file=sys.stderr)
        return
    keys = sorted(aucs)
    styles = line_styles(plt, [m for _, m in keys])
    fig, axes = plt.subplots(1, len(ATTACKS), figsize=(4 * len(ATTACKS), 3.4), sharey=True)
    for ax, at in zip(axes, ATTACKS, strict=True):
        for scenario, method in keys:
            ks = sorted(aucs[scenario, method])
            ys = [np.nanmean(aucs[scenario, method][k][at]) if np.isfinite(aucs[scenario, method][k][at]).any()
                  else np.nan for k in ks]  # fmt: skip
            ax.plot(ks, ys, label=f"{method} ({scenario})", **styles[method])
        ax.set(
            title=at, xlabel="shadow models used (k)", xticks=sorted({k for key in keys for k in aucs[key]})
        )
        ax.axhline(0.5, color="0.7", lw=0.8)
    axes[0].set_ylabel("AUC (mean over subsets and seeds)")
    axes[-1].legend(fontsize=7, loc="best")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path, help="benchmark result directories with attacks.npz files")
    ap.add_argument("--plot", type=Path, help="also draw the AUC against the number of shadows into this PNG")
    a = ap.parse_args(argv)
    files = sorted(f for d in a.dirs for f in d.rglob("attacks.npz"))
    if not files:
        print(
            f"no attacks.npz under {', '.join(map(str, a.dirs))}: run `sure benchmark` with attacks",
            file=sys.stderr,
        )
        return 2
    # (scenario, method) → k → attack → [auc per subset and seed], and [|Δ to all M|]
    aucs: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    deltas: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    se: dict = defaultdict(lambda: defaultdict(list))
    sizes = {}
    for f in files:
        scenario, method = f.parts[-4], f.parts[-3]
        with np.load(f, allow_pickle=False) as npz:
            m = len(npz["roles"])
            labels = npz["labels"]
            n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
            sizes[scenario, method] = (m, n_pos, n_neg)
            full = scores(npz, list(range(m)))
            for at in ATTACKS:
                se[scenario, method][at].append(auc_se(full[at], n_pos, n_neg))
            for k in range(2, m + 1):
                for rows in itertools.combinations(range(m), k):
                    got = scores(npz, list(rows))
                    for at in ATTACKS:
                        aucs[scenario, method][k][at].append(got[at])
                        deltas[scenario, method][k][at].append(abs(got[at] - full[at]))
    print(
        f"{len(files)} attacked runs; every subset of k shadows. Per attack: AUC (mean over subsets and seeds) / "
        "mean |AUC(k) − AUC(all)|; SE = the AUC's sampling error at these target counts.\n"
    )
    header = " | ".join(f"{at} AUC / |Δ|" for at in ATTACKS)
    print(f"| scenario | method | k | {header} |")
    print("|---|---|---|" + "---|" * len(ATTACKS))
    for key in sorted(aucs):
        m, n_pos, n_neg = sizes[key]
        for k in sorted(aucs[key]):
            cells = " | ".join(cell(aucs[key][k][at], deltas[key][k][at]) for at in ATTACKS)
            print(f"| {key[0]} | {key[1]} | {k} of {m} | {cells} |")
        ses = " | ".join(f"SE {np.mean(se[key][at]):.3f}" for at in ATTACKS)
        print(f"| {key[0]} | {key[1]} | ({n_pos} forgotten, {n_neg} never-seen targets) | {ses} |")
    if a.plot:
        plot(aucs, a.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
