"""L1Sparse (Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023, arXiv 2304.04934).

FineTune on the retain set with a linearly decaying ℓ1 penalty over *all* parameters (conv, linear, biases,
BatchNorm affine), summed, not averaged, so literature γ values transfer:

    L_t(θ) = L_{D_r}(θ) + γ_t · Σ_i |θ_i|,   γ_t = γ · (1 − t / (E − E₀))  for epoch t < E − E₀, else 0

γ_t is constant within an epoch; with E₀ = 0 the last epoch uses γ/E
(``OPTML-Group/Unlearn-Sparse: optim/unlearn/FT.py``, ``FT_l1``). The penalty dwarfs the CE, so only the CE
is recorded. With ``l1_weight = 0`` this is FineTune exactly (same loop, same random stream).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Float
from sure_unlearn.train import Recipe, fit


@dataclass(frozen=True)
class L1SparseConfig:
    epochs: int = 10  # OPTML Unlearn-Sparse README
    lr: float = 0.01  # OPTML Unlearn-Sparse
    momentum: float = 0.9  # OPTML shared SGD wrapper (wd and ℓ1 act together)
    weight_decay: float = 5e-4  # OPTML shared SGD wrapper
    batch_size: int = 128  # Unlearn-Sparse paper Table A1 (code: 256)
    # γ of the summed ℓ1: JingWu321/Scissorhands Classification/sh/main_0.5_cifar10.sh. (OPTML's shared
    # --alpha 0.2 is a placeholder that wipes the network out within an epoch.)
    l1_weight: float = 1e-4
    no_l1_epochs: int = 0  # E₀: final epochs without the penalty (OPTML --no-l1-epochs, default 0)
    schedule: str = "constant"  # lr schedule; OPTML's MultiStepLR never fires within 10 epochs
    augment: bool = True

    def validate(self) -> None:
        if self.l1_weight < 0:
            raise ConfigError(f"l1_weight must be ≥ 0, got {self.l1_weight}")
        if self.no_l1_epochs < 0 or (self.epochs > 0 and self.no_l1_epochs >= self.epochs):
            raise ConfigError(f"no_l1_epochs must lie in [0, epochs={self.epochs}), got {self.no_l1_epochs}")


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    # up from 0.5, next to which a search ended (benchmarks/results/README.md, tune-cpu-v2)
    "lr": Float(1e-5, 2.0, log=True),
    "l1_weight": Float(1e-7, 1e-2, log=True),  # γ of the summed ℓ1, around 1e-4
}


def l1_schedule(l1_weight: float, epochs: int, no_l1_epochs: int = 0) -> list[float]:
    """γ_t for each epoch t: linear decay from γ over the first E − E₀ epochs, then 0.

    >>> l1_schedule(1.0, 5)
    [1.0, 0.8, 0.6, 0.4, 0.2]
    >>> [round(g, 4) for g in l1_schedule(1.0, 5, no_l1_epochs=2)]
    [1.0, 0.6667, 0.3333, 0.0, 0.0]
    """
    active = epochs - no_l1_epochs
    return [
        l1_weight * (active - t) / active if t < active else 0.0 for t in range(epochs)
    ]  # = γ(1 − t/active)


def l1_norm(model: nn.Module) -> torch.Tensor:
    """Σ_i |θ_i| over every parameter."""
    return torch.stack([p.abs().sum() for p in model.parameters()]).sum()


@register_method(
    "l1_sparse",
    config=L1SparseConfig,
    needs={"retain"},
    summary="L1Sparse: FT with a linearly decaying ℓ1 penalty",
    space=SPACE,
)
def l1_sparse(model: SplitModel, data: UnlearnData, cfg: L1SparseConfig, ctx: RunContext) -> SplitModel:
    gammas = l1_schedule(cfg.l1_weight, cfg.epochs, cfg.no_l1_epochs)
    epoch = 0  # the epoch fit is in (advanced by the epoch hook)
    ce_sum = torch.zeros((), device=next(model.parameters()).device)
    steps = 0
    history: list[dict[str, float]] = []

    def loss_fn(m: SplitModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal ce_sum, steps
        ce = nn.functional.cross_entropy(m(x), y, label_smoothing=0.0)  # as train.cross_entropy()
        ce_sum, steps = ce_sum + ce.detach(), steps + 1
        gamma = gammas[epoch]
        return ce + gamma * l1_norm(m) if gamma > 0 else ce

    def end_of_epoch(e: int) -> None:
        nonlocal epoch, ce_sum, steps
        ce_mean = float(ce_sum) / max(steps, 1)  # one host sync per epoch
        history.append({"l1_weight": gammas[e], "retain_ce": ce_mean})
        epoch, ce_sum, steps = e + 1, torch.zeros_like(ce_sum), 0

    recipe = Recipe.of(cfg)
    res = fit(
        model,
        data.need("retain"),
        recipe,
        ctx.generator,
        loss_fn=loss_fn,
        epoch_hook=end_of_epoch,
        progress=ctx.progress,
        engine=ctx.engine,
        desc="l1_sparse",
    )
    with torch.no_grad():
        final_l1 = float(l1_norm(model))
    ctx.info.update(
        epochs=res.epochs, seconds_per_epoch=res.seconds_per_epoch, history=history, l1_norm=final_l1
    )
    return model
