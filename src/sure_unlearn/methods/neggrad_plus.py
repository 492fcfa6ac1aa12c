"""NegGrad+ (Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023, arXiv 2302.09880).

Each step pairs a retain batch with a forget batch (D_f cycled; an epoch is one pass over D_r) and descends

    L = retain_weight · CE(x_r, y_r) − (1 − retain_weight) · CE(x_f, y_f)

The paper calls ``retain_weight`` α (others call it β). This is the ``train_negrad`` variant
(``meghdadk/SCRUB: thirdparty/repdistiller/helper/loops.py``): train mode, no proximal term. The small-scale
notebook (and DeepUnlearn's port) instead runs in eval mode and adds retain_weight·(wd/2)·‖θ − θ_o‖².
Unlike ``itertools.cycle`` in the reference, the forget set is reshuffled at every pass.
retain_weight → 1 degenerates to FineTune, so it must be tuned; each forget sample is visited ≈ n_r/n_f
times per epoch, so the forget term's strength depends on the scenario.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.data.types import NO_AUGMENT
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods.base import RunContext, UnlearnData, register_method
from sure_unlearn.models.base import SplitModel
from sure_unlearn.progress import bar
from sure_unlearn.space import Float
from sure_unlearn.train import check_epoch, make_optimizer, model_device


@dataclass(frozen=True)
class NegGradPlusConfig:
    epochs: int = 10  # SCRUB small-scale notebook, DeepUnlearn (the SCRUB MIA notebook uses 5)
    lr: float = 0.01  # SCRUB notebooks, DeepUnlearn; constant
    momentum: float = 0.9  # DeepUnlearn (munl/unlearning/neggradplus.py, ORIGINAL_MOMENTUM)
    weight_decay: float = 0.0  # SCRUB MIA notebook, DeepUnlearn
    batch_size: int = 256  # retain batch; DeepUnlearn
    forget_batch_size: int = 256  # DeepUnlearn: the forget loader shares the retain loader's batch size
    retain_weight: float = 0.95  # SCRUB small-scale notebook, DeepUnlearn (MIA notebook: 0.9999); tune it
    augment: bool = True

    def validate(self) -> None:
        if not 0.0 <= self.retain_weight <= 1.0:
            raise ConfigError(f"retain_weight must lie in [0, 1], got {self.retain_weight}")


# What `sure tune` searches; every other field keeps its default above.
SPACE = {
    "lr": Float(1e-5, 0.5, log=True),
    "retain_weight": Float(0.1, 1.0),  # β; 0.95 (notebooks) … 0.9999 (MIA notebook)
}


@register_method(
    "neggrad_plus",
    config=NegGradPlusConfig,
    needs={"forget", "retain"},
    summary="NegGrad+: descend retain_weight·CE on D_r while ascending (1 − retain_weight)·CE on D_f",
    space=SPACE,
)
def neggrad_plus(model: SplitModel, data: UnlearnData, cfg: NegGradPlusConfig, ctx: RunContext) -> SplitModel:
    forget, retain = data.need("forget"), data.need("retain")
    if not cfg.augment:
        forget, retain = forget.with_augment(NO_AUGMENT), retain.with_augment(NO_AUGMENT)
    device, gen = model_device(model), ctx.generator
    eng = ctx.engine_for(model)
    opt = make_optimizer(model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay, device=device)
    forget_stream = forget.cycle(cfg.forget_batch_size, gen)
    ce = nn.functional.cross_entropy
    beta = cfg.retain_weight

    model.train()  # train_negrad
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    with bar(cfg.epochs, "neggrad_plus", ctx.progress) as pbar:
        for epoch in range(cfg.epochs):
            sums, steps = torch.zeros(2, device=device), 0  # retain CE, forget CE
            for x_r, y_r in retain.batches(cfg.batch_size, gen):
                x_f, y_f = next(forget_stream)
                with eng.autocast():  # two forward passes, as the reference (BN sees each batch alone)
                    loss_r = ce(model(eng.inputs(x_r)), y_r)
                    loss_f = ce(model(eng.inputs(x_f)), y_f)
                    loss = beta * loss_r - (1.0 - beta) * loss_f
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sums += torch.stack([loss_r.detach(), loss_f.detach()])
                steps += 1
            r_ce, f_ce = check_epoch("neggrad_plus", epoch + 1, sums / max(steps, 1), model)  # one sync
            history.append({"retain_ce": r_ce, "forget_ce": f_ce})
            pbar.update()
            pbar.set_postfix_str(f"retain {r_ce:.3f} forget {f_ce:.3f}")
    seconds = time.perf_counter() - start
    ctx.info.update(
        epochs=cfg.epochs,
        seconds_per_epoch=seconds / max(cfg.epochs, 1),
        variant="train_negrad",
        history=history,
    )
    return model
