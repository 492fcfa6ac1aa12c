"""One small training loop, shared by the original, the oracle and every method that just trains.

A method that only changes *what* is minimised passes its own ``loss_fn``; methods whose loop differs
(SURE, SCRUB) write their own short loop from the same pieces (:class:`Engine`, :func:`make_optimizer`,
:func:`lr_lambda`, :func:`check_epoch`). Losses are accumulated on the device and read once per epoch: no
per-step host synchronisation. That one read also checks that the losses and the weights are finite: a
run that diverges stops at the end of the epoch with a :class:`~sure_unlearn.errors.DivergenceError`.

:class:`Engine` decides *how* the arithmetic runs, never *what* is computed: memory layout
(channels-last), precision (bf16 autocast, CUDA only), optional ``torch.compile``, and for inference a
copy with BatchNorm folded into the convolutions. Measured on the project's 2-core CPU (width-16
ResNet-18, 32×32, batch 128 / 512; ``benchmarks/speed_sure.py --part engine``, results in
``benchmarks/results/speed_sure.jsonl``): channels-last gives +18–29% training and +43–64% evaluation
throughput, so it is on for convolutional models; folding BatchNorm adds +12–22% to evaluation. bf16
autocast is ≈ 8.5× *slower* on these CPUs (no AMX), so it is on for CUDA only;
``torch.compile`` gains ≤ 4% on CPU for 40–60 s of compilation, so it is off unless asked for.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from sure_unlearn.data.types import NO_AUGMENT, BatchedData
from sure_unlearn.errors import ConfigError, DivergenceError
from sure_unlearn.models.base import SplitModel
from sure_unlearn.progress import bar

SCHEDULES = ("constant", "cosine", "multistep", "linear", "onecycle")


@dataclass(frozen=True)
class Recipe:
    """How a model is trained. Defaults: the OPTML CIFAR-10 recipe with a cosine schedule."""

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
    params: Iterable[nn.Parameter] | list[dict],
    lr: float,
    momentum: float,
    weight_decay: float,
    nesterov: bool = False,
    device: torch.device | None = None,
) -> torch.optim.SGD:
    """SGD; fused kernels on CUDA, multi-tensor (foreach) elsewhere."""
    fast = {"fused": True} if device is not None and device.type == "cuda" else {"foreach": True}
    return torch.optim.SGD(
        params,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        nesterov=nesterov and momentum > 0,
        **fast,
    )


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def weights_finite(model: nn.Module) -> torch.Tensor:
    """A boolean scalar on the model's device: every parameter finite (no host synchronisation)."""
    flags = [torch.isfinite(p.detach()).all() for p in model.parameters()]
    return torch.stack(flags).all() if flags else torch.ones((), dtype=torch.bool)


def check_epoch(method: str, epoch: int, sums: torch.Tensor, model: nn.Module) -> list[float]:
    """The epoch's device-side sums (losses, counts) read on the host: the epoch's one synchronisation.

    Raises :class:`~sure_unlearn.errors.DivergenceError` naming ``method`` and ``epoch`` (from 1) when a sum
    or a parameter of ``model`` is NaN or infinite, so a diverging run stops at the end of that epoch.

    >>> check_epoch("m", 1, torch.tensor([0.5, 2.0]), nn.Linear(2, 2))
    [0.5, 2.0]
    """
    flat = sums.detach().float().reshape(-1)
    *values, ok = torch.cat([flat, weights_finite(model).float().reshape(1).to(flat.device)]).tolist()
    if not ok:
        raise DivergenceError(method, epoch, "weights")
    if not all(math.isfinite(v) for v in values):
        raise DivergenceError(method, epoch, "loss")
    return values


F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=nn.Module)


PRECISIONS = ("auto", "fp32", "bf16")  # training arithmetic: the engine's choice, or one for every device


@dataclass(frozen=True)
class Engine:
    """How training and evaluation run on the device: layout, precision, compilation. ``None`` = automatic.

    * ``channels_last``: NHWC memory format for the model's weights and each input batch. Auto: on for
      models with a ``Conv2d`` (cuDNN and oneDNN both prefer it), off otherwise.
    * ``bf16``: ``torch.autocast(dtype=bfloat16)`` around forward passes and losses. bf16 keeps fp32's
      exponent range, so no loss scaling is needed; BatchNorm and losses stay fp32 under autocast.
      Auto: CUDA only.
    * ``compile``: ``torch.compile`` the per-step forward (and loss). Off by default; worth it on a GPU for
      long runs, where one compilation is amortised.

    Call :meth:`resolve` once with the model (it fixes the automatic choices for its device), then
    :meth:`prepare` the model, pass every batch through :meth:`inputs` and run forwards inside
    :meth:`autocast`.

    >>> eng = Engine().resolve(nn.Sequential(nn.Conv2d(3, 4, 3)))
    >>> eng.channels_last, eng.bf16, eng.inputs(torch.zeros(2, 3, 8, 8)).is_contiguous(memory_format=torch.channels_last)
    (True, False, True)
    """

    channels_last: bool | None = None
    bf16: bool | None = None
    compile: bool = False
    device_type: str = ""  # set by resolve(): where autocast runs

    @classmethod
    def of_precision(cls, precision: str) -> Engine | None:
        """The training engine of a ``precision`` setting: ``"auto"`` None (automatic), ``"fp32"``, ``"bf16"``.

        >>> Engine.of_precision("auto"), Engine.of_precision("bf16").bf16
        (None, True)
        """
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
        return None if precision == "auto" else cls(bf16=precision == "bf16")

    @classmethod
    def for_eval(cls) -> Engine:
        """The default for evaluation: automatic layout, fp32 arithmetic. Metrics read losses of samples the
        model is confident on (MIA-loss) and fresh probes on z; bf16 keeps 8 bits of mantissa, which would
        round those, and one forward per split is cheap next to training."""
        return cls(bf16=False)

    def resolve(self, model: nn.Module) -> Engine:
        """This engine with the automatic choices made for ``model`` on its device."""
        device = model_device(model)
        conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
        return Engine(
            channels_last=conv if self.channels_last is None else self.channels_last,
            bf16=device.type == "cuda" if self.bf16 is None else self.bf16,
            compile=self.compile,
            device_type=device.type,
        )

    def _check(self) -> None:
        if not self.device_type:
            raise RuntimeError("Engine.resolve(model) must be called before the engine is used")

    def ready(self, model: nn.Module) -> Engine:
        """This engine resolved for ``model``, with ``model`` put in its layout: what a training loop calls
        once before its first step (then every batch goes through :meth:`inputs`, every forward through
        :meth:`autocast`)."""
        eng = self.resolve(model)
        eng.prepare(model)
        return eng

    def prepare(self, model: M) -> M:
        """Put ``model``'s weights in the engine's layout (in place; values are unchanged)."""
        self._check()
        if self.channels_last:
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return model

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """A batch in the engine's layout (4-D image batches only; anything else passes through)."""
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The precision context for forward passes and losses (a no-op unless ``bf16``)."""
        self._check()
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=torch.bfloat16)

    def inference(self, module: M) -> M:
        """An eval-mode copy of ``module`` for inference only, in the engine's layout, with every BatchNorm
        that directly follows a convolution inside an ``nn.Sequential`` folded into it:
        ``w' = w·γ/σ``, ``b' = (b − μ)·γ/σ + β`` with σ = √(running_var + ε). Same outputs up to rounding,
        one pass less over every activation (+12–22% evaluation throughput on the 2-core CPU, measured).
        Module names are kept (the BatchNorm becomes an ``nn.Identity``), so hooks by name still work.
        """
        folded = copy.deepcopy(module).eval()
        for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
            for i in range(len(seq) - 1):
                conv, bn = seq[i], seq[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                    seq[i], seq[i + 1] = fuse_conv_bn_eval(conv, bn), nn.Identity()
        return self.prepare(folded)

    def compiled(self, fn: F) -> F:
        """``torch.compile(fn)`` when ``compile`` is set, else ``fn`` itself."""
        return torch.compile(fn) if self.compile else fn  # type: ignore[return-value]


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
    data: BatchedData,
    recipe: Recipe,
    generator: torch.Generator,
    *,
    loss_fn: LossFn | None = None,
    params: Iterable[nn.Parameter] | None = None,
    after_step: Callable[[], None] | None = None,
    epoch_hook: Callable[[int], None] | None = None,
    progress: bool = False,
    desc: str = "train",
    engine: Engine | None = None,
) -> FitResult:
    """Minimise ``loss_fn`` (default: cross-entropy) over ``data`` for ``recipe.epochs`` epochs, in place.

    ``params`` restricts what is optimised (default: all parameters); ``after_step`` runs after every
    optimiser step (e.g. to restore masked weights); ``epoch_hook(e)`` after every epoch. ``engine``
    (default: automatic) sets layout, precision and compilation; ``loss_fn`` runs inside its autocast.
    A non-finite epoch loss or weight raises :class:`~sure_unlearn.errors.DivergenceError` naming ``desc``.
    """
    recipe.validate()
    device = model_device(model)
    eng = (engine or Engine()).ready(model)
    step_loss = eng.compiled(loss_fn or cross_entropy(recipe.label_smoothing))
    opt = make_optimizer(
        list(params) if params is not None else model.parameters(),
        recipe.lr,
        recipe.momentum,
        recipe.weight_decay,
        recipe.nesterov,
        device,
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
                with eng.autocast():
                    loss = step_loss(model, eng.inputs(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if after_step is not None:
                    after_step()
                total += loss.detach()
            (loss_sum,) = check_epoch(desc, epoch + 1, total, model)  # one host sync per epoch
            last = loss_sum / max(steps_per_epoch, 1)
            if epoch_hook is not None:
                epoch_hook(epoch)
            pbar.update()
            pbar.set_postfix_str(f"loss {last:.3f}")
    seconds = time.perf_counter() - start
    return FitResult(seconds, recipe.epochs, seconds / max(recipe.epochs, 1), last)


@torch.no_grad()
def accuracy(
    model: SplitModel, data: BatchedData, batch_size: int = 512, engine: Engine | None = None
) -> float:
    """Top-1 accuracy in percent, eval mode, no augmentation (``engine`` default: :meth:`Engine.for_eval`)."""
    was = model.training
    eng = (engine or Engine.for_eval()).ready(model)
    model.eval()
    correct = torch.zeros((), device=data.device)
    for x, y in data.batches(batch_size, shuffle=False):
        with eng.autocast():
            correct += (model(eng.inputs(x)).argmax(1) == y).sum()
    model.train(was)
    return 100.0 * float(correct) / max(len(data), 1)
