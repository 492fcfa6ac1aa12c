"""SURE — Selective Unlearning via Representation Erasure (Sepahvand et al., ICLR 2025).

Domain-adversarial training (DANN, Ganin et al. 2016) between the forget set (domain 1) and held-out data
from the same distribution (domain 0), on the representation ``z = g(x)``:

    L = CE(h(g(x_r)), y_r) + α · BCE(d(R_λ(g(x_d))), domain)

``R_λ`` is the gradient reversal layer (identity forward, −λ·grad backward), ``d`` a fresh MLP with one
logit (both in :mod:`~sure_unlearn.methods.domain`). θ_f, θ_y, θ_d all *descend* L, so through the
reversal θ_f *ascends* the domain loss: the saddle point min_{θ_f,θ_y} max_{θ_d} [CE − α·L_d]. One
forward pass per step: the retain batch and the domain batch (half forget, half held-out) go through ``g``
together. **An epoch is one pass over the retain set**
(or over a fresh random ``retain_fraction`` of it). The defaults are the paper's algorithm.

Options beyond the paper (each a few lines of the loop below; ``sure_plus`` combines them):

* ``reverse="forget"``: only the forget samples' z receive the reversed gradient; the held-out z are
  detached, so d still learns from them but they do not move (with ``"both"`` the held-out set is dragged
  towards the memorised forget set as much as the forget set is pushed away from it).
* ``conditional=True``: d has one logit per class and each sample is judged by its class's logit, i.e.
  d asks "is this a memorised x of class y?" (class-conditional alignment, the argument of CDAN, Long et
  al. 2018; the labels of D_f and D_v are known here, so the class picks the head instead of CDAN's
  prediction-weighted multilinear map). An unconditional d aligns only the marginals, which a forget set
  spread over every class already nearly matches.
* ``heldout_pool`` n: each epoch the held-out domain is a fresh random n samples of ``data.pool`` (held-out
  data of D_f's distribution that evaluation never uses; ``val`` when no pool is given), so d and g cannot
  memorise a 50-sample held-out set.
* ``layers``: one more domain classifier on each named layer's (pooled) output, losses summed, so the
  erasure reaches into the network and not only z.
* cost: ``freeze_blocks`` (train only after the k-th block, on cached activations:
  :mod:`~sure_unlearn.methods.trunk`), ``retain_fraction``, ``domain_batch_size=0`` (the domain batch
  sized to visit the forget set ``forget_passes`` times per epoch), ``early_stop`` (after each epoch the
  ``rep_auc`` probe and the label-aware ``rep_auc_cond`` margin try to tell forget from held-out z; stop
  when both are at AUC ≤ 0.5 + ``stop_margin``), ``domain_warmup`` (train d alone on the original's z first).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.data.types import NO_AUGMENT, BatchedData
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.methods.domain import DomainClassifier, domain_logits, ramp, warm_up
from sure_unlearn.methods.trunk import freeze
from sure_unlearn.metrics.representation import margin_auc, probe_auc
from sure_unlearn.models.base import SplitModel, capture, pool_to
from sure_unlearn.progress import bar
from sure_unlearn.space import Float
from sure_unlearn.train import Recipe, check_epoch, lr_lambda, make_optimizer, model_device


@dataclass(frozen=True)
class SureConfig:
    """SURE's hyperparameters; the paper tuned lr, α, λ (or its ramp), epochs, d's width and learning rate
    and the batch sizes by Bayesian optimisation, and these defaults start that search."""

    epochs: int = 20  # the paper's budget
    lr: float = 0.01  # a fine-tuning step size: unlearning starts from a trained model
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128  # retain samples per step (Unlearn-Sparse, Table A1)
    domain_batch_size: int = 64  # forget + held-out samples per step, half each; 0 = sized by forget_passes
    forget_passes: float = 1.0  # domain_batch_size 0: visits of the forget set per epoch
    alpha: float = 10.0  # weight of the domain loss
    lam: float = 1.0  # reversal strength λ (constant unless dann_ramp)
    dann_ramp: bool = False  # λ_p = lam · (2/(1+exp(−10p)) − 1), p = progress in [0, 1] (Ganin et al.)
    domain_hidden: int = 256  # width of d's hidden layers
    domain_lr: float = 0.01
    domain_warmup: int = 0  # full-batch steps of d alone on the original's z before the adversarial phase
    schedule: str = "constant"  # lr schedule over the run (see train.SCHEDULES)
    z_layer: str = ""  # module whose output is z; "" = the head's input (penultimate layer)
    augment: bool = True
    reverse: str = "both"  # "both": forget and held-out z get the reversed gradient; "forget": forget only
    conditional: bool = False  # one d logit per class, chosen by the sample's label
    heldout_pool: int = 0  # > 0: a fresh draw of that many held-out samples per epoch from data.pool
    layers: tuple[str, ...] = ()  # more layers erased, each with its own d (losses summed)
    retain_fraction: float = 1.0  # fresh random share of D_r per epoch
    # stop once fresh forget-vs-held-out probes on z (label-blind and -aware) are at chance
    early_stop: bool = False
    stop_margin: float = 0.05  # "at chance": each probe's AUC ≤ 0.5 + stop_margin
    stop_retain_acc: float = 0.0  # … and the epoch's running retain accuracy (%) at least this
    freeze_blocks: int = 0  # freeze (and, without augmentation, cache) the first k of model.blocks()

    def validate(self) -> None:
        if self.domain_batch_size == 1 or self.domain_batch_size < 0:
            raise ConfigError(
                "domain_batch_size must be ≥ 2 (half forget, half held-out), or 0 for automatic"
            )
        if self.domain_batch_size == 0 and self.forget_passes <= 0:
            raise ConfigError("forget_passes must be > 0 (or set domain_batch_size)")
        if self.alpha < 0 or self.lam < 0:
            raise ConfigError("alpha and lam must be ≥ 0")
        if not 0 < self.retain_fraction <= 1:
            raise ConfigError(f"retain_fraction must be in (0, 1], got {self.retain_fraction}")
        if (
            self.freeze_blocks < 0
            or self.domain_warmup < 0
            or self.heldout_pool < 0
            or not 0 <= self.stop_margin <= 0.5
        ):
            raise ConfigError(
                "freeze_blocks, domain_warmup, heldout_pool must be ≥ 0 and stop_margin in [0, 0.5]"
            )
        if self.reverse not in ("both", "forget"):
            raise ConfigError(f"reverse must be 'both' or 'forget', got {self.reverse!r}")


# What `sure tune` searches; every other field keeps its default above. α reaches 1000 on purpose: weak α
# fools d itself but not a fresh probe.
# lr up to 10, domain lr up to 3 and α down to 0.01: searches ended next to earlier ends
# (benchmarks/results/README.md, tune-cpu-v2); α → 0 is fine-tuning the trained layers alone
SPACE = {
    "lr": Float(1e-5, 10.0, log=True),
    "alpha": Float(0.01, 1000.0, log=True),
    "domain_lr": Float(1e-5, 3.0, log=True),
}


@register_method(
    "sure",
    config=SureConfig,
    needs={"forget", "retain", "val"},
    may_read={"forget", "retain", "val", "pool"},
    summary="SURE: domain-adversarial erasure of the forget set's representations (GRL), CE on retain",
    space=SPACE,
)
def sure(model: SplitModel, data: UnlearnData, cfg: SureConfig, ctx: RunContext) -> SplitModel:
    sets = {"forget": data.need("forget"), "retain": data.need("retain"), "val": data.need("val")}
    if cfg.heldout_pool and data.pool is not None and len(data.pool):
        sets["val"] = data.pool  # the held-out domain: fresh draws from a pool evaluation never uses
    if not cfg.augment:
        sets = {k: d.with_augment(NO_AUGMENT) for k, d in sets.items()}
    device, gen = model_device(model), ctx.generator
    eng = ctx.engine_for(model)
    setup_start = time.perf_counter()
    n_r = len(sets["retain"])
    plan = [
        torch.randperm(n_r, generator=gen, device=gen.device).to(sets["retain"].device)[
            : math.ceil(cfg.retain_fraction * n_r)
        ]
        for _ in range(cfg.epochs)
    ]
    trunk = freeze(model, cfg.freeze_blocks, eng, sets, plan)
    forget, retain, held = trunk.sets["forget"], trunk.sets["retain"], trunk.sets["val"]
    layers = [*cfg.layers, cfg.z_layer] if cfg.z_layer else list(cfg.layers)
    inside = [name for name in layers if name in trunk.modules]
    if inside:
        raise ConfigError(
            f"layer(s) {inside} lie in the frozen trunk (freeze_blocks={cfg.freeze_blocks}); "
            f"erase after it or freeze fewer blocks"
        )
    pool_fn = pool_to(1024)

    def representations(x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Each erased layer's (pooled, flattened) output and z, and the logits, of a batch."""
        with torch.no_grad():
            h = trunk.prefix(x)
        with capture(model, layers, pool_fn) as got:
            z = trunk.features(h)
            logits = model.forward_head(z)
        return {**{k: got[k] for k in cfg.layers}, "z": got[cfg.z_layer] if cfg.z_layer else z}, logits

    @torch.no_grad()
    def eval_reps(part: BatchedData) -> dict[str, torch.Tensor]:
        """Eval-mode representations (fp32) of every sample of ``part``."""
        trunk.train(model, False)
        chunks = []
        for x, _ in part.batches(512, shuffle=False):
            with eng.autocast():
                chunks.append({k: v.float() for k, v in representations(eng.inputs(x))[0].items()})
        trunk.train(model, True)
        return {k: torch.cat([c[k] for c in chunks]) for k in chunks[0]}

    k = model.num_classes if cfg.conditional else 1
    with torch.no_grad():
        trunk.train(model, False)
        dims = {
            n: v.shape[1]
            for n, v in representations(eng.inputs(forget.batch(torch.arange(1, device=forget.device))[0]))[
                0
            ].items()
        }
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device)))
        ds = {n: DomainClassifier(dim, cfg.domain_hidden, k).to(device) for n, dim in dims.items()}

    opt = make_optimizer(
        [
            {"params": [p for p in model.parameters() if p.requires_grad], "lr": cfg.lr},
            {
                "params": [p for d in ds.values() for p in d.parameters()],
                "lr": cfg.domain_lr,
                "weight_decay": 0.0,
            },
        ],
        cfg.lr,
        cfg.momentum,
        cfg.weight_decay,
        device=device,
    )
    steps_per_epoch = math.ceil(len(trunk.plan[0]) / cfg.batch_size) if cfg.epochs else 0
    total_steps = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda(Recipe(epochs=cfg.epochs, schedule=cfg.schedule), total_steps)
    )
    # half = ⌈forget_passes · n_f / steps⌉: the forget set is seen forget_passes times per epoch
    half = cfg.domain_batch_size // 2 or math.ceil(cfg.forget_passes * len(forget) / max(steps_per_epoch, 1))
    domain = torch.cat([torch.ones(half, device=device), torch.zeros(half, device=device)])
    bce, ce = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss()

    def heldout_draw() -> BatchedData:
        """This epoch's held-out domain: all of it, or a fresh ``heldout_pool`` draw."""
        if not cfg.heldout_pool or cfg.heldout_pool >= len(held):
            return held
        return held.subset(torch.randperm(len(held), generator=gen, device=gen.device)[: cfg.heldout_pool])

    def stop_probes(ref: BatchedData) -> dict[str, float]:
        """Early stop's two fresh probes on eval-mode z of every forget and held-out sample: rep_auc's
        (label-blind) and rep_auc_cond's class margin (label-aware, class means from ``ref``; absent when a
        class has no sample there, i.e. full-class forgetting). A random forget set hides from the first
        inside its classes."""
        (zf, yf), (zv, yv), (zr, yr) = (
            (eval_reps(p)["z"].cpu().numpy(), p.y.cpu().numpy()) for p in (forget, held, ref)
        )
        out = {"probe_auc": probe_auc(zf, zv, seed=0, what="early_stop", min_per_side=2)}
        cond = margin_auc(
            (zf, yf), (zv, yv), (zr, yr), model.num_classes, seed=0, what="early_stop", min_per_side=2
        )
        return out if cond is None else {**out, "margin_auc": cond}

    stop_ref = retain  # early stop's class means: 1,000 retain samples, drawn apart from the run's generator
    if cfg.early_stop:
        pick = torch.randperm(len(retain), generator=torch.Generator().manual_seed(0))[:1000]
        stop_ref = retain.subset(pick.to(retain.device))
    warmup = (
        warm_up(
            ds,
            eval_reps(forget),
            eval_reps(held),
            forget.y,
            held.y,
            gen,
            steps=cfg.domain_warmup,
            lr=cfg.domain_lr,
            momentum=cfg.momentum,
        )
        if cfg.domain_warmup
        else {}
    )
    forward = eng.compiled(representations)  # torch.compile only when the engine asks for it
    trunk.train(model, True)
    step, history = 0, []
    setup_s = time.perf_counter() - setup_start
    start = time.perf_counter()
    forget_batches = forget.cycle(half, gen)
    with bar(cfg.epochs, "sure", ctx.progress) as pbar:
        for epoch in range(cfg.epochs):
            held_batches = heldout_draw().cycle(half, gen)
            # retain CE, domain BCE (z), domain accuracy (z), retain correct
            sums = torch.zeros(4, device=device)
            for rows in trunk.plan[epoch].split(cfg.batch_size):
                x_r, y_r = retain.batch(rows, gen)
                (x_f, y_f), (x_v, y_v) = next(forget_batches), next(held_batches)
                lam = cfg.lam * (ramp(step / max(total_steps, 1)) if cfg.dann_ramp else 1.0)
                with eng.autocast():
                    reps, logits = forward(eng.inputs(torch.cat([x_r, x_f, x_v])))
                    m = len(x_r)
                    loss_y = ce(logits[:m], y_r)
                    dom_logits = domain_logits(
                        ds, {k: v[m:] for k, v in reps.items()}, torch.cat([y_f, y_v]), lam, cfg.reverse
                    )
                    loss_d = sum(bce(lg, domain) for lg in dom_logits.values())
                    loss = loss_y + cfg.alpha * loss_d
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[union-attr]
                opt.step()
                sched.step()
                step += 1
                with torch.no_grad():
                    acc = ((dom_logits["z"] > 0).float() == domain).float().mean()
                    correct = (logits[:m].argmax(1) == y_r).sum().float()
                    sums += torch.stack(
                        [loss_y.detach().float(), bce(dom_logits["z"], domain).detach(), acc, correct]
                    )
            # one host sync per epoch
            ce_m, bce_m, acc_m, correct_n = check_epoch("sure", epoch + 1, sums, model)
            rec = {
                "retain_ce": ce_m / steps_per_epoch,
                "domain_bce": bce_m / steps_per_epoch,
                "domain_acc": 100 * acc_m / steps_per_epoch,
                "retain_acc": 100 * correct_n / len(trunk.plan[epoch]),
            }
            if cfg.early_stop:
                rec.update(stop_probes(stop_ref))
            history.append(rec)
            pbar.update()
            pbar.set_postfix_str(
                f"ce {rec['retain_ce']:.3f} dom {rec['domain_bce']:.3f} acc {rec['domain_acc']:.0f}%"
            )
            if (
                cfg.early_stop
                and max(rec["probe_auc"], rec.get("margin_auc", 0.0)) <= 0.5 + cfg.stop_margin
                and rec["retain_acc"] >= cfg.stop_retain_acc
            ):
                break
    seconds = time.perf_counter() - start
    trunk.train(model, True)
    ctx.info.update(
        epochs=len(history),
        seconds_per_epoch=seconds / max(len(history), 1),
        setup_s=setup_s,
        stopped_early=len(history) < cfg.epochs,
        domain_batch=2 * half,
        heldout_size=len(held),
        domain_acc_last=history[-1]["domain_acc"] if history else float("nan"),
        domain_warmup=warmup,
        history=history,
    )
    return model
