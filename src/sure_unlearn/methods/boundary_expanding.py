"""BoundaryExpanding (Chen et al., "Boundary Unlearning", CVPR 2023): push the forget set into an extra
"shadow" class, then prune that class so its samples fall to their nearest remaining class.

    h' = [W; w_s], [b; b_s]          widen the final linear layer to K+1 outputs (w_s, b_s: default init)
    θ ← θ − η ∇_θ CE(h'(g(x)), K)    fine-tune the whole network on D_f, every label set to K
    h  = h'[:K]                      prune the shadow row: a K-class model of the original type

Authors' code: TY-LEE-KR/Boundary-Unlearning-Code: boundary_unlearning.py. The OPTML port
(Unlearn-Saliency: Classification/unlearn/boundary_ex.py) never prunes and returns K+1 outputs, which
inflates forget error and changes every softmax; here the returned head has K outputs.
The head is replaced at every path it lives at, so a wrapped user module (``WrappedModel``) works too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Float
from sure_unlearn.train import Recipe, fit


@dataclass(frozen=True)
class BoundaryExpandingConfig:
    epochs: int = 10  # authors' finetune_epochs = 10; port: 10
    lr: float = 1e-5  # authors' SGD lr=0.00001 (port / Scissorhands: 5e-6)
    momentum: float = 0.9  # authors' optimizer_picker(..., momentum=0.9)
    weight_decay: float = 0.0  # authors' optimiser has none (the port's shared wrapper: 5e-4)
    batch_size: int = 64  # authors' main.py --batch_size 64 (port: 256)
    augment: bool = True  # the forget loaders of both codes use the training transform


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    # published grids reach 1e-8, and a search ended at the old bottom of 1e-6 (benchmarks/results/README.md,
    # tune-cpu-v2)
    "lr": Float(1e-8, 1e-1, log=True),
}


def replace_head(model: SplitModel, new: nn.Linear) -> None:
    """Put ``new`` wherever ``model.head`` sits (``head`` itself, and e.g. ``module.fc`` when wrapped)."""
    old = model.head
    paths = [name for name, m in model.named_modules(remove_duplicate=False) if m is old]
    for path in paths:
        parent_name, _, attr = path.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)


def widen_head(head: nn.Linear, generator: torch.Generator) -> nn.Linear:
    """K+1 outputs: the old rows copied, the shadow row drawn like nn.Linear's default, U(±1/√fan_in)."""
    k, d = head.out_features, head.in_features
    wide = nn.Linear(d, k + 1, bias=head.bias is not None, device=head.weight.device, dtype=head.weight.dtype)
    bound = 1 / math.sqrt(d)
    u = torch.rand(d + 1, generator=generator, device=generator.device, dtype=head.weight.dtype)
    shadow = ((2 * u - 1) * bound).to(head.weight.device)
    with torch.no_grad():
        wide.weight[:k] = head.weight
        wide.weight[k] = shadow[:d]
        if head.bias is not None:
            wide.bias[:k] = head.bias
            wide.bias[k] = shadow[d]
    return wide


def prune_head(wide: nn.Linear) -> nn.Linear:
    """The first K rows of a (K+1)-row head (the trained ones), as a fresh K-output nn.Linear."""
    k = wide.out_features - 1
    head = nn.Linear(
        wide.in_features, k, bias=wide.bias is not None, device=wide.weight.device, dtype=wide.weight.dtype
    )
    with torch.no_grad():
        head.weight.copy_(wide.weight[:k])
        if wide.bias is not None:
            head.bias.copy_(wide.bias[:k])
    return head


@register_method(
    "boundary_expanding",
    config=BoundaryExpandingConfig,
    needs={"forget"},
    summary="BE: train forget samples into an extra shadow class, then prune it (Chen et al. 2023)",
    space=SPACE,
)
def boundary_expanding(
    model: SplitModel, data: UnlearnData, cfg: BoundaryExpandingConfig, ctx: RunContext
) -> SplitModel:
    forget = data.need("forget")
    k = model.num_classes
    replace_head(model, widen_head(model.head, ctx.generator))
    shadow = forget.with_labels(torch.full((len(forget),), k, dtype=torch.long))  # every label → K
    recipe = Recipe.of(cfg, schedule="constant")
    res = fit(
        model,
        shadow,
        recipe,
        ctx.generator,
        progress=ctx.progress,
        engine=ctx.engine,
        desc="boundary_expanding",
    )
    replace_head(model, prune_head(model.head))
    ctx.info.update(epochs=res.epochs, seconds_per_epoch=res.seconds_per_epoch)
    return model
