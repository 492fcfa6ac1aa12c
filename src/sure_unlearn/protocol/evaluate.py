"""One cached forward pass per split, then every metric from the cache .

:func:`collect` runs a model once over a split in eval mode and keeps logits and representations;
:func:`evaluate` turns the four splits into :class:`~sure_unlearn.metrics.EvalInputs` and the metric dict.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from sure_unlearn.data.types import LabeledData
from sure_unlearn.files import atomic_write_bytes
from sure_unlearn.metrics import EvalInputs, SplitOutputs, evaluate_metrics
from sure_unlearn.models.base import SplitModel, capture
from sure_unlearn.train import Engine

SPLITS = ("forget", "retain", "test", "val")


@torch.no_grad()
def collect(
    model: SplitModel,
    data: LabeledData,
    batch_size: int = 512,
    z_layer: str = "",
    engine: Engine | None = None,
) -> SplitOutputs:
    """Logits and ``z`` (the head's input, or ``z_layer``'s output) of every sample, eval mode, un-augmented.

    ``engine`` (default :meth:`~sure_unlearn.train.Engine.for_eval`: channels-last for conv nets, fp32)
    sets layout and precision; the forward runs on :meth:`Engine.inference`'s copy of the model (BatchNorm
    folded into the convolutions). Outputs are fp32 whatever they were computed in.
    """
    eng = (engine or Engine.for_eval()).resolve(model)
    fast = eng.inference(model)  # the caller's model is left as it is
    zs, logits = [], []
    for x, _ in data.batches(batch_size, shuffle=False):
        with eng.autocast():
            if z_layer:
                with capture(fast, [z_layer]) as got:
                    out = fast(eng.inputs(x))
                z = got[z_layer]
            else:
                z, out = fast.features_and_logits(eng.inputs(x))
        zs.append(z.float())
        logits.append(out.float())
    k = model.num_classes
    return SplitOutputs(
        logits=torch.cat(logits).cpu().numpy() if logits else np.zeros((0, k), np.float32),
        z=torch.cat(zs).cpu().numpy() if zs else np.zeros((0, 0), np.float32),
        y=data.y.cpu().numpy(),
        idx=data.idx.cpu().numpy(),
    )


def evaluate(
    model: SplitModel,
    sets: dict[str, LabeledData],
    *,
    forget_classes: tuple[int, ...] = (),
    seed: int = 0,
    z_layer: str = "",
    batch_size: int = 512,
) -> tuple[dict[str, float], dict[str, SplitOutputs]]:
    """Every metric for ``model`` on ``sets`` (forget, retain, test and optionally val).

    Returns the metrics (plus ``eval_s``, the time this took) and the cached outputs.
    """
    start = time.perf_counter()
    outs = {name: collect(model, d, batch_size, z_layer) for name, d in sets.items() if d is not None}
    inputs = EvalInputs(
        forget=outs["forget"],
        retain=outs["retain"],
        test=outs["test"],
        val=outs.get("val"),
        forget_classes=forget_classes,
        seed=seed,
    )
    metrics = evaluate_metrics(inputs)
    metrics["eval_s"] = time.perf_counter() - start
    return metrics, outs


def save_features(path: Path, outs: dict[str, SplitOutputs]) -> None:
    """``<split>_z``, ``<split>_logits``, ``<split>_y``, ``<split>_idx`` for each split (the results contract)."""
    arrays: dict[str, np.ndarray] = {}
    for s, o in outs.items():
        arrays.update(
            {
                f"{s}_z": o.z.astype(np.float32),
                f"{s}_logits": o.logits.astype(np.float32),
                f"{s}_y": o.y.astype(np.int64),
                f"{s}_idx": o.idx.astype(np.int64),
            }
        )
    atomic_write_bytes(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
