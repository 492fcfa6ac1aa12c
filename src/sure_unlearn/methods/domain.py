"""The adversary of domain-adversarial unlearning (DANN, Ganin et al. 2016), as SURE uses it.

``R_λ`` (:func:`grad_reverse`) is the gradient reversal layer: identity forward, −λ·grad backward, so the
parameters below it *ascend* the loss of the domain classifier ``d`` above it while ``d`` descends it.

    logits = domain_logits({"z": d}, {"z": z_domain_batch}, y, lam)     # forget half first, then held-out
    loss = bce(logits["z"], torch.cat([ones(half), zeros(half)]))
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sure_unlearn.train import make_optimizer


class GradReverse(torch.autograd.Function):
    """R_λ: identity forward, gradient × (−λ) backward."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam  # type: ignore[attr-defined]  # a Python float: no host-to-device copy per step
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * -ctx.lam, None  # type: ignore[attr-defined]


def grad_reverse(x: torch.Tensor, lam: float) -> torch.Tensor:
    return GradReverse.apply(x, float(lam))  # type: ignore[no-any-return]


def ramp(p: float) -> float:
    """DANN's schedule for λ: 0 at the start, → 1 as training progresses."""
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


class DomainClassifier(nn.Module):
    """d: an MLP on a representation ending in one logit, or one per class (``classes`` > 1), in which case
    each sample is scored by its own class's logit."""

    def __init__(self, dim: int, hidden: int, classes: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.net(h)
        return out[:, 0] if out.shape[1] == 1 else out.gather(1, y[:, None])[:, 0]


def domain_logits(
    ds: dict[str, DomainClassifier],
    reps: dict[str, torch.Tensor],
    y: torch.Tensor,
    lam: float,
    reverse: str = "both",
) -> dict[str, torch.Tensor]:
    """Each d's logits on its layer's representations of a domain batch (first half forget, second half
    held-out), through the reversal: on both halves, or (``reverse="forget"``) on the forget half only,
    the held-out half detached so that d learns from it but the domain loss never moves it."""
    out = {}
    for name, d in ds.items():
        h, half = reps[name], len(y) // 2
        h = (
            grad_reverse(h, lam)
            if reverse == "both"
            else torch.cat([grad_reverse(h[:half], lam), h[half:].detach()])
        )
        out[name] = d(h, y).float()
    return out


def warm_up(
    ds: dict[str, DomainClassifier],
    hf: dict[str, torch.Tensor],
    hv: dict[str, torch.Tensor],
    yf: torch.Tensor,
    yv: torch.Tensor,
    gen: torch.Generator,
    steps: int,
    lr: float,
    momentum: float,
) -> dict[str, float]:
    """``steps`` full-batch steps of every d alone (the model untouched) on the original's eval-mode
    representations of forget (1) and held-out (0) samples, n = min(|D_f|, |D_v|) per side (a fresh draw
    from the larger side each step), so the first reversed gradients follow a real forget-vs-held-out
    difference rather than a fresh d's random direction. Returns z's d BCE before and after, and accuracy."""
    n = min(len(yf), len(yv))
    target = torch.cat([torch.ones(n, device=yf.device), torch.zeros(n, device=yf.device)])
    params = [p for d in ds.values() for p in d.parameters()]
    opt = make_optimizer(params, lr, momentum, 0.0, device=yf.device)
    bce = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(steps):
        rf = torch.randperm(len(yf), generator=gen, device=gen.device)[:n].to(yf.device)
        rv = torch.randperm(len(yv), generator=gen, device=gen.device)[:n].to(yv.device)
        y = torch.cat([yf[rf], yv[rv]])
        logits = {k: d(torch.cat([hf[k][rf], hv[k][rv]]), y) for k, d in ds.items()}
        loss = sum(bce(lg, target) for lg in logits.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        opt.step()
        losses.append(bce(logits["z"], target).detach())
    acc = ((logits["z"].detach() > 0).float() == target).float().mean()
    first, last, acc_end = torch.stack([losses[0], losses[-1], acc]).tolist()  # one host sync
    return {"bce_start": first, "bce_end": last, "acc_end": 100 * acc_end}
