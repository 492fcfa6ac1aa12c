"""EU-k (Goel et al. 2022, arXiv 2201.06640): exact unlearning of the last k blocks.

    θ_u[last k] ← θ_init[last k];  θ_u[last k] = argmin L_{D_r} for the original's epoch budget, the rest frozen

Code: ``meghdadk/SCRUB: MIA_experiments.ipynb`` (``euk_unlearn``). Our reset covers every parameter AND
buffer (BatchNorm statistics included) of the chosen blocks and of the head when ``include_head``; SCRUB's
ResNet path copies only conv1/conv2/bn1/bn2 weights of ``layer4`` and the shortcut conv, and leaves the
shortcut BN, every BN buffer and the head trained. θ_init is ``data.init_state`` (the
original's state at step 0); without it the blocks get fresh weights from each layer's ``reset_parameters``
(PyTorch's default init, not the architecture's own), drawn from ``ctx.generator``. Only the reset part is
"exact": the frozen trunk has seen D_f. Selection and freezing are CF-k's, ``frozen_bn`` included (frozen
BatchNorm in eval mode by default; ``"train"`` lets its running statistics follow D_r, as SCRUB does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.methods.cf_k import SPACE as CFK_SPACE
from sure_unlearn.methods.cf_k import CFkConfig, finetune_blocks, select_blocks
from sure_unlearn.methods.retrain import reinitialise
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Int


@dataclass(frozen=True)
class EUkConfig(CFkConfig):
    """CF-k's fields and defaults (SCRUB's euk_unlearn uses the same lr 0.01, bs 64, plain SGD, wd 0)."""

    # used only without data.original_recipe, whose full budget is the default: SCRUB MIA notebook
    epochs: int = 25  # (`training_epochs`; one SCRUB script hard-codes 10)


def reset_blocks(
    model: SplitModel,
    names: Sequence[str],
    include_head: bool,
    init_state: dict[str, torch.Tensor] | None,
    generator: torch.Generator,
) -> str:
    """Reset every parameter and buffer under ``names`` (and the head) to ``init_state``, or to fresh
    weights when it is None. Returns which: ``"init_state"`` or ``"fresh"``."""
    modules = {n: model.get_submodule(n) for n in names}
    if include_head:
        modules["head"] = model.head
    if init_state is None:
        for m in modules.values():
            own = {
                id(p)
                for s in m.modules()
                if callable(getattr(s, "reset_parameters", None))
                for p in s.parameters(False)
            }
            if any(id(p) not in own for p in m.parameters()):
                raise ConfigError(
                    f"eu_k cannot re-initialise {type(m).__name__}: a parameter has no reset; pass init_state"
                )
            reinitialise(m, generator)
        return "fresh"
    state = model.state_dict()
    keys = [k for k in state for n in modules if k.startswith(n + ".")]
    missing = [k for k in keys if k not in init_state or init_state[k].shape != state[k].shape]
    if missing:
        raise ConfigError(f"init_state does not match the model: {missing[:5]} missing or reshaped")
    with torch.no_grad():
        for k in keys:
            state[k].copy_(init_state[k])  # state_dict tensors share storage with the model
    return "init_state"


@register_method(
    "eu_k", config=EUkConfig, needs={"retain"}, summary="EU-k: reset the last k blocks to θ_init, retrain them on D_r",
    space={**CFK_SPACE, "blocks": Int(1, 2)},  # k ≤ 2: each extra block retrains with the full budget
    epoch_budget=False,  # its epochs are the original's, by definition
)  # fmt: skip
def eu_k(model: SplitModel, data: UnlearnData, cfg: EUkConfig, ctx: RunContext) -> SplitModel:
    names = select_blocks(model, cfg.blocks, cfg.layers)
    reset = reset_blocks(model, names, cfg.include_head, data.init_state, ctx.generator)
    epochs = data.original_recipe.epochs if data.original_recipe is not None else cfg.epochs  # full budget
    finetune_blocks(model, data.need("retain"), names, cfg, epochs, ctx)
    ctx.info.update(reset=reset)
    return model
