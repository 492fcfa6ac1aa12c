"""SCRUB (Kurmanji, Triantafillou, Hayes, Triantafillou, NeurIPS 2023; arXiv 2302.09880).

A teacher T (a frozen copy of θ_o, eval mode) and a student S (the model, train mode, starting at θ_o):

    d(x)     = τ² · KL( softmax(z_T/τ) ‖ softmax(z_S/τ) )   summed over classes, averaged over the batch
    epoch e = 1..E:
        if e ≤ M:  max-step, one pass over D_f minimising  −d(x)                   (push S away from T)
        min-step,  one pass over D_r minimising  γ·CE(z_S, y) + α·d(x)              (stay close on D_r)
    η_e = η · 0.1^{#{m ∈ decay_epochs : e > m}}

One optimiser (and momentum state) serves both passes. Code: ``meghdadk/SCRUB: MIA_experiments.ipynb``
(``scrub``), ``thirdparty/repdistiller/helper/loops.py`` (``train_distill``), ``distiller_zoo/KD.py``
(``DistillKL``), ``helper/util.py`` (``adjust_learning_rate``). The max-steps run in train mode, so BatchNorm
running statistics absorb D_f, as in the reference. :func:`scrub_epochs` yields after every epoch, so
SCRUB+R (``scrub_r.py``) reuses this loop to checkpoint and rewind.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from sure_unlearn.data.types import NO_AUGMENT, BatchedData
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.progress import bar
from sure_unlearn.space import Float
from sure_unlearn.train import check_epoch, make_optimizer, model_device


@dataclass(frozen=True)
class ScrubConfig:
    """Defaults: ``MIA_experiments.ipynb`` (CIFAR-10, 100 samples of class 5). For whole-class forgetting
    at scale, ``large_scale_unlearning.ipynb`` uses epochs 3, max_steps 2, ce_weight 0.99, kd_weight 0.001,
    forget/retain batches 512/256; the small-scale notebook uses Adam with wd 0.1."""

    epochs: int = 5  # E, sgda_epochs (MIA notebook)
    max_steps: int = 3  # M, msteps: epochs 1..M start with a max-step on D_f (MIA notebook)
    lr: float = 5e-4  # η, sgda_learning_rate (MIA notebook)
    momentum: float = 0.9  # sgda_momentum, SGD (MIA notebook)
    weight_decay: float = 5e-4  # sgda_weight_decay (MIA notebook)
    ce_weight: float = 1.0  # γ, weight of CE on D_r in the min-step (MIA notebook: gamma 1)
    kd_weight: float = 0.5  # α, weight of d on D_r in the min-step (MIA notebook: alpha 0.5)
    temperature: float = 4.0  # τ, kd_T (MIA notebook)
    decay_epochs: tuple[int, ...] = (3, 5, 9)  # lr_decay_epochs, ×rate strictly after each (MIA nb.)
    decay_rate: float = 0.1  # lr_decay_rate (MIA notebook)
    batch_size: int = 32  # retain_bs, min-step batches (MIA notebook)
    forget_batch_size: int = 16  # forget_bs, max-step batches (MIA notebook)
    augment: bool = False  # the MIA notebook builds its loaders with augment=False

    def __post_init__(self) -> None:  # a JSON/CLI list becomes the declared tuple
        object.__setattr__(self, "decay_epochs", tuple(int(m) for m in self.decay_epochs))

    def validate(self) -> None:
        if self.epochs < 0 or self.max_steps < 0 or self.lr < 0:
            raise ConfigError(f"epochs, max_steps and lr must be ≥ 0: {self}")
        if self.batch_size < 1 or self.forget_batch_size < 1:
            raise ConfigError("batch_size and forget_batch_size must be ≥ 1")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    "lr": Float(1e-5, 1e-1, log=True),  # around the notebooks' 5e-4
    "kd_weight": Float(1e-4, 10.0, log=True),  # α: 0.001 (large-scale) … 0.5 (MIA notebook)
}


def kd_distance(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """d = τ²·KL(softmax(z_T/τ) ‖ softmax(z_S/τ)), summed over classes, mean over the batch (``DistillKL``).

    >>> z = torch.tensor([[1.0, 2.0, 3.0]])
    >>> float(kd_distance(z, z, 4.0))
    0.0
    """
    t = temperature
    log_p_s = F.log_softmax(student_logits / t, dim=1)
    log_p_t = F.log_softmax(teacher_logits / t, dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="sum", log_target=True)  # Σ p_T (log p_T − log p_S)
    return kl * (t * t) / len(student_logits)


def scrub_lr(lr: float, epoch: int, decay_epochs: tuple[int, ...], decay_rate: float = 0.1) -> float:
    """η_e = η · rate^{#{m : e > m}}, epochs counted from 1 (repdistiller ``adjust_learning_rate``).

    >>> [scrub_lr(1.0, e, (3, 5)) for e in range(1, 7)]
    [1.0, 1.0, 1.0, 0.1, 0.1, 0.010000000000000002]
    """
    return lr * decay_rate ** sum(epoch > m for m in decay_epochs)


def scrub_epochs(
    model: SplitModel, forget: BatchedData, retain: BatchedData, cfg: ScrubConfig, ctx: RunContext
) -> Iterator[dict[str, Any]]:
    """Run SCRUB on ``model`` in place, yielding each epoch's record (after its min-step)."""
    if not cfg.augment:
        forget, retain = forget.with_augment(NO_AUGMENT), retain.with_augment(NO_AUGMENT)
    device, gen = model_device(model), ctx.generator
    eng = ctx.engine_for(model)
    teacher = eng.inference(copy.deepcopy(model)).requires_grad_(False)  # T: θ_o, eval mode (BN folded)
    opt = make_optimizer(model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay, device=device)

    def one_pass(data: BatchedData, batch_size: int, maximise: bool) -> torch.Tensor:
        model.train()
        total, steps = torch.zeros((), device=device), 0
        for x, y in data.batches(batch_size, gen):
            x = eng.inputs(x)
            with eng.autocast():
                z_s = model(x)
                with torch.no_grad():
                    z_t = teacher(x)
                d = kd_distance(z_s, z_t, cfg.temperature)
                loss = -d if maximise else cfg.ce_weight * F.cross_entropy(z_s, y) + cfg.kd_weight * d
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
            steps += 1
        return total / max(steps, 1)

    with bar(cfg.epochs, "scrub", ctx.progress) as pbar:
        for epoch in range(1, cfg.epochs + 1):
            lr = scrub_lr(cfg.lr, epoch, cfg.decay_epochs, cfg.decay_rate)
            for group in opt.param_groups:
                group["lr"] = lr
            losses = []
            if epoch <= cfg.max_steps:
                losses.append(one_pass(forget, cfg.forget_batch_size, maximise=True))
            losses.append(one_pass(retain, cfg.batch_size, maximise=False))
            *max_loss, min_loss = check_epoch("scrub", epoch, torch.stack(losses), model)  # one host sync
            record: dict[str, Any] = {"epoch": epoch, "lr": lr, "retain_loss": min_loss}
            if max_loss:
                record["forget_kd"] = -max_loss[0]  # mean d on D_f during the max-step
            pbar.update()
            pbar.set_postfix_str(f"min-step loss {record['retain_loss']:.3f}")
            yield record


@register_method(
    "scrub",
    config=ScrubConfig,
    needs={"forget", "retain"},
    summary="SCRUB: max-steps away from the original on D_f, distillation + CE on D_r",
    space=SPACE,
)
def scrub(model: SplitModel, data: UnlearnData, cfg: ScrubConfig, ctx: RunContext) -> SplitModel:
    start = time.perf_counter()
    history = list(scrub_epochs(model, data.need("forget"), data.need("retain"), cfg, ctx))
    ctx.info.update(
        epochs=cfg.epochs,
        seconds_per_epoch=(time.perf_counter() - start) / max(cfg.epochs, 1),
        history=history,
    )
    return model
