"""FineTune (Golatkar et al. 2020; Warnecke et al. 2021): continue training on the retain set.

    θ_u = argmin_θ L_{D_r}(θ), starting from θ_o, for E epochs of SGD

The forget set fades only through catastrophic forgetting; FT is the baseline every method must beat.
"""

from __future__ import annotations

from dataclasses import dataclass

from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Float
from sure_unlearn.train import Recipe, fit


@dataclass(frozen=True)
class FineTuneConfig:
    epochs: int = 10  # OPTML Unlearn-Sparse README
    lr: float = 0.01  # OPTML (grid [1e-4, 1e-1])
    momentum: float = 0.9  # OPTML shared SGD wrapper
    weight_decay: float = 5e-4  # OPTML shared SGD wrapper
    batch_size: int = 128  # Unlearn-Sparse paper, Table A1 (code: 256)
    schedule: str = "constant"  # OPTML's MultiStepLR never fires within 10 epochs
    augment: bool = True


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    "lr": Float(1e-5, 0.5, log=True),  # OPTML grid [1e-4, 1e-1], widened both ways
    "weight_decay": Float(1e-5, 1e-2, log=True),  # around the shared 5e-4
}


@register_method(
    "finetune",
    config=FineTuneConfig,
    needs={"retain"},
    summary="FT: continue training on the retain set",
    space=SPACE,
)
def finetune(model: SplitModel, data: UnlearnData, cfg: FineTuneConfig, ctx: RunContext) -> SplitModel:
    recipe = Recipe.of(cfg)
    res = fit(
        model,
        data.need("retain"),
        recipe,
        ctx.generator,
        progress=ctx.progress,
        engine=ctx.engine,
        desc="finetune",
    )
    ctx.info.update(epochs=res.epochs, seconds_per_epoch=res.seconds_per_epoch)
    return model
