"""The front door for practitioners: ``unlearn(model, forget=..., retain=..., val=...)``.

Works on a model of this library or on the user's own ``nn.Module`` (told the name of its final linear
layer). Data is given as ``(x, y)`` pairs of tensors or arrays already in the form the model expects
(NCHW floats), or as :class:`~sure_unlearn.data.types.LabeledData`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from sure_unlearn.data.types import LabeledData
from sure_unlearn.errors import DataError
from sure_unlearn.methods import RunContext, UnlearnData, make_config, run_method
from sure_unlearn.models.base import SplitModel, WrappedModel, wrap_model
from sure_unlearn.train import model_device

DataLike = LabeledData | tuple[Any, Any] | None


def as_labeled(d: DataLike, name: str, device: torch.device) -> LabeledData | None:
    if d is None or isinstance(d, LabeledData):
        return d if d is None else LabeledData(d.x.to(device), d.y.to(device), d.augment, d.idx)
    try:
        x, y = d
    except (TypeError, ValueError):
        raise DataError(f"{name} must be an (x, y) pair or LabeledData, got {type(d).__name__}") from None
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
    if y.ndim != 1 or len(x) != len(y):
        raise DataError(f"{name}: {len(x)} inputs but labels of shape {tuple(y.shape)}")
    if len(x) == 0:
        raise DataError(f"the {name} set is empty")
    return LabeledData(x.to(device), y.long().to(device))


def unlearn(
    model: nn.Module,
    forget: DataLike,
    retain: DataLike = None,
    val: DataLike = None,
    *,
    method: str = "sure",
    head: str = "fc",
    config: dict[str, Any] | Any = None,
    seed: int = 0,
    progress: bool = False,
    info: dict[str, Any] | None = None,
) -> nn.Module:
    """Remove ``forget`` from ``model`` with ``method`` and return the unlearned model (a new object).

    ``val`` is held-out data from the forget set's distribution (SURE needs it); ``retain`` the rest of the
    training data. ``config`` is a dict of hyperparameter overrides (or the method's config object).
    ``info``, if given, receives what the method reports (epochs, timings, diagnostics).

    >>> import torch, sure_unlearn
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> x, y = torch.rand(32, 1, 2, 2), torch.arange(32) % 2
    >>> new = sure_unlearn.unlearn(net, forget=(x[:4], y[:4]), retain=(x[4:24], y[4:24]), val=(x[24:], y[24:]),
    ...                            head="3", config={"epochs": 1, "batch_size": 8, "domain_batch_size": 4})
    >>> type(new).__name__, new is net
    ('Sequential', False)
    """
    split_model: SplitModel = wrap_model(model, head)
    device = model_device(split_model)
    sets = {k: as_labeled(d, k, device) for k, d in (("forget", forget), ("retain", retain), ("val", val))}
    if sets["forget"] is None:
        raise DataError("unlearn needs a forget set: forget=(x, y)")
    cfg = config if config is not None and not isinstance(config, dict) else make_config(method, config)
    data = UnlearnData(forget=sets["forget"], retain=sets["retain"], val=sets["val"])
    ctx = RunContext(torch.Generator(device=device).manual_seed(seed), progress=progress)
    out = run_method(method, split_model, data, cfg, ctx)
    if info is not None:
        info.update(ctx.info)
    return out.module if isinstance(out, WrappedModel) else out
