"""The report's figures, drawn from numbers that ``report/tables.py`` has already read from results files.

Every figure has a builder ``*_figure`` that returns the matplotlib figure, or None when there is nothing
to draw (tests inspect it), and a writer of the same name without the suffix that saves it as a PNG and
says whether it did. No model, no metric computation beyond a ROC curve, a 2-D PCA of saved arrays or a
confidence interval over seeds. matplotlib is optional (the ``plots`` extra): :func:`pyplot` returns None
without it and the report then writes tables only.

Conventions shared by the figures: methods top to bottom (or left to right) in the report's order,
``original`` (before unlearning) grey, the oracle ``retrain`` green and dashed where it is a reference,
``sure`` red, every other method blue (or, where each method is a line, a colour of its own); chance
dotted; value axes of bars start at zero; figure heights grow with the number of methods so 17+ names
stay legible.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sure_unlearn.report.labels import place_labels

ORIGINAL, ORACLE = "original", "retrain"
COLOURS = {ORIGINAL: "#7f7f7f", ORACLE: "#2ca02c", "sure": "#d62728"}
OTHER = "#1f77b4"
FORGET_C, TEST_C = "#d62728", "#1f77b4"
CHANCE_LINE = {"color": "k", "ls": ":", "lw": 0.9}
DPI = 110
LABEL_GID = "method-label"  # the gid of the trade-off plots' method labels (tests find them by it)

# method → metric → (mean, std) over seeds
Stats = Mapping[str, Mapping[str, tuple[float, float]]]


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend, or None if matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def colour(method: str) -> str:
    """A method's colour in every figure: original grey, oracle green, sure red, the others blue."""
    return COLOURS.get(method, OTHER)


def line_styles(plt: Any, methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Plot keywords for one line per method: the two references, the oracle (green, dashed) and the
    original (grey, dash-dotted), SURE red and thick, the others a colour each from tab20 without its
    reds and greens, with a marker shape that cycles on a different period so no two look the same."""
    cmap = plt.get_cmap("tab20")
    palette = itertools.cycle([cmap(i) for i in range(cmap.N) if i not in (4, 5, 6, 7)])
    shapes = itertools.cycle("osD^v")
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        if m == ORACLE:
            out[m] = {"color": COLOURS[ORACLE], "ls": "--", "lw": 1.8, "marker": "*", "ms": 7, "zorder": 4}
        elif m == ORIGINAL:
            out[m] = {"color": COLOURS[ORIGINAL], "ls": "-.", "lw": 1.8, "marker": "x", "ms": 5, "zorder": 4}
        elif m == "sure":
            out[m] = {"color": COLOURS["sure"], "lw": 2.4, "marker": "o", "ms": 4, "zorder": 5}
        else:
            out[m] = {"color": next(palette), "lw": 1.1, "marker": next(shapes), "ms": 3.5}
    return out


def _write(fig: Any, path: Path, tight: bool = True) -> bool:
    """Save ``fig`` (if any) as ``path`` and close it; whether a file was written."""
    if fig is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight" if tight else None)
    pyplot().close(fig)
    return True


def _finite(v: float) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def _mean(stats: Stats, method: str, key: str) -> float:
    return stats[method].get(key, (math.nan, 0.0))[0]


# ---- per-metric bars ----------------------------------------------------------------------------------


def bars_figure(
    title: str,
    methods: Sequence[str],
    stats: Stats,
    keys: Sequence[tuple[str, str]],
    chance: Mapping[str, float] | None = None,
) -> Any:
    """Horizontal bars, one panel per metric: mean ± std over seeds per method, the oracle's mean dashed.

    ``keys`` are (metric, panel title); a metric no method has is left out. ``chance`` gives a metric's
    chance level (0.5 for an AUC), drawn dotted. Every value axis starts at zero, where the bars start: a
    cut axis makes small differences look large. None without matplotlib or without anything to draw.
    """
    plt = pyplot()
    chance = chance or {}
    keys = [(k, t) for k, t in keys if any(_finite(_mean(stats, m, k)) for m in methods)]
    if plt is None or not keys or not methods:
        return None
    nrows = math.ceil(len(keys) / 7)
    ncols = math.ceil(len(keys) / nrows)
    row_h = 0.6 + 0.24 * len(methods)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.3 * ncols + 1.4, row_h * nrows + 0.6), squeeze=False, dpi=DPI
    )
    y = np.arange(len(methods))
    for i, ax in enumerate(axes.flat):
        if i >= len(keys):
            ax.axis("off")
            continue
        key, label = keys[i]
        mean = np.array([_mean(stats, m, key) for m in methods], dtype=float)
        std = np.nan_to_num(np.array([stats[m].get(key, (math.nan, 0.0))[1] for m in methods], dtype=float))
        ax.barh(y, np.nan_to_num(mean), xerr=std, color=[colour(m) for m in methods],
                height=0.7, capsize=2, error_kw={"lw": 0.8})  # fmt: skip
        if ORACLE in methods and _finite(mean[methods.index(ORACLE)]) and not key.startswith("gap_"):
            ax.axvline(mean[methods.index(ORACLE)], color=COLOURS[ORACLE], ls="--", lw=1)
        if key in chance:
            ax.axvline(chance[key], **CHANCE_LINE)
        if np.nanmin(mean) >= 0:  # negative values keep matplotlib's limits, which include 0 anyway
            top = float(np.nanmax(np.r_[mean + std, chance.get(key, 0.0)]))
            ax.set_xlim(0, 1.04 * top if top > 0 else 1.0)
        ax.set_yticks(y, methods if i % ncols == 0 else [], fontsize=8)
        ax.set_ylim(len(methods) - 0.5, -0.5)  # first method on top
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", lw=0.3, alpha=0.5)
        for yi, v in zip(y, mean, strict=True):
            if not _finite(v):
                ax.text(0, yi, " –", va="center", fontsize=7)
    dotted = "; dotted: chance" if any(k in chance for k, _ in keys) else ""
    fig.suptitle(f"{title}   (mean ± std over seeds; dashed: oracle{dotted})", fontsize=10)
    fig.tight_layout()
    return fig


def bars(
    path: Path,
    title: str,
    methods: Sequence[str],
    stats: Stats,
    keys: Sequence[tuple[str, str]],
    chance: Mapping[str, float] | None = None,
) -> bool:
    """Write :func:`bars_figure` to ``path``; False without matplotlib or without anything to draw."""
    return _write(bars_figure(title, methods, stats, keys, chance), path)


# ---- forgetting vs utility ----------------------------------------------------------------------------

FIRST_LABELLED = {ORACLE: 0, "sure": 1, ORIGINAL: 2}  # placed first, so they get the spots beside them


def _tradeoff_at(plt: Any, scale: float, title: str, have: Sequence[str], stats: Stats,
                 panels: Sequence[tuple[str, str]]) -> tuple[Any, bool]:  # fmt: skip
    """The trade-off figure at ``scale`` times its natural size, and whether every label found room."""
    side = (4.5 + 0.12 * len(have)) * scale
    fig, axes = plt.subplots(1, len(panels), figsize=(side * len(panels), side), squeeze=False, dpi=DPI)
    points: list[list[tuple[float, float, str, float]]] = []
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        pts, lo, hi = [], [], []
        for m in have:
            (x, sx), (y, sy) = stats[m]["test_acc"], stats[m].get(key, (math.nan, 0.0))
            if not _finite(y):
                continue
            sx, sy = np.nan_to_num([sx, sy])
            star = m == ORACLE
            ax.errorbar(x, y, xerr=sx, yerr=sy, fmt="*" if star else "o", ms=14 if star else 6, color=colour(m),
                        ecolor=colour(m), elinewidth=0.7, capsize=2, alpha=0.9, zorder=3 if star else 2)  # fmt: skip
            pts.append((x, y, m, 7.0 if star else 3.5))  # marker radius in points: ms / 2
            lo.append((x - sx, y - sy))
            hi.append((x + sx, y + sy))
        if ORACLE in have and _finite(_mean(stats, ORACLE, key)):
            ax.axvline(stats[ORACLE]["test_acc"][0], color=COLOURS[ORACLE], ls="--", lw=0.8)
            ax.axhline(stats[ORACLE][key][0], color=COLOURS[ORACLE], ls="--", lw=0.8)
        (x0, y0), (x1, y1) = np.min(lo, axis=0), np.max(hi, axis=0)
        xspan, yspan = (x1 - x0) or 1.0, (y1 - y0) or 1.0
        ax.set_xlim(x0 - 0.08 * xspan, x1 + 0.25 * xspan)  # room for labels, more on the right
        ax.set_ylim(y0 - 0.1 * yspan, y1 + 0.1 * yspan)
        ax.set_xlabel("test accuracy (%)  → more utility", fontsize=9)
        ax.set_ylabel(label, fontsize=9)
        ax.set_title(f"{title}: {label} vs test accuracy", fontsize=10)
        ax.tick_params(labelsize=8)
        ax.grid(lw=0.3, alpha=0.5)
        points.append(pts)
    fig.tight_layout()  # before the labels, which are placed in display pixels of this layout
    placed = [
        place_labels(fig, ax, pts, first=FIRST_LABELLED, bold=(ORACLE, "sure"), gid=LABEL_GID)
        for ax, pts in zip(axes[0], points, strict=True)
    ]
    return fig, all(placed)


def tradeoff_figure(
    title: str, methods: Sequence[str], stats: Stats, panels: Sequence[tuple[str, str]]
) -> Any:
    """Forgetting (y) against utility (x = test accuracy), one labelled point per method, one panel per y.

    Why these axes: the oracle ``retrain`` is the target point, and a reader wants to see at a glance
    which methods land near it and in which direction they miss — forgetting too little (towards the
    original, grey) or too much, and what that cost in test accuracy. Raw values rather than gaps keep
    that direction. Typical panels: ``rep_auc`` (0.5 = z of D_f indistinguishable from unseen data; SURE's
    claim) and ``forget_acc`` (the output-space view). Error bars: std over seeds; dashed lines cross at
    the oracle. Every method has its own label, inside the axes and overlapping no other label or
    marker (methods that share a point get labels around it, joined to it by leader lines); when a
    crowded panel has no room left, the figure is drawn larger.
    """
    plt = pyplot()
    have = [m for m in methods if _finite(_mean(stats, m, "test_acc"))]
    panels = [(k, t) for k, t in panels if any(_finite(_mean(stats, m, k)) for m in have)]
    if plt is None or not have or not panels:
        return None
    scales = (1.0, 1.3, 1.7, 2.2)
    for scale in scales:
        fig, placed = _tradeoff_at(plt, scale, title, have, stats, panels)
        if placed or scale == scales[-1]:
            return fig
        plt.close(fig)
    return None  # unreachable: the last scale returns


def tradeoff(
    path: Path, title: str, methods: Sequence[str], stats: Stats, panels: Sequence[tuple[str, str]]
) -> bool:
    """Write :func:`tradeoff_figure` to ``path``; False without matplotlib or without anything to draw."""
    return _write(tradeoff_figure(title, methods, stats, panels), path, tight=False)  # labels fit as laid out


# ---- ROC of the attacks -------------------------------------------------------------------------------

FPR_MIN = 1e-3


def roc_at(labels: np.ndarray, scores: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """TPR at each FPR of ``grid``: the best TPR of any threshold whose FPR is ≤ it (a step ROC).

    The same convention as the tables' ``*_tpr_1fpr`` (``metrics.roc.tpr_at_fpr``), whose curve it uses.

    >>> roc_at(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.5, 0.1]), np.array([0.0, 0.5, 1.0])).tolist()
    [0.5, 1.0, 1.0]
    """
    from sure_unlearn.metrics.roc import roc_curve

    fpr, tpr = roc_curve(scores, labels)
    return np.asarray(tpr[np.searchsorted(fpr, grid * (1 + 1e-12), side="right") - 1], dtype=float)


def roc_figure(
    title: str,
    methods: Sequence[str],
    attacks: Mapping[str, Mapping[str, list[tuple[np.ndarray, np.ndarray]]]],
) -> Any:
    """Small multiples of attack ROCs on log-log axes: a block of panels per attack, one panel per method.

    ``attacks[attack][method]`` lists (labels, scores) per seed (label 1 = forgotten target). Each seed's
    ROC is evaluated on a log grid of FPRs and the TPRs are averaged over seeds (vertical averaging, so
    seeds with differently calibrated scores are not pooled); the grid starts at the smallest FPR one
    negative allows (1/#negatives) or 10⁻³. Each panel draws the method (bold), the original (grey) and
    the oracle (green) for reference, and the diagonal (a blind attacker). Seventeen curves in one panel
    cannot be told apart, hence one panel per method.
    """
    plt = pyplot()
    if plt is None or not attacks:
        return None
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for attack, per_method in attacks.items():
        curves[attack] = {}
        for m, seeds in per_method.items():
            seeds = [
                (lab, s) for lab, s in seeds if 0 < int(np.sum(lab == 1)) < len(lab) and not np.isnan(s).any()
            ]
            if not seeds:
                continue
            lo = max(FPR_MIN, max(1.0 / int(np.sum(lab == 0)) for lab, _ in seeds))
            grid = np.geomspace(lo, 1.0, 120)
            curves[attack][m] = (grid, np.mean([roc_at(lab, s, grid) for lab, s in seeds], axis=0))
    shown = [m for m in methods if any(m in c for c in curves.values())]
    if not shown:
        return None
    ncols = min(len(shown), 6)
    rows_per = math.ceil(len(shown) / ncols)
    nrows = rows_per * len(curves)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.2 * nrows + 0.5), squeeze=False, dpi=DPI)
    for a, (attack, per) in enumerate(curves.items()):
        for i, m in enumerate(shown):
            ax = axes[a * rows_per + i // ncols][i % ncols]
            ax.plot([FPR_MIN, 1], [FPR_MIN, 1], color="k", ls=":", lw=0.7)
            for ref in (ORIGINAL, ORACLE):
                if ref in per and ref != m:
                    ax.plot(per[ref][0], np.maximum(per[ref][1], FPR_MIN), color=colour(ref), ls="--", lw=1)
            if m in per:
                grid, tpr = per[m]
                ax.plot(grid, np.maximum(tpr, FPR_MIN), color=colour(m), lw=1.8)  # TPR 0 drawn on the floor
                if grid[0] <= 0.01:
                    at1 = float(tpr[np.searchsorted(grid, 0.01, side="right") - 1])
                    ax.text(0.97, 0.04, f"TPR@1% {at1:.2f}", transform=ax.transAxes, ha="right", fontsize=7)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(FPR_MIN, 1)
            ax.set_ylim(FPR_MIN, 1.05)
            ax.set_xticks([1e-3, 1e-2, 1e-1, 1])
            ax.set_yticks([1e-3, 1e-2, 1e-1, 1])
            ax.minorticks_off()  # log axes' minor ticks cost most of the drawing time of 30+ panels
            ax.set_title(f"{attack}: {m}", fontsize=8.5, color=colour(m) if m in COLOURS else "k")
            ax.tick_params(labelsize=7)
            ax.grid(lw=0.3, alpha=0.4)
            if i % ncols == 0:
                ax.set_ylabel("TPR", fontsize=8)
            else:
                ax.set_yticklabels([])
            if i + ncols >= len(shown):  # the last panel of its column in this attack's block
                ax.set_xlabel("FPR", fontsize=8)
            else:
                ax.set_xticklabels([])
        for i in range(len(shown), rows_per * ncols):
            axes[a * rows_per + i // ncols][i % ncols].axis("off")
    fig.suptitle(f"{title}: attack ROC (mean TPR over seeds; grey dashed: original, green dashed: oracle, "
                 f"dotted: chance)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def roc(
    path: Path,
    title: str,
    methods: Sequence[str],
    attacks: Mapping[str, Mapping[str, list[tuple[np.ndarray, np.ndarray]]]],
) -> bool:
    """Write :func:`roc_figure` to ``path``; False without matplotlib or without a usable attack score."""
    return _write(roc_figure(title, methods, attacks), path)


# ---- CKA per layer ------------------------------------------------------------------------------------


def cka_figure(
    title: str,
    methods: Sequence[str],
    layers: Sequence[str],
    values: Mapping[str, Mapping[str, np.ndarray]],
) -> Any:
    """Heatmaps, one per reference (to the oracle, to the original): methods × layers, mean CKA over seeds.

    ``values[reference][method]`` is the per-layer CKA (NaN where missing). Both panels share one colour
    scale and one colour bar, from the lowest value of either panel to 1 (side-by-side panels on two
    scales would show one colour for two values); every cell is annotated with its value.
    """
    plt = pyplot()
    refs = [r for r in values if any(m in values[r] for m in methods)]
    rows = [m for m in methods if any(m in values[r] for r in refs)]
    if plt is None or not refs or not rows or not layers:
        return None
    missing = np.full(len(layers), np.nan)
    grids = [np.array([values[ref].get(m, missing) for m in rows], dtype=float) for ref in refs]
    finite = np.concatenate([g[np.isfinite(g)] for g in grids])
    vmin = min(float(finite.min()), 0.99) if finite.size else 0.0
    width = 1.6 + 0.55 * len(layers)
    fig, axes = plt.subplots(1, len(refs), figsize=(width * len(refs) + 1.4, 1.6 + 0.3 * len(rows)),
                             squeeze=False, dpi=DPI, layout="constrained")  # fmt: skip
    for ax, ref, grid in zip(axes[0], refs, grids, strict=True):
        im = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=1.0, aspect="auto")
        for (r, c), v in np.ndenumerate(grid):
            txt = "–" if not np.isfinite(v) else f"{v:.2f}"
            dark = np.isfinite(v) and (v - vmin) / max(1.0 - vmin, 1e-9) < 0.6
            ax.text(c, r, txt, ha="center", va="center", fontsize=7, color="w" if dark else "k")
        ax.set_xticks(range(len(layers)), layers, rotation=40, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows if ax is axes[0][0] else [], fontsize=8)
        ax.set_xlabel("layer (input → output)", fontsize=8)
        ax.set_title(f"CKA to the {'oracle' if ref == 'oracle' else ref}", fontsize=9)
    bar = fig.colorbar(im, ax=list(axes[0]), fraction=0.04 / len(refs), pad=0.02, aspect=30)
    bar.set_label("linear CKA", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.suptitle(f"{title}: linear CKA per layer (mean over seeds; 1 = same geometry)", fontsize=10)
    return fig


def cka(
    path: Path,
    title: str,
    methods: Sequence[str],
    layers: Sequence[str],
    values: Mapping[str, Mapping[str, np.ndarray]],
) -> bool:
    """Write :func:`cka_figure` to ``path``; False without matplotlib or without values."""
    return _write(cka_figure(title, methods, layers, values), path)


# ---- 2-D embeddings -----------------------------------------------------------------------------------


def pca2(x: np.ndarray) -> np.ndarray:
    """The first two principal-component coordinates of ``x`` (deterministic signs: largest loading > 0).

    >>> z = pca2(np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.1]]))
    >>> z.shape, bool(z[2, 0] > z[0, 0])
    ((3, 2), True)
    """
    a = np.asarray(x, dtype=np.float64)
    a = a - a.mean(0)
    vt = np.linalg.svd(a, full_matrices=False)[2][:2]  # rows: the top principal directions
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])[:, None]
    out = a @ vt.T
    return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))  # a 1-D representation gets a zero 2nd axis


def embeddings_figure(
    title: str, panels: Sequence[tuple[str, np.ndarray, np.ndarray]], max_points: int = 600
) -> Any:
    """Small multiples of a 2-D PCA of forget (red) and test (blue) representations, one panel per model.

    ``panels`` are (panel title, forget z, test z). Each model gets its own PCA, fitted on the union of
    its two sets, since models do not share a representation space; at most ``max_points`` per set are
    drawn (the first ones, so the figure is deterministic).
    """
    plt = pyplot()
    panels = [p for p in panels if len(p[1]) and len(p[2])]
    if plt is None or not panels:
        return None
    ncols = min(len(panels), 6)
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.6 * nrows + 0.4), squeeze=False, dpi=DPI)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (name, f, t) in zip(axes.flat, panels, strict=False):
        f, t = f[:max_points], t[:max_points]
        e = pca2(np.concatenate([f, t]))
        ax.scatter(e[len(f) :, 0], e[len(f) :, 1], s=6, c=TEST_C, alpha=0.45, lw=0, label="test (unseen)")
        ax.scatter(e[: len(f), 0], e[: len(f), 1], s=7, c=FORGET_C, alpha=0.7, lw=0, label="forget")
        method = name.split(" ")[0]
        ax.set_title(name.replace(" (", "\n("), fontsize=8, color=COLOURS.get(method, "k"))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("PC 1", fontsize=7, labelpad=1)
        ax.set_ylabel("PC 2", fontsize=7, labelpad=1)
    axes.flat[0].legend(fontsize=7, markerscale=2.5, loc="best", frameon=True)
    fig.suptitle(f"{title}: PCA of z, forget (red) vs test (blue)", fontsize=10)
    fig.tight_layout()
    return fig


def embeddings(
    path: Path, title: str, panels: Sequence[tuple[str, np.ndarray, np.ndarray]], max_points: int = 600
) -> bool:
    """Write :func:`embeddings_figure` to ``path``; False without matplotlib or without points."""
    return _write(embeddings_figure(title, panels, max_points), path)


# ---- erasure by depth ---------------------------------------------------------------------------------


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``values`` (seeds × layers, NaN where missing): the mean over the finite values and
    the half-width of its Student-t ``level`` interval (NaN with fewer than two values).

    >>> mean, half = mean_ci(np.array([[0.6, 0.9], [0.8, np.nan]]))
    >>> mean.round(3).tolist(), bool(np.isnan(half[1])), round(float(half[0]), 2)
    ([0.7, 0.9], True, 1.27)
    """
    from scipy.stats import t as student_t

    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    n = ok.sum(axis=0)
    mean = np.where(ok, v, 0.0).sum(axis=0) / np.maximum(n, 1)
    mean[n == 0] = np.nan
    sq = np.where(ok, v - mean, 0.0) ** 2
    std = np.sqrt(sq.sum(axis=0) / np.maximum(n - 1, 1))
    half = student_t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * std / np.sqrt(np.maximum(n, 1))
    half[n < 2] = np.nan
    return mean, half


def depth_figure(
    title: str, methods: Sequence[str], layers: Sequence[str], values: Mapping[str, np.ndarray]
) -> Any:
    """Erasure by depth: the fresh-probe AUC (forget vs unseen samples of the same classes) at each layer,
    input to output, one line per method.

    ``values[method]`` is seeds × layers (NaN where a run lacks the layer). Each line is the mean over
    seeds, with a shaded 95% t-interval where at least two seeds have the layer. The oracle (green,
    dashed) and the original (grey, dash-dotted) are the references: a method has erased the forget set
    at a layer where it sits on the oracle, and has done nothing there where it sits on the original.
    Chance (0.5) dotted; the y axis spans 0.4–1 (lower if a mean is; intervals are clipped). None
    without anything to draw.
    """
    plt = pyplot()
    rows = [m for m in methods if m in values and np.isfinite(values[m]).any()]
    if plt is None or not rows or not layers:
        return None
    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.9 * len(layers) + 3.0), max(4.0, 1.0 + 0.19 * len(rows))), dpi=DPI
    )
    x = np.arange(len(layers))
    ax.axhline(0.5, **CHANCE_LINE, label="chance")
    style = line_styles(plt, rows)
    low, alpha = 0.4, 0.15 if len(rows) <= 5 else 0.07  # many bands: fainter, so the lines stay legible
    for m in sorted(rows, key=lambda m: m in (ORACLE, ORIGINAL)):  # the references drawn last, on top
        mean, half = mean_ci(values[m])
        ax.plot(x, mean, label=m, **style[m])
        band = np.isfinite(half)
        if band.any():
            ax.fill_between(
                x, mean - half, mean + half, where=band, color=style[m]["color"], alpha=alpha, lw=0
            )
        low = min(low, float(np.nanmin(mean)))  # a mean below 0.4 widens the axis, an interval does not
    ax.set_ylim(math.floor(low * 10) / 10, 1.0)
    ax.set_xlim(-0.2, len(layers) - 0.8)
    ax.set_xticks(x, layers, rotation=30 if len(layers) > 6 else 0, fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("layer (input → output)", fontsize=9)
    ax.set_ylabel("fresh-probe AUC, forget vs unseen", fontsize=9)
    ax.grid(lw=0.3, alpha=0.5)
    handles, names = ax.get_legend_handles_labels()
    order = [names.index(m) for m in rows] + [names.index("chance")]  # the report's method order
    ax.legend([handles[i] for i in order], [names[i] for i in order], fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False, ncol=1 if len(rows) <= 18 else 2)  # fmt: skip
    shade = ", shaded: 95% CI" if any((np.isfinite(values[m]).sum(0) >= 2).any() for m in rows) else ""
    ax.set_title(f"{title}: erasure by depth (mean over seeds{shade}; 0.5 = erased)", fontsize=10)
    fig.tight_layout()
    return fig


def depth(
    path: Path, title: str, methods: Sequence[str], layers: Sequence[str], values: Mapping[str, np.ndarray]
) -> bool:
    """Write :func:`depth_figure` to ``path``; False without matplotlib or without per-layer values."""
    return _write(depth_figure(title, methods, layers, values), path)
