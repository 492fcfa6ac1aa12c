"""CF-k (Goel et al. 2022, arXiv 2201.06640): catastrophic forgetting of the last k blocks.

    θ_u = argmin over the last k blocks (and the head) of L_{D_r}, the rest frozen at θ_o

Code: ``meghdadk/SCRUB: MIA_experiments.ipynb`` (``cfk_unlearn``). Frozen modules are kept in eval mode for
the whole run, so their BatchNorm running statistics stay bit-identical to θ_o: ``requires_grad=False``
alone lets them drift under ``model.train()``.

``frozen_bn`` chooses what the frozen BatchNorm layers do:

* ``"eval"`` (default) — running statistics used and left untouched: the frozen trunk is exactly θ_o.
* ``"train"`` — the reference's behaviour: SCRUB freezes by ``requires_grad=False`` and trains under
  ``model.train()``, so frozen BatchNorm layers normalise with batch statistics and update their running
  statistics on D_r, though their weights do not move. On the project's ``cpu`` preset, eval mode shifts
  the trained block's update by about 11% of that update compared with this mode.

Other frozen modules (dropout) stay in eval mode either way. The block selection and the freezing here are
shared with EU-k.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from sure_unlearn.data.types import BatchedData
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Float, Int, Param
from sure_unlearn.train import Recipe, fit

FROZEN_BN_MODES = ("eval", "train")


@dataclass(frozen=True)
class CFkConfig:
    epochs: int = 10  # SCRUB cfk_unlearn (its lr decay at epochs 10/15/20 never fires)
    lr: float = 0.01  # SCRUB cfk_unlearn (Unlearn-WorstCase searches [1e-4, 1e-1])
    momentum: float = 0.0  # SCRUB fk_fientune: plain SGD
    weight_decay: float = 0.0  # SCRUB fk_fientune
    batch_size: int = 64  # SCRUB notebook (cfk_bs)
    schedule: str = "constant"
    augment: bool = False  # SCRUB's retain loader has augment=False
    blocks: int = 1  # k: last stages of model.blocks() that have parameters; 1 ≙ SCRUB's `layer4`
    layers: tuple[str, ...] = ()  # explicit module names to train instead of the last `blocks` stages
    include_head: bool = True  # Goel et al. count the classifier among the last k layers; SCRUB's ResNet
    # path unfreezes only `layer4` and keeps the head frozen (set False for that variant)
    frozen_bn: str = "eval"  # frozen BatchNorm: "eval" (trunk exactly θ_o) | "train" (SCRUB: running
    # statistics follow D_r, weights stay; see the module docstring)

    def validate(self) -> None:
        if self.blocks < 0 or (self.blocks == 0 and not self.layers and not self.include_head):
            raise ConfigError("cf_k/eu_k: nothing to train; set blocks ≥ 1, layers, or include_head")
        if self.frozen_bn not in FROZEN_BN_MODES:
            raise ConfigError(f"frozen_bn must be one of {FROZEN_BN_MODES}, got {self.frozen_bn!r}")


# What `sure tune` searches; every other field keeps its default above.
SPACE: dict[str, Param] = {
    # Unlearn-WorstCase searches [1e-4, 1e-1]; widened up twice, the second time after a search ended next
    # to the old top of 0.5 (benchmarks/results/README.md, tune-cpu-v2)
    "lr": Float(1e-4, 2.0, log=True),
    # k: how much of the network is fine-tuned; 3 is every stage of the small CNN, and more stages of a
    # ResNet make CF-k FineTune
    "blocks": Int(1, 3),
}


def select_blocks(model: SplitModel, blocks: int, layers: Sequence[str] | str = ()) -> list[str]:
    """Names of the modules to train: ``layers`` if given, else the last ``blocks`` stages with parameters.

    Parameter-free stages (ResNet's ``pool``) and the head are not counted.

    >>> from sure_unlearn.models import ModelSpec, build_model
    >>> resnet = build_model("resnet18", ModelSpec(10, 3, 32, (0.5,) * 3, (0.25,) * 3), width=2)
    >>> resnet.blocks()[-2:], select_blocks(resnet, 1), select_blocks(resnet, 2)
    (['layer4', 'pool'], ['layer4'], ['layer3', 'layer4'])
    """
    modules = dict(model.named_modules())
    names = [n for n in (layers.split(",") if isinstance(layers, str) else layers) if n]
    if names:
        bad = [n for n in names if n not in modules or not any(True for _ in modules[n].parameters())]
        if bad:
            raise ConfigError(f"no module with parameters named {bad}; the model's stages: {model.blocks()}")
        return names
    stages = [
        n
        for n in model.blocks()
        if modules[n] is not model.head and any(True for _ in modules[n].parameters())
    ]
    if blocks > len(stages):
        raise ConfigError(f"blocks={blocks} but the model has {len(stages)} stages with parameters: {stages}")
    return stages[len(stages) - blocks :]


def trainable_modules(model: SplitModel, names: Sequence[str], include_head: bool) -> list[nn.Module]:
    return [model.get_submodule(n) for n in names] + ([model.head] if include_head else [])


def _stay_eval(module: nn.Module, _args: object) -> None:
    module.training = False  # this module only: its children get their own hook


@contextmanager
def train_only(
    model: nn.Module, trainable: Sequence[nn.Module], frozen_bn: str = "eval"
) -> Iterator[list[nn.Parameter]]:
    """Freeze every parameter outside ``trainable`` and keep every frozen module in eval mode at each
    forward, whatever ``model.train()`` says; yields the trainable parameters. Restored on exit.

    ``frozen_bn="train"`` exempts frozen BatchNorm layers: they follow ``model.train()`` (and so update
    their running statistics) while their weights stay frozen."""
    inside = {id(m) for t in trainable for m in t.modules()}
    # frozen: modules neither inside a trainable one nor containing one (a container's flag is left alone)
    frozen = [
        m for m in model.modules() if id(m) not in inside and not any(id(c) in inside for c in m.modules())
    ]
    params = list({id(p): p for t in trainable for p in t.parameters()}.values())
    keep = {id(p) for p in params}
    flags = [(p, p.requires_grad) for p in model.parameters()]
    held = [m for m in frozen if frozen_bn == "eval" or not isinstance(m, _BatchNorm)]
    hooks = [m.register_forward_pre_hook(_stay_eval) for m in held]
    for p, _ in flags:
        p.requires_grad_(id(p) in keep)
    try:
        yield params
    finally:
        for h in hooks:
            h.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
        for m in frozen:
            m.training = model.training


def finetune_blocks(
    model: SplitModel, retain: BatchedData, names: list[str], cfg: CFkConfig, epochs: int, ctx: RunContext
) -> None:
    """CE on D_r for ``epochs``, training only ``names`` (and the head if ``cfg.include_head``); the rest is
    frozen and in eval mode, its BatchNorm as ``cfg.frozen_bn`` says (see :func:`train_only`)."""
    recipe = Recipe.of(cfg, epochs=epochs)
    with train_only(model, trainable_modules(model, names, cfg.include_head), cfg.frozen_bn) as params:
        res = fit(
            model,
            retain,
            recipe,
            ctx.generator,
            params=params,
            progress=ctx.progress,
            engine=ctx.engine,
            desc="train blocks",
        )
    ctx.info.update(
        epochs=res.epochs, seconds_per_epoch=res.seconds_per_epoch,
        trained=names + (["head"] if cfg.include_head else []), trained_params=sum(p.numel() for p in params),
    )  # fmt: skip


@register_method(
    "cf_k",
    config=CFkConfig,
    needs={"retain"},
    summary="CF-k: fine-tune only the last k blocks on D_r",
    space=SPACE,
)
def cf_k(model: SplitModel, data: UnlearnData, cfg: CFkConfig, ctx: RunContext) -> SplitModel:
    names = select_blocks(model, cfg.blocks, cfg.layers)
    finetune_blocks(model, data.need("retain"), names, cfg, cfg.epochs, ctx)
    return model
