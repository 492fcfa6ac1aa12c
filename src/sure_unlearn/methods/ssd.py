"""Selective Synaptic Dampening (Foster, Schoepf, Brintrup, AAAI 2024, arXiv 2308.07707): no training.

    I_S[i] = (1/#batches) · Σ_b (∂L_b/∂θ_i)²        L_b = batch-mean CE; a diagonal-Fisher proxy
    I_D on the full training set D = D_r ∪ D_f, I_f on D_f, both at the same batch size B
    θ_i ← θ_i · min(λ · I_D[i] / I_f[i], 1)          where I_f[i] > α · I_D[i]; other θ_i unchanged

Reference: if-loops/selective-synaptic-dampening: ssd.py (ParameterPerturber.calc_importance /
modify_weight) and src/forget_random_main.py (batch size 128, D = ConcatDataset(retain, forget) unshuffled).
Eval mode throughout: every parameter with a gradient is scored and may be dampened (BatchNorm affine
weights included); BatchNorm running statistics are buffers and never change. A coordinate with I_D = 0
and I_f > 0 is selected for any α and multiplied by 0. Since E[ḡ_B²] = (E g)² + Var(g)/B, importances
depend on B: the same B is used for both sets and recorded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.data.types import BatchedData, concat_batches
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Float
from sure_unlearn.train import model_device


@dataclass(frozen=True)
class SSDConfig:
    selection_weight: float = 10.0  # α; SSD repo (forget_*_main.py) for ResNet-18 on CIFAR; ViT: 5 / 25
    dampening: float = 1.0  # λ; SSD repo "dampening_constant": 1 (PinsFaceRecognition: 0.1)
    batch_size: int = 128  # SSD repo: -b 128 for D, forget_train_dl batch_size=128

    def validate(self) -> None:
        if self.selection_weight < 0 or self.dampening < 0:
            raise ConfigError("selection_weight (α) and dampening (λ) must be ≥ 0")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {self.batch_size}")


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    # α: the SSD authors' own Optuna range [0.1, 100], and up
    "selection_weight": Float(0.1, 1000.0, log=True),
    "dampening": Float(0.01, 10.0, log=True),  # λ: the SSD authors' own Optuna range [0.1, 5], widened
}


def diagonal_fisher(
    model: nn.Module, data: BatchedData | Sequence[BatchedData], batch_size: int
) -> dict[str, torch.Tensor]:
    """I[name] = mean over batches of the squared gradient of the batch-mean CE, in eval mode, unshuffled,
    un-augmented; one entry per parameter that requires a gradient. The model's mode is restored. A list of
    sets is read as their concatenation, batch by batch (never built: the retain set may be streamed)."""
    was = model.training
    model.eval()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    imp = {n: torch.zeros_like(p) for n, p in named}
    batches = 0
    for x, y in concat_batches([data] if isinstance(data, BatchedData) else data, batch_size):
        loss = nn.functional.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
        for (n, _), g in zip(named, grads, strict=True):
            if g is not None:
                imp[n].addcmul_(g, g)
        batches += 1
    model.train(was)
    return {n: v / max(batches, 1) for n, v in imp.items()}


def dampen(
    theta: torch.Tensor,
    imp_full: torch.Tensor,
    imp_forget: torch.Tensor,
    selection_weight: float,
    dampening: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(θ', selected): θ' = θ·min(λ·I_D/I_f, 1) where I_f > α·I_D, θ elsewhere (bit-identical there)."""
    selected = imp_forget > selection_weight * imp_full
    factor = (dampening * imp_full / imp_forget).clamp(max=1.0)  # nan/inf only where not selected
    return torch.where(selected, theta * factor, theta), selected


@register_method(
    "ssd",
    config=SSDConfig,
    needs={"forget", "retain"},
    summary="SSD: dampen weights far more important to D_f than to D (Foster et al. 2024), no training",
    space=SPACE,
)
def ssd(model: SplitModel, data: UnlearnData, cfg: SSDConfig, ctx: RunContext) -> SplitModel:
    start = time.perf_counter()
    forget, retain = data.need("forget"), data.need("retain")
    imp_forget = diagonal_fisher(model, forget, cfg.batch_size)
    # D = D_r ∪ D_f in the reference's order (retain then forget, unshuffled), so batches match it
    imp_full = diagonal_fisher(model, [retain, forget], cfg.batch_size)
    selected, total = torch.zeros((), dtype=torch.long, device=model_device(model)), 0
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in imp_full:
                new, sel = dampen(p, imp_full[n], imp_forget[n], cfg.selection_weight, cfg.dampening)
                p.copy_(new)
                selected += sel.sum()
                total += sel.numel()
    ctx.info.update(
        epochs=0,
        seconds_per_epoch=0.0,
        seconds=time.perf_counter() - start,
        importance_batch_size=cfg.batch_size,
        dampened=int(selected),
        dampened_share=int(selected) / max(total, 1),
    )
    return model
