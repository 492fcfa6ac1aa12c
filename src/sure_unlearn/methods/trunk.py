"""A frozen trunk: train only the stages after the k-th block, on the trunk's cached outputs.

Unlearning methods that leave the first k of ``model.blocks()`` untouched (SURE's ``freeze_blocks``) need
not run them more than once: without augmentation the trunk's outputs for every sample a run will visit
are computed once, in eval mode with BatchNorm folded (exact: a frozen trunk in eval mode is a fixed
function), and training runs the remaining stages on that cache. With augmentation the trunk is re-run on
each augmented batch under ``no_grad``. Either way the trunk's weights and BatchNorm statistics stay
bit-identical, so a probe placed *inside* the trunk still sees the original's features.

    trunk = freeze(model, k, eng, {"forget": f, "retain": r, "val": v}, plan)
    z = trunk.features(trunk.prefix(x))        # x from trunk.sets[...], rows from trunk.plan
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.data.types import NO_AUGMENT, BatchedData, LabeledData
from sure_unlearn.errors import ConfigError
from sure_unlearn.models.base import SplitModel
from sure_unlearn.train import Engine


def split_at(model: SplitModel, k: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``(trunk, tail)``: the model's stages up to and including its k-th block (with what precedes the
    first block, e.g. input normalisation), and the stages after it, without the head.

    ``forward_features(x) == tail(trunk(x))`` only for models that apply their stages in registration
    order; :func:`freeze` checks this on real inputs before relying on it.
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
def through(trunk: nn.Module, data: BatchedData, eng: Engine, batch_size: int = 512) -> LabeledData:
    """``data`` with each input replaced by ``trunk``'s output (computed once; pass ``eng.inference(trunk)``)."""
    with eng.autocast():
        hs = [trunk(eng.inputs(x)).float() for x, _ in data.batches(batch_size, shuffle=False)]
    return LabeledData(torch.cat(hs), data.y, NO_AUGMENT, data.idx)


@dataclass
class Trunk:
    """What a method trains through: ``prefix`` (run under ``no_grad`` on each batch; the identity when
    the inputs are cached), ``features`` (the trainable stages up to z), ``frozen`` (kept in eval mode,
    None without a trunk), the sets (replaced by the trunk's outputs when cached) and the retain plan
    (re-indexed into the cached rows)."""

    prefix: nn.Module
    features: Callable[[torch.Tensor], torch.Tensor]
    frozen: nn.Module | None
    sets: dict[str, BatchedData]
    plan: list[torch.Tensor]
    modules: list[str]  # names of the frozen modules (a z_layer or an erased layer may not be among them)

    def train(self, model: nn.Module, mode: bool) -> None:
        model.train(mode)
        if self.frozen is not None:
            self.frozen.eval()  # frozen BatchNorm keeps the original's statistics


def freeze(
    model: SplitModel,
    k: int,
    eng: Engine,
    sets: Mapping[str, BatchedData],
    plan: list[torch.Tensor],
    retain: str = "retain",
) -> Trunk:
    """Freeze the first ``k`` blocks of ``model`` (k = 0: nothing frozen) and, when no set augments, cache
    the trunk's outputs for every set (for ``sets[retain]`` only the rows ``plan`` visits)."""
    if k == 0:
        return Trunk(nn.Identity(), model.forward_features, None, dict(sets), plan, [])
    frozen, tail = split_at(model, k)
    frozen.requires_grad_(False)
    names = [n for n, m in model.named_modules() if any(m is f for f in frozen.modules())]
    first = next(iter(sets.values()))
    with torch.no_grad():  # the split must reproduce the model's own forward
        model.eval()
        x = eng.inputs(first.batch(torch.arange(min(len(first), 8), device=first.device))[0])
        if not torch.allclose(tail(frozen(x)), model.forward_features(x), rtol=1e-3, atol=1e-4):
            raise ConfigError(
                f"freeze_blocks needs a model whose forward_features applies its blocks {model.blocks()} "
                f"in order; {type(model).__name__} does not (use freeze_blocks=0)"
            )
    if any(d.augment.active for d in sets.values()):
        return Trunk(frozen, tail, frozen, dict(sets), plan, names)
    r = sets[retain]
    used = torch.unique(torch.cat(plan)) if plan else torch.zeros(0, dtype=torch.long, device=r.device)
    at = torch.full((len(r),), -1, dtype=torch.long, device=r.device)
    at[used] = torch.arange(len(used), device=r.device)
    fast = eng.inference(frozen)
    cached: dict[str, BatchedData] = {
        name: through(fast, r.subset(used) if name == retain else d, eng) for name, d in sets.items()
    }
    return Trunk(nn.Identity(), tail, frozen, cached, [at[rows] for rows in plan], names)
