"""Figures drawn from the sensitivity and stability data files (matplotlib, imported only here).

Without matplotlib the functions return ``[]`` and the data files stay complete; :data:`MISSING` says
what to install.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from sure_unlearn.report.plots import pyplot as _pyplot

MISSING = "no plots drawn: matplotlib is not installed (pip install 'sure-unlearn[plots]'); the data files are written"


def digits(name: str) -> int:
    """Decimals to print: AUCs and ratios in 0–1 need three, points one, aggregate gaps two."""
    return 3 if name in ("rep_auc", "rrt") else 2 if name.startswith("gap") or name == "distance" else 1


def _heatmap(ax: Any, data: dict[str, Any], name: str) -> None:
    pa, pb = data["params"]
    diff = np.array(data["diff"][name], dtype=float)
    lim = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.0
    lim = lim or 1.0
    ax.imshow(diff, cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower", aspect="auto")
    k = digits(name)
    for i in range(diff.shape[0]):
        for j in range(diff.shape[1]):
            v = diff[i, j]
            text = "–" if math.isnan(v) else f"{v:+.{k}f}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if abs(v) > 0.6 * lim else "black",
                fontweight="bold" if i == j == len(diff) // 2 else None,
            )
    ax.set_xticks(
        range(len(data["factors"])),
        [f"{v:.3g}\n×{f:g}" for v, f in zip(data["axis_values"][pb], data["factors"], strict=True)],
        fontsize=7,
    )
    ax.set_yticks(
        range(len(data["factors"])),
        [f"{v:.3g} ×{f:g}" for v, f in zip(data["axis_values"][pa], data["factors"], strict=True)],
        fontsize=7,
    )
    ax.set_xlabel(pb, fontsize=8)
    ax.set_ylabel(pa, fontsize=8)
    centre = data["value"][name][len(diff) // 2][len(diff) // 2]
    ax.set_title(f"Δ {name} (optimum {centre:.{k}f})", fontsize=9)


def heatmaps(data: dict[str, Any], d: Path) -> list[Path]:
    """One heatmap per metric of the difference from the optimum (``d/heatmaps/<metric>.png``, annotated
    cells, the optimum in bold at the centre) and all of them in one figure (``d/heatmaps.png``)."""
    plt = _pyplot()
    if plt is None:
        return []
    paths = []
    (d / "heatmaps").mkdir(parents=True, exist_ok=True)
    suptitle = f"{data['method']} on {data['scenario']}: difference from the optimum (seeds {data['seeds']})"
    for name in data["metrics"]:
        fig, ax = plt.subplots(figsize=(4.6, 3.9))
        _heatmap(ax, data, name)
        fig.suptitle(suptitle, fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        paths.append(d / "heatmaps" / f"{name}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    cols = 4
    rows = math.ceil(len(data["metrics"]) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.7 * rows), squeeze=False)
    for ax, name in zip(axes.flat, data["metrics"], strict=False):
        _heatmap(ax, data, name)
    for ax in list(axes.flat)[len(data["metrics"]) :]:
        ax.axis("off")
    fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    paths.append(d / "heatmaps.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def line_styles(plt: Any, methods: list[str]) -> dict[str, dict[str, Any]]:
    """The report's conventions for a line per method: the original dashed grey, SURE red and thick, the
    others from tab20 without its reds and greens (the oracle's and SURE's colours)."""
    from sure_unlearn.report.plots import COLOURS, ORIGINAL

    cmap = plt.get_cmap("tab20")
    palette = [cmap(i) for i in range(cmap.N) if i not in (4, 5, 6, 7)]
    others = itertools.cycle(palette)
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        if m == ORIGINAL:
            out[m] = {"color": COLOURS[ORIGINAL], "ls": "--", "lw": 1}
        elif m == "sure":
            out[m] = {"color": COLOURS["sure"], "lw": 2.2, "zorder": 5}
        else:
            out[m] = {"color": next(others), "lw": 1}
    return out


def stability_plots(data: dict[str, Any], d: Path) -> list[Path]:
    """Per scenario, one panel per metric: |gap| to the oracle against forget-set size, a line per method
    (error bars: std over seeds; the tuned size dotted; the untouched original dashed grey)."""
    plt = _pyplot()
    if plt is None:
        return []
    paths = []
    keys = data["keys"]
    for sc in dict.fromkeys(r["scenario"] for r in data["rows"]):
        rows = [r for r in data["rows"] if r["scenario"] == sc]
        cols = 4
        nr = math.ceil(len(keys) / cols)
        fig, axes = plt.subplots(nr, cols, figsize=(4.0 * cols, 3.2 * nr), squeeze=False)
        methods = list(dict.fromkeys(r["method"] for r in rows))
        style = line_styles(plt, methods)
        for ax, key in zip(axes.flat, keys, strict=False):
            for m in methods:
                rs = sorted((r for r in rows if r["method"] == m), key=lambda r: r["size"])
                ax.errorbar(
                    [r["size"] for r in rs],
                    [r[key][0] for r in rs],
                    yerr=[r[key][1] for r in rs],
                    marker="o",
                    ms=3,
                    capsize=2,
                    label=m,
                    **style[m],
                )
            ax.axvline(rows[0]["tuned_size"], color="k", ls=":", lw=0.8)
            ax.set_title(f"|Δ {key}|", fontsize=9)
            ax.set_xlabel("forget-set size n", fontsize=8)
            ax.set_xticks(data["sizes"])
        spare = list(axes.flat)[len(keys) :]
        for ax in spare:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        if spare:  # the legend fills the first empty panel
            spare[0].legend(handles, labels, loc="center", fontsize=7, ncol=2, frameon=False)
        else:
            fig.legend(handles, labels, loc="lower right", fontsize=7, ncol=2)
        fig.suptitle(
            f"{sc}: gap to the oracle vs forget-set size (tuned at n = {rows[0]['tuned_size']}, dotted)",
            fontsize=11,
        )
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        paths.append(d / f"stability_{sc}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
