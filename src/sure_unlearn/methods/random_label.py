"""RandomLabel (RL; Golatkar et al. 2020, as benchmarked by Jia et al. 2023 and Fan et al. 2024).

Paper objective (y' uniform over the K − 1 wrong classes, redrawn on every visit):

    min_θ  E_{(x,y)∈D_f, y'≠y} CE(θ; x, y')  +  retain_weight · E_{(x,y)∈D_r} CE(θ; x, y)

Two schedules, recorded in the config:

* ``"sequential"`` — the reference code's CIFAR-10/SVHN path (``OPTML-Group/Unlearn-Saliency:
  Classification/unlearn/RL.py``), behind the published numbers: each epoch is one pass over D_f with random
  labels, then one pass over D_r with true labels, each batch its own optimiser step.
* ``"summed"`` — the paper's objective: each step pairs a retain batch with a forget batch (D_f cycled, an
  epoch is one pass over D_r) and descends CE(x_f, y') + retain_weight·CE(x_r, y_r).

``label_mode="wrong"`` draws y' over the wrong classes only (paper, spec); ``"any"`` draws over all K as the
reference code does (y' = y with probability 1/K). SalUn reuses :func:`random_wrong_labels` and
:func:`random_label_loop`, adding its saliency mask through ``after_step``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sure_unlearn.data.types import NO_AUGMENT, BatchedData
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.progress import bar
from sure_unlearn.space import Float
from sure_unlearn.train import Engine, check_epoch, make_optimizer, model_device

LABEL_MODES = ("wrong", "any")
RL_SCHEDULES = ("sequential", "summed")


@dataclass(frozen=True)
class RandomLabelConfig:
    epochs: int = 10  # OPTML Unlearn-Saliency README
    lr: float = 0.01  # OPTML, ≈ 0.01 in a grid [1e-4, 1e-1]; constant (OPTML's MultiStepLR never fires)
    momentum: float = 0.9  # OPTML shared SGD wrapper
    weight_decay: float = 5e-4  # OPTML shared SGD wrapper
    batch_size: int = 128  # retain batch; Unlearn-Sparse paper Table A1 (code: 256)
    forget_batch_size: int = 128  # OPTML uses one batch size for the forget and retain loaders
    retain_weight: float = 1.0  # α of the paper; 1 in OPTML, maintainers allow (0, 1] (Unlearn-Saliency #21)
    schedule: str = "sequential"  # pass order (not lr): "sequential" (reference) | "summed" (paper)
    label_mode: str = "wrong"  # "wrong": y' uniform over the K − 1 wrong classes (the paper's objective) |
    # "any": uniform over all K, so y' = y w.p. 1/K (Unlearn-Saliency RL.py, behind the published numbers)
    augment: bool = True  # the reference's forget and retain loaders use the training transform

    def validate(self) -> None:
        check_rl_settings(self)
        if self.retain_weight < 0 or self.lr < 0 or self.batch_size < 1 or self.forget_batch_size < 1:
            raise ConfigError(f"retain_weight and lr must be ≥ 0 and batch sizes ≥ 1: {self}")


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    "lr": Float(1e-5, 0.5, log=True),  # OPTML grid [1e-4, 1e-1], widened both ways
    # α: the maintainers allow (0, 1] (Unlearn-Saliency #21); a search ended at its top, so up to 10, on a
    # log scale (benchmarks/results/README.md, tune-cpu-v2)
    "retain_weight": Float(0.1, 10.0, log=True),
}


def check_rl_settings(cfg: RandomLabelConfig) -> None:
    if cfg.schedule not in RL_SCHEDULES:
        raise ConfigError(f"schedule must be one of {RL_SCHEDULES}, got {cfg.schedule!r}")
    if cfg.label_mode not in LABEL_MODES:
        raise ConfigError(f"label_mode must be one of {LABEL_MODES}, got {cfg.label_mode!r}")


def random_wrong_labels(
    y: torch.Tensor, num_classes: int, generator: torch.Generator, mode: str = "wrong"
) -> torch.Tensor:
    """Random labels for ``y``: uniform over the ``num_classes − 1`` wrong classes (``"wrong"``) or all (``"any"``).

    "wrong" adds a shift uniform in {1, …, K−1} modulo K, so y' ≠ y always and every wrong class is equally likely.

    >>> y = torch.tensor([0, 1, 2, 3] * 250)
    >>> bool((random_wrong_labels(y, 4, torch.Generator().manual_seed(0)) != y).all())
    True
    """
    gdev = generator.device
    if mode == "any":
        return torch.randint(0, num_classes, y.shape, generator=generator, device=gdev).to(y.device)
    if mode == "wrong":
        if num_classes < 2:
            raise ConfigError("wrong labels need at least 2 classes")
        shift = torch.randint(1, num_classes, y.shape, generator=generator, device=gdev).to(y.device)
        return (y + shift) % num_classes
    raise ConfigError(f"label mode must be one of {LABEL_MODES}, got {mode!r}")


def random_label_loop(
    model: SplitModel,
    forget: BatchedData,
    retain: BatchedData,
    cfg: RandomLabelConfig,
    generator: torch.Generator,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    after_step: Callable[[], None] | None = None,
    progress: bool = False,
    desc: str = "random_label",
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Run RL on ``model`` in place and return what to record (epochs, seconds_per_epoch, per-epoch CEs).

    ``optimizer`` replaces the SGD built from ``cfg`` (lr, momentum, weight_decay are then ignored);
    ``after_step`` runs after every optimiser step (SalUn restores its masked weights there); ``engine``
    (default: automatic) sets layout and precision.
    """
    check_rl_settings(cfg)
    if not cfg.augment:
        forget, retain = forget.with_augment(NO_AUGMENT), retain.with_augment(NO_AUGMENT)
    device = model_device(model)
    eng = (engine or Engine()).ready(model)
    opt = optimizer or make_optimizer(
        model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay, device=device
    )
    ce = nn.functional.cross_entropy
    k = model.num_classes

    def step(loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step()

    forget_stream = forget.cycle(cfg.forget_batch_size, generator)  # used by "summed" only (lazy)
    model.train()
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    with bar(cfg.epochs, desc, progress) as pbar:
        for epoch in range(cfg.epochs):
            sums = torch.zeros(2, device=device)  # forget CE against y', retain CE
            n_f = n_r = 0
            if cfg.schedule == "sequential":
                for x, y in forget.batches(cfg.forget_batch_size, generator):
                    with eng.autocast():
                        loss_f = ce(
                            model(eng.inputs(x)), random_wrong_labels(y, k, generator, cfg.label_mode)
                        )
                    step(loss_f)
                    sums[0] += loss_f.detach()
                    n_f += 1
                for x, y in retain.batches(cfg.batch_size, generator):
                    with eng.autocast():
                        loss_r = ce(model(eng.inputs(x)), y)
                    step(cfg.retain_weight * loss_r)
                    sums[1] += loss_r.detach()
                    n_r += 1
            else:  # summed: one step per retain batch, forget cycled
                for x_r, y_r in retain.batches(cfg.batch_size, generator):
                    x_f, y_f = next(forget_stream)
                    with eng.autocast():
                        loss_f = ce(
                            model(eng.inputs(x_f)), random_wrong_labels(y_f, k, generator, cfg.label_mode)
                        )
                        loss_r = ce(model(eng.inputs(x_r)), y_r)
                    step(loss_f + cfg.retain_weight * loss_r)
                    sums += torch.stack([loss_f.detach(), loss_r.detach()])
                    n_f = n_r = n_f + 1
            f_ce, r_ce = check_epoch(desc, epoch + 1, sums, model)  # one host sync per epoch
            history.append({"forget_ce_random": f_ce / max(n_f, 1), "retain_ce": r_ce / max(n_r, 1)})
            pbar.update()
            pbar.set_postfix_str(
                f"forget {history[-1]['forget_ce_random']:.3f} retain {history[-1]['retain_ce']:.3f}"
            )
    seconds = time.perf_counter() - start
    return {"epochs": cfg.epochs, "seconds_per_epoch": seconds / max(cfg.epochs, 1), "history": history}


@register_method(
    "random_label",
    config=RandomLabelConfig,
    needs={"forget", "retain"},
    summary="RL: train on D_f with random (wrong) labels and on D_r with true labels",
    space=SPACE,
)
def random_label(model: SplitModel, data: UnlearnData, cfg: RandomLabelConfig, ctx: RunContext) -> SplitModel:
    info = random_label_loop(
        model,
        data.need("forget"),
        data.need("retain"),
        cfg,
        ctx.generator,
        progress=ctx.progress,
        engine=ctx.engine,
    )
    ctx.info.update(info)
    return model
