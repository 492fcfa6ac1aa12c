"""Influence unlearning (IU): one Newton step that removes D_f from the empirical risk, no training.

Koh & Liang 2017; Izzo et al. 2021; WoodFisher (Singh & Alistarh 2020), in the version of SalUn
(``OPTML-Group/Unlearn-Saliency: Classification/unlearn/Wfisher.py``). Eval mode, un-augmented inputs, at θ_o:

    v   = G_f / n − n_f / (n·n_r) · G_r          G_S = Σ_{i∈S} ∇ℓ_i(θ_o),  n = n_f + n_r
    θ_u = θ_o + step_size · F̂⁻¹ v

(at the optimum G_f ≈ −G_r, so v ≈ −∇L_{D_r}: a Newton step towards the retain-only minimum). The retain
Hessian is approximated by the damped empirical Fisher of m per-sample retain gradients (G: m×P, rows g_j):

    F̂ = λ I + (1/m) GᵀG,     F̂⁻¹ v = (1/λ) [v − Gᵀ (mλ I + G Gᵀ)⁻¹ G v]      (Woodbury: an m×m solve)

``mode="reference"`` replaces F̂⁻¹v by SalUn's recursion (k ← v, o ← g_1; for j ≥ 2:
k ← k − (k·g_j)/(N + o·g_j)·o, o ← o − (o·g_j)/(N + o·g_j)·o), kept for parity with published IU numbers.
It is NOT the WoodFisher inverse: Sherman–Morrison needs F̂_{j−1}⁻¹g_j at every step, the recursion carries
one running vector seeded from g_1. G holds m·P floats: 11 GB at m = 256 for ResNet-18.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from sure_unlearn.data.types import BatchedData
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.space import Float

MODES = ("exact", "reference")


@dataclass(frozen=True)
class InfluenceConfig:
    """α, λ and m have no agreed values: ``step_size`` in particular must be tuned."""

    step_size: float = 10.0  # α: Scissorhands' value; the OPTML README's 0.2 is a placeholder
    mode: str = "exact"  # "exact" (damped Fisher, Woodbury) or "reference" (SalUn recursion)
    # λ (exact): the recursion's implicit F̂₀ = I, so step sizes carry over between modes
    damping: float = 1.0
    num_samples: int = 256  # m (exact): random retain samples in F̂; memory m·P floats
    reference_n: int = 1000  # N (reference): SalUn's sample count and denominator constant
    batch_size: int = 256  # gradient-sum passes over D_f and D_r (OPTML arg_parser)
    per_sample_batch: int = 32  # per-sample gradients computed together (memory: this × P floats)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"influence mode must be one of {MODES}, got {self.mode!r}")
        if self.damping <= 0 or self.num_samples < 1 or self.reference_n < 1:
            raise ConfigError("influence needs damping > 0, num_samples ≥ 1 and reference_n ≥ 1")


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    "step_size": Float(1e-3, 1e3, log=True),  # α has no agreed value
    "damping": Float(1e-5, 1e3, log=True),  # λ of the damped Fisher (exact mode)
}


def per_sample_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Rows ∇_θ ℓ(f_θ(x_i), y_i), flattened in ``model.parameters()`` order (B×P). Put the model in eval mode."""
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    canonical = {id(p): k for k, p in model.named_parameters() if p.requires_grad}
    # every (module, attribute) once, tied parameters mapped to one input; a module reachable by two paths
    # (a wrapped model's head) must be swapped only once, else functional_call restores it wrongly
    slots = {
        f"{m}.{k}" if m else k: canonical[id(p)]
        for m, mod in model.named_modules()
        for k, p in mod.named_parameters(recurse=False)
        if id(p) in canonical
    }

    def loss(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, {s: p[c] for s, c in slots.items()}, (xi[None],), tie_weights=False)
        return F.cross_entropy(logits, yi[None])

    try:
        g = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
        return torch.cat([g[k].flatten(1) for k in params], 1)
    except (RuntimeError, NotImplementedError):  # an op without a batching rule: one sample at a time
        return loop_grads(model, x, y)


def loop_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same rows as :func:`per_sample_grads`, by batch-size-1 backward passes."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = [
        torch.autograd.grad(F.cross_entropy(model(xi[None]), yi[None]), params)
        for xi, yi in zip(x, y, strict=True)
    ]
    return torch.stack([torch.cat([g.flatten() for g in r]) for r in rows])


def grad_sum(model: nn.Module, data: BatchedData, batch_size: int) -> torch.Tensor:
    """G = Σ_i ∇ℓ_i over ``data`` (eval order, no augmentation), flattened."""
    params = [p for p in model.parameters() if p.requires_grad]
    total = torch.zeros(sum(p.numel() for p in params), device=params[0].device)
    for x, y in data.batches(batch_size, shuffle=False):
        gs = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), params)
        total += torch.cat([g.flatten() for g in gs])
    return total


def woodbury_solve(G: torch.Tensor, v: torch.Tensor, damping: float) -> torch.Tensor:
    """F̂⁻¹v for F̂ = λI + (1/m)GᵀG (G: m×P), by Woodbury: (1/λ)[v − Gᵀ(mλI + GGᵀ)⁻¹Gv]; m×m system in fp64.

    >>> G = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # F̂ = I + GᵀG/2 = diag(1.5, 3)
    >>> woodbury_solve(G, torch.tensor([1.0, 1.0]), damping=1.0)
    tensor([0.6667, 0.3333])
    """
    m = G.shape[0]
    K = (G @ G.T).double()
    K.diagonal().add_(m * damping)
    c = torch.linalg.solve(K, (G @ v).double()).to(v.dtype)
    return (v - G.T @ c) / damping


def reference_recursion(v: torch.Tensor, grads: Iterator[torch.Tensor], n: float) -> torch.Tensor:
    """SalUn's ``woodfisher`` loop verbatim: k ← v, o ← g_1, then for each later g (see module docstring)."""
    k, o = v.clone(), None
    for g in grads:
        if o is None:
            o = g.clone()
            continue
        og = o @ g
        k -= (k @ g) / (n + og) * o  # uses o before its own update, as the reference does
        o -= og / (n + og) * o
    return k


def _grad_blocks(
    model: nn.Module, data: BatchedData, rows: torch.Tensor, chunk: int
) -> Iterator[torch.Tensor]:
    """Per-sample gradients of ``data``'s ``rows`` (no augmentation), ``chunk`` rows per block."""
    for s in range(0, len(rows), chunk):
        yield per_sample_grads(model, *data.batch(rows[s : s + chunk]))


@register_method(
    "influence",
    config=InfluenceConfig,
    needs={"forget", "retain"},
    summary="IU: one-shot Newton step θ + α·F̂⁻¹v removing D_f (WoodFisher)",
    space=SPACE,
)
def influence(model: SplitModel, data: UnlearnData, cfg: InfluenceConfig, ctx: RunContext) -> SplitModel:
    forget, retain = data.need("forget"), data.need("retain")
    n_f, n_r = len(forget), len(retain)
    n = n_f + n_r
    was = model.training
    model.eval()
    G_f, G_r = grad_sum(model, forget, cfg.batch_size), grad_sum(model, retain, cfg.batch_size)
    v = G_f / n - n_f / (n * n_r) * G_r
    if cfg.mode == "exact":  # m retain samples drawn at random
        m = min(cfg.num_samples, n_r)
        rows = torch.randperm(n_r, generator=ctx.generator, device=ctx.generator.device)[:m].to(retain.device)
        G = torch.empty(m, v.numel(), device=v.device)
        for i, block in enumerate(_grad_blocks(model, retain, rows, cfg.per_sample_batch)):
            G[i * cfg.per_sample_batch : i * cfg.per_sample_batch + len(block)] = block
        direction = woodbury_solve(G, v, cfg.damping)
    else:  # SalUn walks D_r in order at batch size 1 and returns once idx > N: N + 2 samples
        m = min(cfg.reference_n + 2, n_r)
        blocks = _grad_blocks(model, retain, torch.arange(m, device=retain.device), cfg.per_sample_batch)
        direction = reference_recursion(v, (g for b in blocks for g in b), float(cfg.reference_n))
    update = cfg.step_size * direction
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():  # θ ← θ + update, in place, in the flattening order of the gradients
        for p, u in zip(params, update.split([p.numel() for p in params]), strict=True):
            p.add_(u.view_as(p))
    model.train(was)
    ctx.info.update(
        epochs=0, mode=cfg.mode, num_samples=m, update_norm=float(update.norm()), v_norm=float(v.norm())
    )
    return model
