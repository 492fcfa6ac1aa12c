"""The report's figures, drawn from numbers that ``report/tables.py`` has already read from results files.

Every function takes plain data (no model, no metric computation beyond a ROC curve or a 2-D PCA of
saved arrays) and writes one PNG. matplotlib is optional (the ``plots`` extra): :func:`pyplot` returns
None without it and the report then writes tables only.

Conventions shared by the figures: methods top to bottom (or left to right) in the report's order,
``original`` (before unlearning) grey, the oracle ``retrain`` green, ``sure`` red, every other method
blue; figure heights grow with the number of methods so 17+ names stay legible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ORIGINAL, ORACLE = "original", "retrain"
COLOURS = {ORIGINAL: "#7f7f7f", ORACLE: "#2ca02c", "sure": "#d62728"}
OTHER = "#1f77b4"
FORGET_C, TEST_C = "#d62728", "#1f77b4"

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


def _save(plt: Any, fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _finite(v: float) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


# ---- per-metric bars ----------------------------------------------------------------------------------


def bars(
    path: Path, title: str, methods: Sequence[str], stats: Stats, keys: Sequence[tuple[str, str]]
) -> bool:
    """Horizontal bars, one panel per metric: mean ± std over seeds per method, the oracle's mean dashed.

    ``keys`` are (metric, panel title); a metric no method has is left out. Returns False without
    matplotlib or without anything to draw.
    """
    plt = pyplot()
    keys = [(k, t) for k, t in keys if any(_finite(stats[m].get(k, (math.nan, 0))[0]) for m in methods)]
    if plt is None or not keys or not methods:
        return False
    nrows = math.ceil(len(keys) / 7)
    ncols = math.ceil(len(keys) / nrows)
    row_h = 0.6 + 0.24 * len(methods)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols + 1.4, row_h * nrows + 0.5), squeeze=False)
    y = np.arange(len(methods))
    for i, ax in enumerate(axes.flat):
        if i >= len(keys):
            ax.axis("off")
            continue
        key, label = keys[i]
        mean = np.array([stats[m].get(key, (math.nan, 0.0))[0] for m in methods], dtype=float)
        std = np.array([stats[m].get(key, (math.nan, 0.0))[1] for m in methods], dtype=float)
        ax.barh(y, np.nan_to_num(mean), xerr=np.nan_to_num(std), color=[colour(m) for m in methods],
                height=0.7, capsize=2, error_kw={"lw": 0.8})  # fmt: skip
        if ORACLE in methods and _finite(mean[methods.index(ORACLE)]) and not key.startswith("gap_"):
            ax.axvline(mean[methods.index(ORACLE)], color=COLOURS[ORACLE], ls="--", lw=1)
        lo, hi = np.nanmin(mean - std), np.nanmax(mean + std)
        if 0.35 * hi < lo < hi:  # values bunched far from 0 (AUCs, CKA, test acc): zoom so they differ
            step = 10.0 ** math.floor(math.log10(hi - lo)) / 2
            ax.set_xlim(math.floor((lo - 0.15 * (hi - lo)) / step) * step, hi + 0.05 * (hi - lo))
            label += " (axis cut)"
        ax.set_yticks(y, methods if i % ncols == 0 else [], fontsize=8)
        ax.set_ylim(len(methods) - 0.5, -0.5)  # first method on top
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", lw=0.3, alpha=0.5)
        for yi, v in zip(y, mean, strict=True):
            if not _finite(v):
                ax.text(0, yi, " –", va="center", fontsize=7)
    fig.suptitle(f"{title}   (mean ± std over seeds; dashed: oracle)", fontsize=10)
    fig.tight_layout()
    _save(plt, fig, path)
    return True


# ---- forgetting vs utility ----------------------------------------------------------------------------


def _merge_close(
    points: list[tuple[float, float, str]], xspan: float, yspan: float
) -> list[tuple[float, float, str]]:
    """Greedily join labels of points closer than 2.5% of each axis span (no-op methods sit on the original)."""
    groups: list[list[tuple[float, float, str]]] = []
    for p in points:
        for g in groups:
            if abs(g[0][0] - p[0]) < 0.025 * xspan and abs(g[0][1] - p[1]) < 0.025 * yspan:
                g.append(p)
                break
        else:
            groups.append([p])
    return [(g[0][0], g[0][1], ", ".join(q[2] for q in g)) for g in groups]


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in display pixels


def _free(box: Box, frame: Box, taken: list[Box]) -> bool:
    inside = frame[0] <= box[0] and box[2] <= frame[2] and frame[1] <= box[1] and box[3] <= frame[3]
    return inside and not any(
        box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken
    )


def _place_labels(fig: Any, ax: Any, points: list[tuple[float, float, str]]) -> None:
    """Label each point, greedily: beside it if there is room, else on the nearest free row above/below.

    Candidates are tried right then left of the point, at vertical offsets 0, ±1, ±2 … label heights;
    the first that stays in the axes and overlaps no placed label and no marker wins (the oracle, sure and
    the original are placed first). A thin leader line joins a displaced label to its point.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    fb = ax.get_window_extent(renderer)
    frame: Box = (fb.x0, fb.y0, fb.x1, fb.y1)
    px_per_pt = fig.dpi / 72.0
    xy = [ax.transData.transform((x, y)) for x, y, _ in points]
    radius = [(7.0 if name == ORACLE else 3.5) * px_per_pt for _, _, name in points]  # marker sizes 14 and 6
    taken: list[Box] = [(px - r, py - r, px + r, py + r) for (px, py), r in zip(xy, radius, strict=True)]
    first = {ORACLE: 0, "sure": 1, ORIGINAL: 2}
    for i in sorted(range(len(points)), key=lambda i: first.get(points[i][2], 3)):
        x, y, name = points[i]
        t = ax.annotate(
            name, (x, y), xytext=(0, 0), textcoords="offset points", fontsize=7.5, va="center",
            weight="bold" if name in (ORACLE, "sure") else "normal",
            bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.75},
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.45", "shrinkA": 4, "shrinkB": 1},
        )  # fmt: skip
        e = t.get_window_extent(renderer)
        w, h = e.width, e.height
        (px, py), chosen = xy[i], None
        gap = radius[i] + 3.0 * px_per_pt
        for k in [0, *(s * j for j in range(1, 12) for s in (1, -1))]:
            yc = py + k * 1.1 * h
            for side in (1, -1):
                x0 = px + gap if side > 0 else px - gap - w
                box = (x0 - 3, yc - h / 2, x0 + w + 3, yc + h / 2)  # 3 px apart from the next label
                if _free(box, frame, taken):
                    chosen = (side, k, box)
                    break
            if chosen:
                break
        side, k, box = chosen or (1, 0, (px + gap, py - h / 2, px + gap + w, py + h / 2))
        taken.append(box)
        t.set_ha("left" if side > 0 else "right")
        t.xyann = (side * gap / px_per_pt, k * 1.1 * h / px_per_pt)  # offsets in points
        t.arrow_patch.set_visible(k != 0)


def tradeoff(
    path: Path, title: str, methods: Sequence[str], stats: Stats, panels: Sequence[tuple[str, str]]
) -> bool:
    """Forgetting (y) against utility (x = test accuracy), one labelled point per method, one panel per y.

    Why these axes: the oracle ``retrain`` is the target point, and a reader wants to see at a glance
    which methods land near it and in which direction they miss — forgetting too little (towards the
    original, grey) or too much, and what that cost in test accuracy. Raw values rather than gaps keep
    that direction. Typical panels: ``rep_auc`` (0.5 = z of D_f indistinguishable from unseen data; SURE's
    claim) and ``forget_acc`` (the output-space view). Error bars: std over seeds; dashed lines cross at
    the oracle; labels of coinciding points are joined.
    """
    plt = pyplot()
    have = [m for m in methods if _finite(stats[m].get("test_acc", (math.nan, 0))[0])]
    panels = [(k, t) for k, t in panels if any(_finite(stats[m].get(k, (math.nan, 0))[0]) for m in have)]
    if plt is None or not have or not panels:
        return False
    side = 4.5 + 0.12 * len(have)
    fig, axes = plt.subplots(1, len(panels), figsize=(side * len(panels), side), squeeze=False)
    labels: list[list[tuple[float, float, str]]] = []
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        pts, lo, hi = [], [], []
        for m in have:
            (x, sx), (y, sy) = stats[m]["test_acc"], stats[m].get(key, (math.nan, 0.0))
            if not _finite(y):
                continue
            star = m == ORACLE
            ax.errorbar(x, y, xerr=sx, yerr=sy, fmt="*" if star else "o", ms=14 if star else 6, color=colour(m),
                        ecolor=colour(m), elinewidth=0.7, capsize=2, alpha=0.9, zorder=3 if star else 2)  # fmt: skip
            pts.append((x, y, m))
            lo.append((x - sx, y - sy))
            hi.append((x + sx, y + sy))
        if ORACLE in have and _finite(stats[ORACLE].get(key, (math.nan, 0))[0]):
            ax.axvline(stats[ORACLE]["test_acc"][0], color=COLOURS[ORACLE], ls="--", lw=0.8)
            ax.axhline(stats[ORACLE][key][0], color=COLOURS[ORACLE], ls="--", lw=0.8)
        (x0, y0), (x1, y1) = np.nanmin(lo, axis=0), np.nanmax(hi, axis=0)
        xspan, yspan = (x1 - x0) or 1.0, (y1 - y0) or 1.0
        ax.set_xlim(x0 - 0.05 * xspan, x1 + 0.3 * xspan)  # room on the right for labels
        ax.set_ylim(y0 - 0.08 * yspan, y1 + 0.08 * yspan)
        ax.set_xlabel("test accuracy (%)  → more utility", fontsize=9)
        ax.set_ylabel(label, fontsize=9)
        ax.set_title(f"{title}: {label} vs test accuracy", fontsize=10)
        ax.grid(lw=0.3, alpha=0.5)
        labels.append(_merge_close(pts, xspan, yspan))
    fig.tight_layout()  # before placing labels: they are placed in display space
    for ax, pts in zip(axes[0], labels, strict=True):
        _place_labels(fig, ax, pts)
    fig.savefig(path, dpi=110)  # not "tight": the labels were placed for this exact layout
    plt.close(fig)
    return True


# ---- ROC of the attacks -------------------------------------------------------------------------------

FPR_MIN = 1e-3


def roc_at(labels: np.ndarray, scores: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """TPR at each FPR of ``grid``: the best TPR of any threshold whose FPR is ≤ it (a step ROC).

    The same convention as the tables' ``*_tpr_1fpr`` (``attacks.roc.tpr_at_fpr``), whose curve it uses.

    >>> roc_at(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.5, 0.1]), np.array([0.0, 0.5, 1.0])).tolist()
    [0.5, 1.0, 1.0]
    """
    from sure_unlearn.attacks.roc import roc_curve

    fpr, tpr = roc_curve(scores, labels)
    return np.asarray(tpr[np.searchsorted(fpr, grid * (1 + 1e-12), side="right") - 1], dtype=float)


def roc(
    path: Path,
    title: str,
    methods: Sequence[str],
    attacks: Mapping[str, Mapping[str, list[tuple[np.ndarray, np.ndarray]]]],
) -> bool:
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
        return False
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
        return False
    ncols = min(len(shown), 6)
    rows_per = math.ceil(len(shown) / ncols)
    nrows = rows_per * len(curves)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.2 * nrows + 0.5), squeeze=False)
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
    _save(plt, fig, path)
    return True


# ---- CKA per layer ------------------------------------------------------------------------------------


def cka(
    path: Path,
    title: str,
    methods: Sequence[str],
    layers: Sequence[str],
    values: Mapping[str, Mapping[str, np.ndarray]],
) -> bool:
    """Heatmaps, one per reference (to the oracle, to the original): methods × layers, mean CKA over seeds.

    ``values[reference][method]`` is the per-layer CKA (NaN where missing). The colour scale runs from
    the panel's lowest value to 1 so small differences show; every cell is annotated with its value.
    """
    plt = pyplot()
    refs = [r for r in values if any(m in values[r] for m in methods)]
    rows = [m for m in methods if any(m in values[r] for r in refs)]
    if plt is None or not refs or not rows or not layers:
        return False
    width = 1.6 + 0.55 * len(layers)
    fig, axes = plt.subplots(
        1, len(refs), figsize=(width * len(refs) + 1.2, 1.5 + 0.3 * len(rows)), squeeze=False
    )
    for ax, ref in zip(axes[0], refs, strict=True):
        grid = np.array([values[ref].get(m, np.full(len(layers), np.nan)) for m in rows], dtype=float)
        lo = float(np.nanmin(grid)) if np.isfinite(grid).any() else 0.0
        im = ax.imshow(grid, cmap="viridis", vmin=min(lo, 0.99), vmax=1.0, aspect="auto")
        for (r, c), v in np.ndenumerate(grid):
            txt = "–" if not np.isfinite(v) else f"{v:.2f}"
            dark = np.isfinite(v) and (v - lo) / max(1.0 - lo, 1e-9) < 0.6
            ax.text(c, r, txt, ha="center", va="center", fontsize=7, color="w" if dark else "k")
        ax.set_xticks(range(len(layers)), layers, rotation=40, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows if ax is axes[0][0] else [], fontsize=8)
        ax.set_title(f"CKA to the {'oracle' if ref == 'oracle' else ref}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    fig.suptitle(f"{title}: linear CKA per layer (mean over seeds; 1 = same geometry)", fontsize=10)
    fig.tight_layout()
    _save(plt, fig, path)
    return True


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


def embeddings(
    path: Path, title: str, panels: Sequence[tuple[str, np.ndarray, np.ndarray]], max_points: int = 600
) -> bool:
    """Small multiples of a 2-D PCA of forget (red) and test (blue) representations, one panel per model.

    ``panels`` are (panel title, forget z, test z). Each model gets its own PCA, fitted on the union of
    its two sets, since models do not share a representation space; at most ``max_points`` per set are
    drawn (the first ones, so the figure is deterministic).
    """
    plt = pyplot()
    panels = [p for p in panels if len(p[1]) and len(p[2])]
    if plt is None or not panels:
        return False
    ncols = min(len(panels), 6)
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.6 * nrows + 0.4), squeeze=False)
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
    axes.flat[0].legend(fontsize=7, markerscale=2.5, loc="best", frameon=True)
    fig.suptitle(f"{title}: PCA of z, forget (red) vs test (blue)", fontsize=10)
    fig.tight_layout()
    _save(plt, fig, path)
    return True
