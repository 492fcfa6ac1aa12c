"""SURE — Selective Unlearning via Representation Erasure (Sepahvand et al., ICLR 2025).

Domain-adversarial training (DANN, Ganin et al. 2016) between the forget set (domain 1) and held-out data
from the same distribution (domain 0), on the representation ``z = g(x)``:

    L = CE(h(g(x_r)), y_r) + α · BCE(d(R_λ(g(x_d))), domain)

``R_λ`` is the gradient reversal layer (identity forward, −λ·grad backward), ``d`` a fresh MLP with one
logit. θ_f, θ_y, θ_d all *descend* L, so through the reversal θ_f *ascends* the domain loss: the saddle
point min_{θ_f,θ_y} max_{θ_d} [CE − α·L_d]. The retain term keeps the model useful; the adversarial term
makes forget representations indistinguishable from never-seen ones.

One forward pass per step: the retain batch and the domain batch (half forget, half validation) go
through ``g`` together (train-mode BatchNorm therefore sees them as one batch, as in DANN's usual
implementation). Unlearning starts from the original weights; an epoch is one pass over the retain set.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.data.types import NO_AUGMENT
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel, capture
from sure_unlearn.progress import bar
from sure_unlearn.train import Recipe, lr_lambda, make_optimizer, model_device


@dataclass(frozen=True)
class SureConfig:
    """SURE's hyperparameters. The paper tuned lr, α, λ (or the ramp), epochs, the domain classifier's
    width and learning rate and the batch sizes by Bayesian optimisation; these defaults start that search."""

    epochs: int = 20  # the paper's budget
    lr: float = 0.01  # FT-like step size (REFERENCES §2.2): unlearning starts from a trained model
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128  # retain samples per step (Unlearn-Sparse Table A1)
    domain_batch_size: int = 64  # forget + validation samples per step, half each
    alpha: float = 10.0  # SPEC §2: α≈10 erases what a fresh probe finds; α≈1–3 only fools d itself
    lam: float = 1.0  # reversal strength λ (constant unless dann_ramp)
    dann_ramp: bool = False  # λ_p = lam · (2/(1+exp(−10p)) − 1), p = progress in [0, 1] (Ganin et al.)
    domain_hidden: int = 256  # width of d's hidden layer
    domain_lr: float = 0.01
    schedule: str = "constant"  # lr schedule over the run (see train.SCHEDULES)
    z_layer: str = ""  # module whose output is z; "" = the head's input (penultimate layer)
    augment: bool = True

    def validate(self) -> None:
        if self.domain_batch_size < 2:
            raise ConfigError("domain_batch_size must be ≥ 2 (half forget, half validation)")
        if self.alpha < 0 or self.lam < 0:
            raise ConfigError("alpha and lam must be ≥ 0")


class GradReverse(torch.autograd.Function):
    """R_λ: identity forward, gradient × (−λ) backward."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(lam)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (lam,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return -lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float | torch.Tensor) -> torch.Tensor:
    lam_t = torch.as_tensor(lam, dtype=x.dtype, device=x.device)
    return GradReverse.apply(x, lam_t)  # type: ignore[no-any-return]


def domain_classifier(dim: int, hidden: int) -> nn.Module:
    """d: a small MLP on z ending in one logit (freshly initialised every run)."""
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def ramp(p: float) -> float:
    """DANN's schedule for λ: 0 at the start, → 1 as training progresses."""
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


@register_method(
    "sure",
    config=SureConfig,
    needs={"forget", "retain", "val"},
    summary="SURE: domain-adversarial erasure of the forget set's representations (GRL), CE on retain",
)
def sure(model: SplitModel, data: UnlearnData, cfg: SureConfig, ctx: RunContext) -> SplitModel:
    forget, retain, val = data.need("forget"), data.need("retain"), data.need("val")
    if not cfg.augment:
        forget, retain, val = (d.with_augment(NO_AUGMENT) for d in (forget, retain, val))
    device = model_device(model)
    gen = ctx.generator

    def representations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not cfg.z_layer:
            return model.features_and_logits(x)
        with capture(model, [cfg.z_layer]) as got:
            logits = model(x)
        return got[cfg.z_layer], logits

    # d's input width: probe once on one sample (z_layer may be any layer)
    with torch.no_grad():
        was = model.training
        model.eval()
        dim = representations(forget.batch(torch.arange(1, device=forget.device))[0])[0].shape[1]
        model.train(was)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device)))
        d = domain_classifier(dim, cfg.domain_hidden).to(device)

    opt = make_optimizer(
        [
            {"params": list(model.parameters()), "lr": cfg.lr},
            {"params": list(d.parameters()), "lr": cfg.domain_lr, "weight_decay": 0.0},
        ],
        cfg.lr, cfg.momentum, cfg.weight_decay, device=device,
    )
    steps_per_epoch = math.ceil(len(retain) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda(Recipe(epochs=cfg.epochs, schedule=cfg.schedule), total_steps)
    )
    half = cfg.domain_batch_size // 2
    forget_batches, val_batches = forget.cycle(half, gen), val.cycle(half, gen)
    domain = torch.cat([torch.ones(half, device=device), torch.zeros(half, device=device)])
    bce, ce = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss()

    model.train()
    d.train()
    step = 0
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    with bar(cfg.epochs, "sure", ctx.progress) as pbar:
        for _epoch in range(cfg.epochs):
            sums = torch.zeros(3, device=device)  # retain CE, domain BCE, domain accuracy
            for x_r, y_r in retain.batches(cfg.batch_size, gen):
                x_f, _ = next(forget_batches)
                x_v, _ = next(val_batches)
                lam = cfg.lam * (ramp(step / max(total_steps, 1)) if cfg.dann_ramp else 1.0)
                z, logits = representations(torch.cat([x_r, x_f, x_v]))
                n_r = len(x_r)
                loss_y = ce(logits[:n_r], y_r)
                dom_logit = d(grad_reverse(z[n_r:], lam)).squeeze(1)
                loss_d = bce(dom_logit, domain)
                loss = loss_y + cfg.alpha * loss_d
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                with torch.no_grad():
                    acc = ((dom_logit > 0).float() == domain).float().mean()
                    sums += torch.stack([loss_y.detach(), loss_d.detach(), acc])
            ce_m, bce_m, acc_m = (sums / steps_per_epoch).tolist()  # one host sync per epoch
            history.append({"retain_ce": ce_m, "domain_bce": bce_m, "domain_acc": 100 * acc_m})
            pbar.update()
            pbar.set_postfix_str(f"ce {ce_m:.3f} dom {bce_m:.3f} acc {100 * acc_m:.0f}%")
    seconds = time.perf_counter() - start
    ctx.info.update(
        epochs=cfg.epochs,
        seconds_per_epoch=seconds / max(cfg.epochs, 1),
        domain_acc_last=history[-1]["domain_acc"] if history else float("nan"),
        history=history,
    )
    return model
