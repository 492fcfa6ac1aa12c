"""SalUn — saliency unlearning (Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight
Saliency", ICLR 2024; arXiv 2310.12508). Code: ``OPTML-Group/Unlearn-Saliency: Classification/generate_mask.py``
(mask), ``Classification/unlearn/RL.py`` with ``--mask_path`` (update).

    g   = ∇_θ L_{D_f}(θ_o)                    one pass over D_f, eval mode, no augmentation
    m   = 1[|g| ≥ γ]                           γ global over all parameter tensors, chosen so that exactly
                                               round(mask_ratio · P) of the P coordinates are salient
    θ_u = m ⊙ θ + (1 − m) ⊙ θ_o                θ trained with the RandomLabel objective (``random_label.py``)

Only salient coordinates move. After *every* optimiser step the non-salient coordinates are set back to θ_o
and their momentum buffers zeroed, so neither weight decay (added inside ``step()``) nor momentum can move
them: they stay bit-identical to θ_o. Merely zeroing their gradients (the reference before PR #33,
Unlearn-Saliency #32, which every published SalUn number used) lets both leak.

BatchNorm running statistics are buffers, not parameters: the train-mode forwards update them everywhere,
mask or not (as in the reference), so the non-salient part of the network is *not* frozen as a function.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.data.types import BatchedData
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.methods.random_label import RandomLabelConfig, random_label_loop
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Float
from sure_unlearn.train import make_optimizer, model_device


@dataclass(frozen=True)
class SalunConfig(RandomLabelConfig):
    """SalUn = RandomLabel's objective, its fields and checks, plus ``mask_ratio``; SalUn's own defaults."""

    epochs: int = 10  # Unlearn-Saliency README, CIFAR-10 random 10%
    lr: float = 0.013  # README, constant; users needed 6e-3 … 5e-2
    momentum: float = 0.9  # OPTML shared SGD wrapper
    weight_decay: float = 5e-4  # OPTML shared SGD wrapper
    batch_size: int = 256  # Unlearn-Saliency arg_parser.py default (the README command sets none)
    forget_batch_size: int = 256  # the reference builds the forget loader with the same batch size
    retain_weight: float = 1.0  # α = 1 (paper, reference RL)
    schedule: str = "sequential"  # RL default (random_label.py): the reference's D_f pass then D_r pass
    label_mode: str = "wrong"  # RL default (random_label.py): y' ≠ y (paper); "any" = uniform over all K, the
    # sampling of Unlearn-Saliency RL.py behind the published SalUn numbers
    augment: bool = True  # the reference's loaders use the training transform
    mask_ratio: float = 0.5  # salient share s; the paper's with_0.5.pt (γ = the median of |g|)

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.mask_ratio <= 1.0:
            raise ConfigError(f"mask_ratio is the salient share, in (0, 1]; got {self.mask_ratio}")


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    "lr": Float(1e-4, 0.5, log=True),  # users needed 6e-3 … 5e-2; widened both ways
    "mask_ratio": Float(0.05, 0.95),  # salient share s (paper: 0.5)
}


def top_fraction(scores: dict[str, torch.Tensor], ratio: float) -> dict[str, torch.Tensor]:
    """Boolean masks marking exactly round(ratio · P) of all P entries, the largest scores (global threshold).

    Ties at the threshold are broken by ``topk``, so the count is exact.

    >>> m = top_fraction({"a": torch.zeros(10), "b": torch.ones(10)}, 0.75)
    >>> int(m["a"].sum()), int(m["b"].sum())
    (5, 10)
    """
    flat = torch.cat([s.flatten() for s in scores.values()])
    k = round(ratio * flat.numel())
    salient = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    salient[torch.topk(flat, k, sorted=False).indices] = True
    parts = salient.split([s.numel() for s in scores.values()])
    return {name: part.view_as(s) for (name, s), part in zip(scores.items(), parts, strict=True)}


def saliency_mask(
    model: SplitModel, forget: BatchedData, mask_ratio: float = 0.5, batch_size: int = 256
) -> dict[str, torch.Tensor]:
    """SalUn's mask for ``model`` (a model, never a path): parameter name → bool tensor, True = salient.

    g = ∇_θ mean CE over D_f at the model's current weights, in eval mode (as ``generate_mask.py``); the
    sign of the loss is irrelevant to |g|. The model's weights and mode are left as they were.
    """
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    grads = {n: torch.zeros_like(p) for n, p in params.items()}
    was = model.training
    model.eval()
    for x, y in forget.batches(batch_size, shuffle=False):
        loss = nn.functional.cross_entropy(model(x), y, reduction="sum") / len(forget)
        step = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        for acc, g in zip(grads.values(), step, strict=True):
            if g is not None:
                acc += g
    model.train(was)
    return top_fraction({n: g.abs() for n, g in grads.items()}, mask_ratio)


@register_method(
    "salun",
    config=SalunConfig,
    needs={"forget", "retain"},
    summary="SalUn: RandomLabel on the forget-salient half of the weights; the rest stay exactly θ_o",
    space=SPACE,
)
def salun(model: SplitModel, data: UnlearnData, cfg: SalunConfig, ctx: RunContext) -> SplitModel:
    forget, retain = data.need("forget"), data.need("retain")
    mask = saliency_mask(model, forget, cfg.mask_ratio, cfg.forget_batch_size)
    params = dict(model.named_parameters())
    device = model_device(model)
    opt = make_optimizer(model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay, device=device)
    # (parameter, salient mask, θ_o) for every tensor with a non-salient coordinate
    pinned = [(params[n], m, params[n].detach().clone()) for n, m in mask.items() if not bool(m.all())]

    @torch.no_grad()
    def restore() -> None:  # θ ← m ⊙ θ + (1 − m) ⊙ θ_o, and no momentum left on the non-salient coordinates
        for p, m, p0 in pinned:
            p.copy_(torch.where(m, p, p0))
            buf = opt.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                buf.masked_fill_(~m, 0.0)

    info = random_label_loop(
        model,
        forget,
        retain,
        cfg,
        ctx.generator,
        optimizer=opt,
        after_step=restore,
        progress=ctx.progress,
        desc="salun",
        engine=ctx.engine,
    )
    salient = sum(int(m.sum()) for m in mask.values())
    total = sum(m.numel() for m in mask.values())
    ctx.info.update(info, salient_fraction=salient / total, salient_count=salient, mask_size=total)
    return model
