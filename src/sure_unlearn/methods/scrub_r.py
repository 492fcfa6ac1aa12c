"""SCRUB+R: SCRUB with rewinding (Kurmanji et al., NeurIPS 2023; ``meghdadk/SCRUB: MIA_experiments.ipynb``).

Run SCRUB (``scrub.py``), keeping the student after every epoch. Then

    r   = error of the *final* student on V_f (held-out samples from D_f's distribution: ``data.val``)
    e_k = error on D_f of the checkpoint after epoch k, k = 0..E (e_0: θ_o, before any update)
    k*  = argmin_k |e_k − r|  (first k on ties, like the notebook's ``min``)

and return the checkpoint k*. r stands in for a retrained model's error on D_f: rewinding stops SCRUB short
of over-forgetting, whose tell-tale high forget error is itself a membership signal. Errors are measured in
eval mode without augmentation, as the notebook's ``validate``. Unlike the notebook, which never saves a
checkpoint 0 and crashes when k* = 0, k* = 0 restores θ_o (weights and BatchNorm statistics).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.methods.scrub import SPACE, ScrubConfig, scrub_epochs  # SCRUB's space; the rewind has none
from sure_unlearn.models.base import SplitModel
from sure_unlearn.train import accuracy


@dataclass(frozen=True)
class ScrubRConfig(ScrubConfig):
    """SCRUB's hyperparameters and defaults (the MIA notebook, where SCRUB+R comes from); the rewind has none."""


def rewind_epoch(forget_errors: Sequence[float], target_error: float) -> int:
    """k* = argmin_k |e_k − r| over e_0..e_E, the first k on ties.

    >>> rewind_epoch([10.0, 40.0, 80.0, 95.0], target_error=70.0)
    2
    """
    return min(range(len(forget_errors)), key=lambda k: abs(forget_errors[k] - target_error))


def _snapshot(model: SplitModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@register_method(
    "scrub_r",
    config=ScrubRConfig,
    needs={"forget", "retain", "val"},
    summary="SCRUB+R: SCRUB, then rewind to the epoch whose forget error is closest to the held-out error",
    space=SPACE,
    changes_model=False,  # k* = 0 (θ_o already errs on D_f as a held-out set would) legitimately returns θ_o
)
def scrub_r(model: SplitModel, data: UnlearnData, cfg: ScrubRConfig, ctx: RunContext) -> SplitModel:
    forget, retain, val = data.need("forget"), data.need("retain"), data.need("val")
    start = time.perf_counter()
    checkpoints = [_snapshot(model)]  # k = 0: θ_o
    errors = [100.0 - accuracy(model, forget)]
    history = []
    for record in scrub_epochs(model, forget, retain, cfg, ctx):
        checkpoints.append(_snapshot(model))
        errors.append(100.0 - accuracy(model, forget))
        history.append(record)
    target = 100.0 - accuracy(model, val)  # r: the final student's error on V_f
    k = rewind_epoch(errors, target)
    model.load_state_dict(checkpoints[k])
    ctx.info.update(
        epochs=cfg.epochs,
        seconds_per_epoch=(time.perf_counter() - start) / max(cfg.epochs, 1),
        rewind_epoch=k,
        forget_errors=errors,
        val_error=target,
        history=history,
    )
    return model
