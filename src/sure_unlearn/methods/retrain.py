"""Retrain (the oracle): re-initialise and train from scratch on the retain set with the original recipe.

This is exact unlearning and the reference for every gap. It reads only the retain set. In a benchmark the
oracle is trained once per (split, seed) and cached; this method is the same procedure for ``unlearn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.train import Recipe, fit, model_device


@dataclass(frozen=True)
class RetrainConfig:
    """Used only when the caller gives no ``original_recipe`` (then the original's recipe is reused)."""

    epochs: int = 30
    lr: float = 0.1
    batch_size: int = 128
    weight_decay: float = 5e-4


def reinitialise(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Fresh weights for every layer that knows how to reset itself, from ``generator``'s stream."""
    device = model_device(model)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for m in model.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()


@register_method(
    "retrain",
    config=RetrainConfig,
    needs={"retain"},
    summary="the oracle: retrain from scratch on the retain set",
)
def retrain(model: SplitModel, data: UnlearnData, cfg: RetrainConfig, ctx: RunContext) -> SplitModel:
    recipe = data.original_recipe or Recipe(
        epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, weight_decay=cfg.weight_decay
    )
    reinitialise(model, ctx.generator)
    res = fit(
        model,
        data.need("retain"),
        recipe,
        ctx.generator,
        progress=ctx.progress,
        engine=ctx.engine,
        desc="retrain",
    )
    ctx.info.update(epochs=res.epochs, seconds_per_epoch=res.seconds_per_epoch)
    return model
