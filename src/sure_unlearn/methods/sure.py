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
implementation). Unlearning starts from the original weights. **An epoch is one pass over the retain set**
(or over a fresh random ``retain_fraction`` of it).

Cost (issue 6). A step costs what FineTune's costs plus the domain samples, so SURE's epoch is
``1 + 2·half/batch_size`` FineTune epochs: 1.56× with the default 64 domain samples per step (measured,
cpu preset). With ``domain_batch_size=0`` the domain batch is sized from the forget set,
``half = ⌈forget_passes · n_f / steps_per_epoch⌉`` forget samples (and as many validation samples) per
step, i.e. the forget set is visited ``forget_passes`` times per epoch: 1.00× FineTune's epoch at one
pass. Three options cut the cost further (``benchmarks/speed_sure.py``; results and the configuration
recommended for the cpu preset in ``benchmarks/results/``):

* ``retain_fraction`` p: each epoch is a fresh random p·|D_r| of the retain set (Bad-T's 30%).
* ``early_stop``: after each epoch a *fresh* probe (standardised logistic regression, 5-fold
  cross-validated ROC AUC) tries to tell forget from validation ``z`` (eval mode). Training stops the first
  time AUC ≤ 0.5 + ``stop_margin`` while the epoch's running retain accuracy is ≥ ``stop_retain_acc``.
  The probe is independent of ``d``, so a collapsed domain head cannot fake success. One host sync per
  epoch. Off by default: within the cpu preset's 3 epochs the probe stayed at AUC 0.54–0.90, so it never
  fired.
* ``freeze_blocks`` k: the first k of ``model.blocks()`` (with any parameter-free prelude such as input
  normalisation) form a frozen trunk: no gradient, eval-mode BatchNorm, weights bit-identical. Without
  augmentation its outputs are computed once, for forget, validation and the retain rows the run will
  visit (every epoch's rows are drawn up front), and training runs the remaining blocks on that cache
  (exact); with augmentation the trunk is re-run under ``no_grad`` on each augmented batch. Erasure then
  happens only after the cut: the trunk's own features of D_f are the original's, so a probe placed
  *inside* the trunk still sees them.

One option changes quality, not cost: ``domain_warmup`` trains d alone for that many full-batch steps on the
original's z before the adversarial phase (≈ 0.5 s per 250 steps on the cpu preset). A fresh d starts at
chance, so its first reversed gradients push z along a random direction; a warmed d pushes along the actual
forget-vs-held-out difference. Measured on the cpu preset (``benchmarks/results/README.md``, five forget
sets): on *random* forgetting 250 steps take the tuned SURE from gap_avg / gap_rep 29.7 / 28.4 to
21.6 / 14.0 at RRT ≈ 0.05 (the literature defaults: 22.1 / 14.6 at 0.43); on *partial_class* they make it
worse (8.3 / 14.3 → 23.0 / 18.1), so it is off by default: a per-scenario setting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sure_unlearn.data.types import NO_AUGMENT, LabeledData
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel, capture
from sure_unlearn.progress import bar
from sure_unlearn.train import Engine, Recipe, lr_lambda, make_optimizer, model_device
from sure_unlearn.tune.space import Float


@dataclass(frozen=True)
class SureConfig:
    """SURE's hyperparameters. The paper tuned lr, α, λ (or the ramp), epochs, the domain classifier's
    width and learning rate and the batch sizes by Bayesian optimisation; these defaults start that search."""

    epochs: int = 20  # the paper's budget
    lr: float = 0.01  # FT-like step size (REFERENCES §2.2): unlearning starts from a trained model
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128  # retain samples per step (Unlearn-Sparse Table A1)
    # forget + validation samples per step, half each; 0 = sized by forget_passes. 64 costs 1.56× FineTune's
    # epoch on the cpu preset, 0 (one pass) 1.00×, but at α = 10 on the whole model its few, heavily weighted
    # domain samples per step destabilised training (benchmarks/results/speed_sure.jsonl); 0 suits a frozen trunk
    domain_batch_size: int = 64
    forget_passes: float = 1.0  # domain_batch_size 0: visits of the forget set per epoch
    alpha: float = 10.0  # SPEC §2: α≈10 erases what a fresh probe finds; α≈1–3 only fools d itself
    lam: float = 1.0  # reversal strength λ (constant unless dann_ramp)
    dann_ramp: bool = False  # λ_p = lam · (2/(1+exp(−10p)) − 1), p = progress in [0, 1] (Ganin et al.)
    domain_hidden: int = 256  # width of d's hidden layer
    domain_lr: float = 0.01
    domain_warmup: int = 0  # full-batch steps of d alone on the original's z first (helps random only)
    schedule: str = "constant"  # lr schedule over the run (see train.SCHEDULES)
    z_layer: str = ""  # module whose output is z; "" = the head's input (penultimate layer)
    augment: bool = True
    # cost options (issue 6; REFERENCES §5.5 algorithmic levers), off by default
    retain_fraction: float = 1.0  # fresh random share of D_r per epoch
    early_stop: bool = False  # stop once a fresh forget-vs-val probe on z is at chance
    stop_margin: float = 0.05  # "at chance": cross-validated probe AUC ≤ 0.5 + stop_margin
    stop_retain_acc: float = 0.0  # … and the epoch's running retain accuracy (%) at least this
    freeze_blocks: int = 0  # freeze (and, without augmentation, cache) the first k of model.blocks()

    def validate(self) -> None:
        if self.domain_batch_size == 1 or self.domain_batch_size < 0:
            raise ConfigError(
                "domain_batch_size must be ≥ 2 (half forget, half validation), or 0 for automatic"
            )
        if self.domain_batch_size == 0 and self.forget_passes <= 0:
            raise ConfigError("forget_passes must be > 0 (or set domain_batch_size)")
        if self.alpha < 0 or self.lam < 0:
            raise ConfigError("alpha and lam must be ≥ 0")
        if not 0 < self.retain_fraction <= 1:
            raise ConfigError(f"retain_fraction must be in (0, 1], got {self.retain_fraction}")
        if self.freeze_blocks < 0 or self.domain_warmup < 0 or not 0 <= self.stop_margin <= 0.5:
            raise ConfigError("freeze_blocks and domain_warmup must be ≥ 0 and stop_margin in [0, 0.5]")


# What `sure tune` searches; every other field keeps its default above. α reaches 100 on purpose (SPEC §2).
SPACE = {
    "lr": Float(1e-4, 1e-1, log=True),
    "alpha": Float(0.1, 100.0, log=True),
    "domain_lr": Float(1e-4, 1e-1, log=True),
}


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


def domain_classifier(dim: int, hidden: int) -> nn.Module:
    """d: a small MLP on z ending in one logit (freshly initialised every run)."""
    return nn.Sequential(
        nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
    )


def ramp(p: float) -> float:
    """DANN's schedule for λ: 0 at the start, → 1 as training progresses."""
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


def probe_auc(z_forget: np.ndarray, z_val: np.ndarray, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a fresh probe telling forget z (1) from validation z (0); 0.5 = chance.

    Sides are balanced by subsampling; StandardScaler + LogisticRegression per fold, 5 stratified folds
    (fewer when a side is small).

    >>> rng = np.random.default_rng(0)
    >>> round(probe_auc(rng.normal(0, 1, (60, 4)), rng.normal(0, 1, (60, 4))), 1) <= 0.6
    True
    >>> probe_auc(rng.normal(3, 1, (60, 4)), rng.normal(0, 1, (60, 4))) > 0.95
    True
    """
    rng = np.random.default_rng(seed)
    n = min(len(z_forget), len(z_val))
    if n < 2:
        raise ConfigError("early_stop needs at least 2 forget and 2 validation samples for its probe")
    a = z_forget[rng.choice(len(z_forget), n, replace=False)]
    b = z_val[rng.choice(len(z_val), n, replace=False)]
    x, t = np.concatenate([a, b]).astype(np.float64), np.repeat([1, 0], n)
    cv = StratifiedKFold(n_splits=min(5, n), shuffle=True, random_state=seed)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return float(cross_val_score(probe, x, t, cv=cv, scoring="roc_auc").mean())


def split_at(model: SplitModel, k: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``(trunk, tail)``: the model's stages up to and including its k-th block (with what precedes the
    first block, e.g. input normalisation), and the stages after it, without the head.

    ``forward_features(x) == tail(trunk(x))`` only for models that apply their stages in registration
    order; :func:`sure` checks this on real inputs before relying on it.
    """
    blocks = model.blocks()
    if not 0 < k < len(blocks):
        raise ConfigError(
            f"freeze_blocks={k}: the model has {len(blocks)} blocks {blocks}; choose 0 ≤ k < {len(blocks)}"
        )
    prefix = blocks[0].rpartition(".")[0]
    parent = model.get_submodule(prefix) if prefix else model
    children = [(f"{prefix}.{n}" if prefix else n, m) for n, m in parent.named_children()]
    cut = [n for n, _ in children].index(blocks[k - 1]) + 1
    trunk = nn.Sequential(*(m for _, m in children[:cut]))
    tail = nn.Sequential(*(m for _, m in children[cut:] if m is not model.head))
    if not any(p.requires_grad for p in tail.parameters()):
        raise ConfigError(f"freeze_blocks={k} leaves nothing trainable before z; blocks: {blocks}")
    return trunk, tail


@torch.no_grad()
def _through(trunk: nn.Module, data: LabeledData, eng: Engine, batch_size: int = 512) -> LabeledData:
    """``data`` with each input replaced by the frozen trunk's output (computed once, in eval mode; the
    caller passes ``eng.inference(trunk)``, BatchNorm folded into the convolutions)."""
    with eng.autocast():
        hs = [trunk(eng.inputs(x)).float() for x, _ in data.batches(batch_size, shuffle=False)]
    return LabeledData(torch.cat(hs), data.y, NO_AUGMENT, data.idx)


def _plan(
    n: int, fraction: float, epochs: int, gen: torch.Generator, device: torch.device
) -> list[torch.Tensor]:
    """The retain rows of every epoch, drawn up front: a fresh permutation each, cut to ⌈fraction·n⌉."""
    m = math.ceil(fraction * n)
    return [torch.randperm(n, generator=gen, device=gen.device).to(device)[:m] for _ in range(epochs)]


def warm_up(
    d: nn.Module, z_f: torch.Tensor, z_v: torch.Tensor, cfg: SureConfig, gen: torch.Generator
) -> dict[str, float]:
    """``domain_warmup`` full-batch steps of d alone (no reversal, the model untouched) on the original's
    eval-mode z of forget (``z_f``) and validation (``z_v``) samples, computed once: n = min(|D_f|, |val|)
    forget (1) and n validation (0) samples per step, a fresh draw from a side that has more. The first
    reversed gradients then point along a real forget-vs-held-out difference instead of a freshly
    initialised d's random direction. Returns d's BCE before and after, and its final accuracy."""
    n = min(len(z_f), len(z_v))

    def draw(z: torch.Tensor) -> torch.Tensor:
        if len(z) == n:
            return z
        return z[torch.randperm(len(z), generator=gen, device=gen.device)[:n].to(z.device)]

    target = torch.cat([torch.ones(n, device=z_f.device), torch.zeros(n, device=z_f.device)])
    opt = make_optimizer(d.parameters(), cfg.domain_lr, cfg.momentum, 0.0, device=z_f.device)
    bce = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(cfg.domain_warmup):
        logit = d(torch.cat([draw(z_f), draw(z_v)])).squeeze(1)
        loss = bce(logit, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    acc = ((logit.detach() > 0).float() == target).float().mean()
    first, last, acc_end = torch.stack([losses[0], losses[-1], acc]).tolist()  # one host sync
    return {"bce_start": first, "bce_end": last, "acc_end": 100 * acc_end}


@register_method(
    "sure",
    config=SureConfig,
    needs={"forget", "retain", "val"},
    summary="SURE: domain-adversarial erasure of the forget set's representations (GRL), CE on retain",
    space=SPACE,
)
def sure(model: SplitModel, data: UnlearnData, cfg: SureConfig, ctx: RunContext) -> SplitModel:
    forget, retain, val = data.need("forget"), data.need("retain"), data.need("val")
    if not cfg.augment:
        forget, retain, val = (d.with_augment(NO_AUGMENT) for d in (forget, retain, val))
    device = model_device(model)
    gen = ctx.generator
    eng = Engine().resolve(model)
    eng.prepare(model)
    setup_start = time.perf_counter()
    plan = _plan(len(retain), cfg.retain_fraction, cfg.epochs, gen, retain.device)

    # ---- the frozen trunk (freeze_blocks): x → trunk(x) once (cache) or per batch under no_grad (augment)
    trunk: nn.Module = nn.Identity()
    frozen: nn.Module | None = None
    features: Callable[[torch.Tensor], torch.Tensor] = model.forward_features
    if cfg.freeze_blocks:
        frozen, tail = split_at(model, cfg.freeze_blocks)
        trunk = frozen.requires_grad_(False)
        if cfg.z_layer and not any(m is model.get_submodule(cfg.z_layer) for m in tail.modules()):
            raise ConfigError(
                f"z_layer {cfg.z_layer!r} lies in the frozen trunk (freeze_blocks={cfg.freeze_blocks})"
            )
        with torch.no_grad():  # the split must reproduce the model's own forward
            model.eval()
            x = eng.inputs(forget.batch(torch.arange(min(len(forget), 8), device=forget.device))[0])
            if not torch.allclose(tail(trunk(x)), model.forward_features(x), rtol=1e-3, atol=1e-4):
                raise ConfigError(
                    f"freeze_blocks needs a model whose forward_features applies its blocks {model.blocks()} "
                    f"in order; {type(model).__name__} does not (use freeze_blocks=0)"
                )
        features = tail
        if not any(d.augment.active for d in (forget, retain, val)):
            # cache only the retain rows the plan visits (all of them unless retain_fraction·epochs < 1)
            used = torch.unique(torch.cat(plan))
            at = torch.full((len(retain),), -1, dtype=torch.long, device=retain.device)
            at[used] = torch.arange(len(used), device=retain.device)
            plan = [at[rows] for rows in plan]
            fast = eng.inference(trunk)
            forget, retain, val = (_through(fast, d, eng) for d in (forget, retain.subset(used), val))
            trunk = nn.Identity()  # the data now *is* the trunk's output

    def set_train(mode: bool) -> None:
        model.train(mode)
        if frozen is not None:
            frozen.eval()  # frozen BatchNorm keeps the original's statistics

    def representations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, logits) of a batch; z is the head's input or ``z_layer``'s output."""
        with torch.no_grad():
            h = trunk(x)
        if not cfg.z_layer:
            z = features(h)
            return z, model.forward_head(z)
        with capture(model, [cfg.z_layer]) as got:
            logits = model.forward_head(features(h))
        return got[cfg.z_layer], logits

    # d's input width: probe once on one sample (z_layer may be any layer)
    with torch.no_grad():
        set_train(False)
        dim = representations(eng.inputs(forget.batch(torch.arange(1, device=forget.device))[0]))[0].shape[1]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device)))
        d = domain_classifier(dim, cfg.domain_hidden).to(device)

    opt = make_optimizer(
        [
            {"params": [p for p in model.parameters() if p.requires_grad], "lr": cfg.lr},
            {"params": list(d.parameters()), "lr": cfg.domain_lr, "weight_decay": 0.0},
        ],
        cfg.lr,
        cfg.momentum,
        cfg.weight_decay,
        device=device,
    )
    n_epoch = len(plan[0]) if plan else 0  # retain samples per epoch
    steps_per_epoch = math.ceil(n_epoch / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda(Recipe(epochs=cfg.epochs, schedule=cfg.schedule), total_steps)
    )
    # half = ⌈forget_passes · n_f / steps⌉: the forget set is seen forget_passes times per epoch
    half = cfg.domain_batch_size // 2 or math.ceil(cfg.forget_passes * len(forget) / max(steps_per_epoch, 1))
    forget_batches, val_batches = forget.cycle(half, gen), val.cycle(half, gen)
    domain = torch.cat([torch.ones(half, device=device), torch.zeros(half, device=device)])
    bce, ce = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss()

    @torch.no_grad()
    def domain_z() -> tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode z (fp32) of every forget and every validation sample."""
        set_train(False)
        zs = []
        for part in (forget, val):
            with eng.autocast():
                z = [representations(eng.inputs(x))[0].float() for x, _ in part.batches(512, shuffle=False)]
            zs.append(torch.cat(z))
        set_train(True)
        return zs[0], zs[1]

    def held_out_auc() -> float:
        """The early-stop probe: fresh, cross-validated, on eval-mode z of every forget and val sample."""
        z_f, z_v = domain_z()
        return probe_auc(z_f.cpu().numpy(), z_v.cpu().numpy())

    warmup = warm_up(d, *domain_z(), cfg, gen) if cfg.domain_warmup else {}
    forward = eng.compiled(representations)  # torch.compile only when the engine asks for it
    d.train()
    set_train(True)
    step = 0
    history: list[dict[str, float]] = []
    setup_s = time.perf_counter() - setup_start
    start = time.perf_counter()
    with bar(cfg.epochs, "sure", ctx.progress) as pbar:
        for epoch in range(cfg.epochs):
            sums = torch.zeros(4, device=device)  # retain CE, domain BCE, domain accuracy, retain correct
            for rows in plan[epoch].split(cfg.batch_size):
                x_r, y_r = retain.batch(rows, gen)
                x_f, _ = next(forget_batches)
                x_v, _ = next(val_batches)
                lam = cfg.lam * (ramp(step / max(total_steps, 1)) if cfg.dann_ramp else 1.0)
                with eng.autocast():
                    z, logits = forward(eng.inputs(torch.cat([x_r, x_f, x_v])))
                    n_r = len(x_r)
                    loss_y = ce(logits[:n_r], y_r)
                    dom_logit = d(grad_reverse(z[n_r:], lam)).squeeze(1).float()
                    loss_d = bce(dom_logit, domain)
                    loss = loss_y + cfg.alpha * loss_d
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                with torch.no_grad():
                    acc = ((dom_logit > 0).float() == domain).float().mean()
                    correct = (logits[:n_r].argmax(1) == y_r).sum().float()
                    sums += torch.stack([loss_y.detach().float(), loss_d.detach(), acc, correct])
            ce_m, bce_m, acc_m, correct_n = sums.tolist()  # one host sync per epoch
            rec = {
                "retain_ce": ce_m / steps_per_epoch,
                "domain_bce": bce_m / steps_per_epoch,
                "domain_acc": 100 * acc_m / steps_per_epoch,
                "retain_acc": 100 * correct_n / n_epoch,
            }
            if cfg.early_stop:
                rec["probe_auc"] = held_out_auc()
            history.append(rec)
            pbar.update()
            pbar.set_postfix_str(
                f"ce {rec['retain_ce']:.3f} dom {rec['domain_bce']:.3f} acc {rec['domain_acc']:.0f}%"
            )
            if (
                cfg.early_stop
                and rec["probe_auc"] <= 0.5 + cfg.stop_margin
                and rec["retain_acc"] >= cfg.stop_retain_acc
            ):
                break
    seconds = time.perf_counter() - start
    ran = len(history)
    set_train(True)
    ctx.info.update(
        epochs=ran,
        seconds_per_epoch=seconds / max(ran, 1),
        setup_s=setup_s,
        stopped_early=ran < cfg.epochs,
        domain_batch=2 * half,
        domain_acc_last=history[-1]["domain_acc"] if history else float("nan"),
        domain_warmup=warmup,
        history=history,
    )
    return model
