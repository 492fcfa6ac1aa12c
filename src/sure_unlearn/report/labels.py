"""Point labels that overlap nothing: each point of a scatter gets its name inside the axes, clear of every
other label and every marker, joined to its point by a thin leader line when it could not sit beside it.

Greedy, in display pixels: labels are placed one at a time (those named in ``first`` first, so they get the
spots beside their points), each taking the first free box of :func:`_candidates`. Used by the report's
trade-off figures (``report/plots.py``); needs only a matplotlib figure and axes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

LABEL_GAP = (7.0, 2.0)  # pixels kept free between two labels side by side, and one above the other


def _free(boxes: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Which candidate boxes (k × 4: x0, y0, x1, y1) stay ``LABEL_GAP`` away from every taken box (n × 4).

    >>> _free(np.array([[0, 0, 10, 5], [100, 0, 110, 5]]), np.array([[12, 0, 20, 5]])).tolist()
    [False, True]
    """
    c, t, (gx, gy) = boxes[:, None, :], taken[None, :, :], LABEL_GAP
    hit = (c[..., 0] < t[..., 2] + gx) & (t[..., 0] < c[..., 2] + gx)
    hit &= (c[..., 1] < t[..., 3] + gy) & (t[..., 1] < c[..., 3] + gy)
    return np.asarray(~hit.any(axis=1))


def _candidates(
    px: float, py: float, w: float, h: float, gap: float, frame: Sequence[float]
) -> tuple[np.ndarray, int]:
    """Boxes of a w × h label for the point (px, py), best first, all inside ``frame``: beside the point
    (right, then left), then the spots of a grid over the frame, nearest to the point first but at least
    a label height away, so the leader line that joins such a label to its point is seen; and how many
    of the boxes are beside the point."""
    beside = np.array([[px + gap, py - h / 2], [px - gap - w, py - h / 2]])
    xs = np.arange(frame[0], frame[2] - w, max(h / 2, 3.0))
    ys = np.arange(frame[1], frame[3] - h, h / 2)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    dx = np.maximum(np.maximum(grid[:, 0] - px, px - grid[:, 0] - w), 0)  # point to box, 0 inside
    dy = np.maximum(np.maximum(grid[:, 1] - py, py - grid[:, 1] - h), 0)
    dist = np.hypot(dx, dy)
    order = np.argsort(dist, kind="stable")
    low = np.concatenate([beside, grid[order[dist[order] >= h]]])
    boxes = np.concatenate([low, low + [w, h]], axis=1)
    inside = (boxes[:, 0] >= frame[0]) & (boxes[:, 2] <= frame[2])
    inside &= (boxes[:, 1] >= frame[1]) & (boxes[:, 3] <= frame[3])
    return boxes[inside], int(inside[:2].sum())  # the spots beside the point that fit come first


def place_labels(
    fig: Any,
    ax: Any,
    points: Sequence[tuple[float, float, str, float]],
    first: Mapping[str, int],
    bold: Collection[str] = (),
    gid: str | None = None,
) -> bool:
    """Label each point (x, y, name, marker radius in points) of ``ax`` with its name, inside the axes, so
    that no two labels and no label and marker overlap; False if some label found no free spot (it is
    then drawn beside its point anyway).

    ``first`` ranks the names placed before the others (lower first; unnamed ones after), ``bold`` names
    are drawn bold, and every label gets ``gid`` (so a test can find them). Call it after the figure's
    layout is final: the placement is in display pixels of that layout.
    """
    renderer = fig.canvas.get_renderer()
    fb = ax.get_window_extent(renderer)
    frame = (fb.x0 + 2, fb.y0 + 2, fb.x1 - 2, fb.y1 - 2)  # 2 px inside the axes' frame
    px_per_pt = fig.dpi / 72.0
    to_data = ax.transData.inverted()
    xy = ax.transData.transform([(x, y) for x, y, _, _ in points])
    radius = np.array([r for *_, r in points]) * px_per_pt
    taken = [np.r_[p - r, p + r] for p, r in zip(xy, radius, strict=True)]  # the markers
    later = max(first.values(), default=0) + 1
    placed_all = True
    for i in sorted(range(len(points)), key=lambda i: first.get(points[i][2], later)):
        name = points[i][2]
        t = ax.text(0, 0, name, fontsize=7.5, ha="left", va="bottom", zorder=4, gid=gid,
                    weight="bold" if name in bold else "normal",
                    bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.8})  # fmt: skip
        e = t.get_window_extent(renderer)
        px, py = xy[i]
        boxes, beside = _candidates(px, py, e.width, e.height, radius[i] + LABEL_GAP[0] + 1, frame)
        free = _free(boxes, np.array(taken)) if len(boxes) else np.zeros(0, bool)
        if free.any():
            j = int(np.argmax(free))
        else:
            placed_all, j = False, 0
        box = boxes[j] if len(boxes) else np.r_[xy[i], xy[i] + [e.width, e.height]]
        taken.append(box)
        t.set_position(to_data.transform(box[:2]))
        if j >= beside:  # away from its point: a leader line from the point to the label's nearest edge
            end = np.clip(xy[i], box[:2], box[2:])
            ax.plot(*to_data.transform(np.array([xy[i], end])).T, color="0.3", lw=0.6, zorder=1.5)
    return placed_all
