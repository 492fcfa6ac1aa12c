"""The front door for practitioners: ``unlearn(model, forget=..., retain=..., val=...)``.

Works on a model of this library or on the user's own ``nn.Module`` (told the name of its final linear
layer), whatever its ``forward`` returns: a tensor, a tuple, a mapping or a Hugging Face output object.
Data is given as ``(x, y)`` pairs of tensors or arrays already in the form the model expects (NCHW
floats, or uint8 images scaled to ``[0, 1]``), as :class:`~sure_unlearn.data.types.LabeledData`, or as a
map-style ``torch.utils.data.Dataset`` / ``DataLoader`` of ``(x, y)`` items for data that does not fit in
memory (see :func:`unlearn` for what is streamed and what is gathered).

Everything that can be checked without running the method is checked first, each failure a one-line
:class:`~sure_unlearn.errors.SureError`: finite inputs and hyperparameters, a forget set disjoint from the
retain set, and an input layout the model takes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from sure_unlearn.data.streaming import StreamingData
from sure_unlearn.data.types import BatchedData, LabeledData, to_float
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.methods import METHODS, RunContext, UnlearnData, make_config, run_method
from sure_unlearn.methods.base import check_finite_config
from sure_unlearn.models.base import SplitModel, WrappedModel, wrap_model
from sure_unlearn.progress import bar
from sure_unlearn.train import Engine, model_device

DataLike = BatchedData | Dataset[Any] | DataLoader[Any] | tuple[Any, Any] | None
SCAN_BATCH = 256  # rows per batch of the checking pass


class _Checks:
    """Checks on one set's raw batches, as they pass: finite inputs, one sample shape across the sets, and
    (by content) the forget samples' hashes (``collect``) or an overlap with them (``against``)."""

    def __init__(self, name: str, shape: list[tuple[int, ...]], collect: set[bytes] | None = None,
                 against: set[bytes] | None = None) -> None:  # fmt: skip
        self.name, self.shape, self.collect, self.against = name, shape, collect, against
        self.seen, self.overlap = 0, 0
        self.bar: Any = bar()  # a progress bar over the pass (a no-op unless one is set)

    def __call__(self, x: torch.Tensor, _y: torch.Tensor) -> None:
        if x.dim() == 0 or len(x) == 0:
            raise DataError(
                f"the {self.name} set yields inputs of shape {tuple(x.shape)}; give one row per sample"
            )
        if not self.shape:
            self.shape.append(tuple(x.shape[1:]))
        elif tuple(x.shape[1:]) != self.shape[0]:
            raise DataError(
                f"the {self.name} samples have shape {tuple(x.shape[1:])} but the others {self.shape[0]}; "
                "give every set in the same layout"
            )
        xf = to_float(x)
        finite = torch.isfinite(xf.reshape(len(x), -1)).all(1)
        if not bool(finite.all()):
            bad = self.seen + int((~finite).nonzero()[0, 0])
            raise DataError(
                f"the {self.name} set has NaN or infinite inputs (sample {bad}); clean or drop them"
            )
        self.seen += len(x)
        self.bar.update(len(x))
        if self.collect is not None or self.against is not None:
            rows = np.ascontiguousarray(xf.detach().cpu().numpy()).reshape(len(x), -1)
            hashes = [hashlib.blake2b(r.tobytes(), digest_size=16).digest() for r in rows]
            if self.collect is not None:
                self.collect.update(hashes)
            if self.against is not None:
                self.overlap += sum(h in self.against for h in hashes)


def _raw_batches(d: BatchedData) -> Any:
    """``d``'s inputs as stored (uint8 or float), in order and in batches, with their labels."""
    if isinstance(d, LabeledData):
        return ((d.x[s : s + SCAN_BATCH], d.y[s : s + SCAN_BATCH]) for s in range(0, len(d), SCAN_BATCH))
    if isinstance(d, StreamingData):
        return d.read(d.rows.split(SCAN_BATCH))
    return d.batches(SCAN_BATCH, shuffle=False)


def _to_set(
    d: DataLike, name: str, device: torch.device, checks: _Checks, idx: Any = None, progress: bool = False
) -> BatchedData | None:
    """``d`` as a set on ``device``, inspected by ``checks`` on the way; a Dataset or DataLoader becomes a
    :class:`StreamingData` (its one labelling pass is the checking pass, with a bar if ``progress``)."""
    if d is None:
        return None
    if isinstance(d, Dataset | DataLoader):
        source = d.dataset if isinstance(d, DataLoader) else d
        size = len(source) if hasattr(source, "__len__") else None
        with bar(size, f"checking {name}", progress) as checks.bar:
            data: BatchedData = StreamingData.from_dataset(d, device, inspect=checks, batch_size=SCAN_BATCH)
    else:
        if isinstance(d, LabeledData):
            data = LabeledData(d.x.to(device), d.y.to(device), d.augment, d.idx)
        elif isinstance(d, StreamingData):
            data = d.to(device)
        else:
            data = _pair(d, name, device)
        for x, y in _raw_batches(data):
            checks(x, y)
    if len(data) == 0:
        raise DataError(f"the {name} set is empty")
    if idx is not None:
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long).reshape(-1)
        if len(idx) != len(data):
            raise DataError(f"{name}_idx has {len(idx)} entries but the {name} set {len(data)} samples")
        data.idx = idx
    return data


def _pair(d: Any, name: str, device: torch.device) -> LabeledData:
    try:
        x, y = d
    except (TypeError, ValueError):
        raise DataError(
            f"{name} must be an (x, y) pair, LabeledData, a Dataset or a DataLoader, got {type(d).__name__}"
        ) from None
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
    if y.ndim != 1 or len(x) != len(y):
        raise DataError(f"{name}: {len(x)} inputs but labels of shape {tuple(y.shape)}")
    if len(x) == 0:
        raise DataError(f"the {name} set is empty")
    return LabeledData(x.to(device), y.long().to(device))


def _gather(d: BatchedData | None) -> BatchedData | None:
    """A streaming set read whole into memory (forget and validation sets are small by nature)."""
    if not isinstance(d, StreamingData):
        return d
    x = torch.cat([x for x, _ in d.read(d.rows.split(SCAN_BATCH))]).to(d.device)
    return LabeledData(x, d.y, d.augment, d.idx)


def _subset_indices(a: DataLike, b: DataLike) -> tuple[Sequence[int], Sequence[int]] | None:
    """The dataset indices of two ``Subset``s (or their loaders) of one dataset, else None."""
    a, b = (d.dataset if isinstance(d, DataLoader) else d for d in (a, b))
    if isinstance(a, Subset) and isinstance(b, Subset) and a.dataset is b.dataset:
        return a.indices, b.indices
    return None


def _check_layout(model: SplitModel, forget: BatchedData) -> None:
    """One forget sample through the model (eval mode, no gradient): a clear error if it cannot take it."""
    x, _ = forget.batch(torch.arange(1, device=forget.device))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except (RuntimeError, ValueError, IndexError, AssertionError) as e:
        shape = tuple(x.shape)
        nhwc = x.dim() == 4 and shape[-1] in (1, 3, 4) and shape[1] not in (1, 3, 4)
        hint = "; it looks channels-last: use x.permute(0, 3, 1, 2)" if nhwc else ""
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise ConfigError(
            f"the model cannot take inputs of shape {shape} ({first}); give inputs in the layout its forward "
            f"expects, N×C×H×W (NCHW) floats for image models{hint}"
        ) from None
    finally:
        model.train(was)
    if tuple(out.shape) != (1, model.num_classes):
        raise ConfigError(
            f"the model returns outputs of shape {tuple(out.shape)} for one sample, but its head has "
            f"{model.num_classes} outputs; name the final linear layer with head="
        )


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
    forget_idx: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    retain_idx: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    precision: str = "auto",
) -> nn.Module:
    """Remove ``forget`` from ``model`` with ``method`` and return the unlearned model (a new object, of the
    user's own class).

    ``val`` is held-out data from the forget set's distribution (SURE needs it); ``retain`` the rest of the
    training data. ``head`` names the model's final linear layer (nested names such as
    ``"classifier.fc"`` work). ``config`` is a dict of hyperparameter overrides (or the method's config
    object). ``info``, if given, receives what the method reports (epochs, timings, diagnostics).
    ``precision`` is the training arithmetic: ``"auto"`` (bf16 autocast on CUDA, fp32 elsewhere), ``"fp32"``
    or ``"bf16"`` (autocast on any device; faster on CPUs with bf16 instructions).

    **Large data.** Each set may be a map-style ``Dataset`` or a ``DataLoader`` of ``(x, y)`` items (the
    loader's workers and collate function are used; each method draws its own batches). The retain set is
    *streamed*: only the rows of the batches in flight are ever read, and its labels are read once up
    front. The forget and validation sets are *gathered* into memory (they are small by nature, and
    methods revisit them often).

    **Checks before any work**, each a one-line error: non-finite inputs or hyperparameters; forget
    samples that are also in the retain set, by dataset index when both sets carry one (``forget_idx`` and
    ``retain_idx``, or two ``Subset``s of one dataset), else by a hash of each sample's bytes (identical
    samples count as one: pass indices if your data has exact duplicates); and an input layout the model
    cannot take (one forget sample is run through it in eval mode). These cost one pass over the retain
    set. A method that diverges stops with a :class:`~sure_unlearn.errors.DivergenceError`.

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
    spec = METHODS.get(method)  # an unknown name fails here, before any data is read
    cfg = config if config is not None and not isinstance(config, dict) else make_config(method, config)
    if not isinstance(cfg, spec.config):
        raise ConfigError(
            f"method {method!r} takes a dict or a {spec.config.__name__}, got {type(cfg).__name__}"
        )
    check_finite_config(cfg, method)
    engine = Engine.of_precision(precision)
    if (forget_idx is None) != (retain_idx is None):
        raise ConfigError("give both forget_idx and retain_idx (dataset indices of each set), or neither")
    if forget is None:
        raise DataError("unlearn needs a forget set: forget=(x, y)")
    by_index = (forget_idx, retain_idx) if forget_idx is not None else _subset_indices(forget, retain)
    hashes: set[bytes] | None = None if by_index is not None or retain is None else set()
    shape: list[tuple[int, ...]] = []
    f_idx = by_index[0] if by_index is not None else None
    forget_set = _gather(_to_set(forget, "forget", device, _Checks("forget", shape, collect=hashes), f_idx))
    val_set = _gather(_to_set(val, "val", device, _Checks("val", shape)))
    assert forget_set is not None
    _check_layout(split_model, forget_set)
    retain_checks = _Checks("retain", shape, against=hashes)
    r_idx = by_index[1] if by_index is not None else None
    retain_set = _to_set(retain, "retain", device, retain_checks, r_idx, progress)
    if by_index is not None and retain_set is not None:
        both = np.intersect1d(forget_set.idx.numpy(), retain_set.idx.numpy())
        if len(both):
            raise DataError(
                f"{len(both)} forget samples are also in the retain set (dataset indices {both[:5].tolist()}…); "
                "remove them from the retain set"
            )
    if retain_checks.overlap:
        raise DataError(
            f"{retain_checks.overlap} retain samples are identical to forget samples; remove them from the "
            "retain set (or, if they are distinct samples that look alike, pass forget_idx= and retain_idx=)"
        )
    data = UnlearnData(forget=forget_set, retain=retain_set, val=val_set)
    ctx = RunContext(torch.Generator(device=device).manual_seed(seed), progress=progress, engine=engine)
    out = run_method(method, split_model, data, cfg, ctx)
    if info is not None:
        info.update(ctx.info)
    return out.module if isinstance(out, WrappedModel) else out
