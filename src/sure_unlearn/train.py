"""One small training loop, shared by the original, the oracle and every method that just trains.

A method that only changes *what* is minimised passes its own ``loss_fn``; methods whose loop differs
(SURE, SCRUB) write their own short loop from the same pieces (:func:`make_optimizer`, :func:`lr_lambda`).
Losses are accumulated on the device and read once per epoch: no per-step host synchronisation.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.data.types import NO_AUGMENT, LabeledData
from sure_unlearn.errors import ConfigError
from sure_unlearn.models.base import SplitModel
from sure_unlearn.progress import bar

SCHEDULES = ("constant", "cosine", "multistep", "linear", "onecycle")


@dataclass(frozen=True)
class Recipe:
    """How a model is trained. Defaults: the OPTML CIFAR-10 recipe (REFERENCES §4.2) with a cosine schedule."""

    epochs: int = 30
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    batch_size: int = 128
    schedule: str = "cosine"  # one of SCHEDULES
    milestones: tuple[float, ...] = (0.5, 0.75)  # multistep: fractions of training
    gamma: float = 0.1  # multistep decay factor
    warmup: float = 0.0  # fraction of training with a linear warm-up
    label_smoothing: float = 0.0
    augment: bool = True

    @classmethod
    def of(cls, cfg: object, **overrides: object) -> Recipe:
        """The recipe a method config describes: its fields named like Recipe's (epochs, lr, momentum,
        weight_decay, batch_size, schedule, augment, …), plain SGD momentum unless it says ``nesterov``."""
        names = {f.name for f in dataclasses.fields(cls)}
        given = {k: getattr(cfg, k) for k in names if hasattr(cfg, k)}
        return cls(**{"nesterov": False, **given, **overrides})  # type: ignore[arg-type]

    def validate(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose from {SCHEDULES}")
        if self.epochs < 0 or self.batch_size < 1 or self.lr < 0:
            raise ConfigError(f"epochs, batch_size and lr must be positive: {self}")


def lr_lambda(recipe: Recipe, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the base learning rate at a step: warm-up, then the recipe's schedule."""
    total = max(total_steps, 1)
    warm = int(recipe.warmup * total)

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(total - warm, 1)
        if recipe.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * p))
        if recipe.schedule == "linear":
            return 1 - p
        if recipe.schedule == "onecycle":  # triangle: up for the first 30%, down to 0
            return p / 0.3 if p < 0.3 else (1 - p) / 0.7
        if recipe.schedule == "multistep":
            return recipe.gamma ** sum(p >= m for m in recipe.milestones)
        return 1.0

    return f


def make_optimizer(
    params: Iterable[nn.Parameter] | list[dict], lr: float, momentum: float, weight_decay: float,
    nesterov: bool = False, device: torch.device | None = None,
) -> torch.optim.SGD:
    """SGD; fused kernels on CUDA, multi-tensor (foreach) elsewhere."""
    fast = {"fused": True} if device is not None and device.type == "cuda" else {"foreach": True}
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov and momentum > 0, **fast
    )


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@dataclass(frozen=True)
class FitResult:
    seconds: float
    epochs: int
    seconds_per_epoch: float
    final_loss: float


LossFn = Callable[[SplitModel, torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(smoothing: float = 0.0) -> LossFn:
    def loss(model: SplitModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(model(x), y, label_smoothing=smoothing)

    return loss


def fit(
    model: SplitModel,
    data: LabeledData,
    recipe: Recipe,
    generator: torch.Generator,
    *,
    loss_fn: LossFn | None = None,
    params: Iterable[nn.Parameter] | None = None,
    after_step: Callable[[], None] | None = None,
    epoch_hook: Callable[[int], None] | None = None,
    progress: bool = False,
    desc: str = "train",
) -> FitResult:
    """Minimise ``loss_fn`` (default: cross-entropy) over ``data`` for ``recipe.epochs`` epochs, in place.

    ``params`` restricts what is optimised (default: all parameters); ``after_step`` runs after every
    optimiser step (e.g. to restore masked weights); ``epoch_hook(e)`` after every epoch.
    """
    recipe.validate()
    loss_fn = loss_fn or cross_entropy(recipe.label_smoothing)
    device = model_device(model)
    opt = make_optimizer(
        list(params) if params is not None else model.parameters(),
        recipe.lr, recipe.momentum, recipe.weight_decay, recipe.nesterov, device,
    )
    steps_per_epoch = math.ceil(len(data) / recipe.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(recipe, steps_per_epoch * recipe.epochs))
    data = data if recipe.augment else data.with_augment(NO_AUGMENT)
    model.train()
    start = time.perf_counter()
    last = float("nan")
    with bar(recipe.epochs, desc, progress) as pbar:
        for epoch in range(recipe.epochs):
            total = torch.zeros((), device=device)
            for x, y in data.batches(recipe.batch_size, generator):
                loss = loss_fn(model, x, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if after_step is not None:
                    after_step()
                total += loss.detach()
            last = float(total) / max(steps_per_epoch, 1)  # one host sync per epoch
            if epoch_hook is not None:
                epoch_hook(epoch)
            pbar.update()
            pbar.set_postfix_str(f"loss {last:.3f}")
    seconds = time.perf_counter() - start
    return FitResult(seconds, recipe.epochs, seconds / max(recipe.epochs, 1), last)


@torch.no_grad()
def accuracy(model: SplitModel, data: LabeledData, batch_size: int = 512) -> float:
    """Top-1 accuracy in percent, eval mode, no augmentation."""
    was = model.training
    model.eval()
    correct = torch.zeros((), device=data.device)
    for x, y in data.batches(batch_size, shuffle=False):
        correct += (model(x).argmax(1) == y).sum()
    model.train(was)
    return 100.0 * float(correct) / max(len(data), 1)
