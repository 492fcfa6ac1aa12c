"""BoundaryShrink (Chen et al., "Boundary Unlearning", CVPR 2023): relabel each forget sample with the
class just across its nearest decision boundary, found by attacking a frozen copy f_o of the original.

    x_adv = clip_[0,1](x + ε · sign(∇_x CE(f_o(x), y)))      one-step FGSM, L∞, pixel space
    y_nbi = argmax f_o(x_adv)                                   nearest-but-incorrect label
    θ ← θ − η ∇_θ CE(f_θ(x), y_nbi)                             fine-tune on the *clean* x

Only D_f is used. The attacked model is always the frozen original, never the one being updated (authors'
code, TY-LEE-KR/Boundary-Unlearning-Code: boundary_unlearning.py; port OPTML-Group/Unlearn-Saliency:
Classification/unlearn/boundary_sh.py). Inputs are in [0, 1] with normalisation inside the model, so ε is
in pixel units. A failed attack (y_nbi = y) trains the sample towards its own label; those are counted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Float
from sure_unlearn.train import Recipe, fit, model_device


@dataclass(frozen=True)
class BoundaryShrinkConfig:
    epochs: int = 10  # authors' boundary_shrink(poison_epoch=10); port: 10
    lr: float = 1e-5  # authors' SGD(lr=0.00001); the port's grid uses ≈5e-6
    momentum: float = 0.9  # authors' SGD(momentum=0.9)
    weight_decay: float = 0.0  # authors' optimiser has none (the port's shared wrapper: 5e-4)
    batch_size: int = 64  # authors' main.py --batch_size 64 (port: 256)
    epsilon: float = 0.1  # FGSM L∞ bound in [0, 1] pixels, "bound=0.1" in both codes
    quantize: bool = False  # round x_adv to 1/255 steps, as port (discretize) and authors (clamper) do
    augment: bool = True  # the forget loaders of both codes use the training transform

    def validate(self) -> None:
        if self.epsilon < 0:
            raise ConfigError(f"epsilon must be ≥ 0, got {self.epsilon}")


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    "lr": Float(1e-6, 1e-1, log=True),  # published grids reach 1e-8; our steps are few, so upwards
    "epsilon": Float(0.01, 0.5, log=True),  # FGSM bound, 0.1 in both codes
}


def nearest_incorrect_labels(
    frozen: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, quantize: bool = False
) -> torch.Tensor:
    """y_nbi = argmax f_o(clip(x + ε·sign ∇_x CE(f_o(x), y))) for a frozen, eval-mode ``frozen``."""
    with torch.enable_grad():
        x_req = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(nn.functional.cross_entropy(frozen(x_req), y), x_req)
    with torch.no_grad():
        x_adv = (x + epsilon * grad.sign()).clamp_(0.0, 1.0)
        if quantize:
            x_adv = torch.round(x_adv * 255) / 255
        return frozen(x_adv).argmax(1)


@register_method(
    "boundary_shrink",
    config=BoundaryShrinkConfig,
    needs={"forget"},
    summary="BS: fine-tune forget samples towards their FGSM nearest-but-incorrect class (Chen et al. 2023)",
    space=SPACE,
)
def boundary_shrink(
    model: SplitModel, data: UnlearnData, cfg: BoundaryShrinkConfig, ctx: RunContext
) -> SplitModel:
    frozen = copy.deepcopy(model).eval().requires_grad_(False)  # f_o: never updated, never in train mode
    failed = torch.zeros((), dtype=torch.long, device=model_device(model))
    attacks = 0

    def loss(m: SplitModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal failed, attacks
        y_nbi = nearest_incorrect_labels(frozen, x, y, cfg.epsilon, cfg.quantize)
        failed += (y_nbi == y).sum()  # on the device: read once at the end
        attacks += len(y)
        return nn.functional.cross_entropy(m(x), y_nbi)

    recipe = Recipe.of(cfg, schedule="constant")
    res = fit(
        model,
        data.need("forget"),
        recipe,
        ctx.generator,
        loss_fn=loss,
        progress=ctx.progress,
        engine=ctx.engine,
        desc="boundary_shrink",
    )
    n_failed = int(failed)
    ctx.info.update(
        epochs=res.epochs,
        seconds_per_epoch=res.seconds_per_epoch,
        attacks=attacks,
        failed_attacks=n_failed,
        failed_attack_share=n_failed / max(attacks, 1),
    )
    return model
