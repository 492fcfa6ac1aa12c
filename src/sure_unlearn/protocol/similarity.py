"""How similar is a model's representation to the oracle's (and the original's), layer by layer: linear CKA.

CKA (``metrics/cka.py``) compares two models through the Gram matrices of their activations on the same
*probe set*, so a model's Grams are computed once and compared with any number of references.

**The probe set** (:func:`probe_set`) is the forget set D_f together with an equal number of unseen test
samples of the same distribution (the forget classes' test samples in class scenarios, the whole test set
otherwise — the non-members of ``rep_auc``, never D_v, which SURE trains on), at most 1,000 in all, in a
fixed order. Every model of a (scenario, seed) must see the same probe, sample for sample: CKA compares
the geometry of the n examples, so ``cka_to_oracle`` = 1 means the model arranges the forgotten samples
relative to unseen ones exactly as the oracle (which never saw them) does, up to rotation and scale.

**Layers**: each of ``model.blocks()`` (input to output) and ``"z"``, the head's input. Activations are
flattened (a C×H×W feature map becomes C·H·W columns).

**Memory**: K = X Xᵀ needs every pair of examples, so the activations of a *row block* of examples are
kept (float64, at most ``max_bytes`` for all layers together); the remaining examples are forwarded in
batches and multiplied against the block inside the forward hooks, then dropped. When the whole probe fits
in ``max_bytes`` (the usual case: n ≤ 1,000) that is one eval-mode forward pass per batch; otherwise the
later batches are forwarded once per row block. Products are float64 (TF32 never applies), on the device
the activations live on (MPS, which has no float64, falls back to the CPU).

>>> from sure_unlearn.models import ModelSpec, build_model
>>> from sure_unlearn.data.types import ImageArrays, LabeledData
>>> spec = ModelSpec(num_classes=3, in_channels=1, image_size=8, mean=(0.5,), std=(0.25,))
>>> model = build_model("small_cnn", spec, width=4)
>>> rng = np.random.default_rng(0)
>>> probe = LabeledData.from_arrays(ImageArrays(rng.integers(0, 255, (12, 8, 8, 1), dtype=np.uint8), np.arange(12) % 3))
>>> grams = layer_grams(model, probe, batch_size=5)
>>> list(grams), grams["z"].shape
(['conv1', 'conv2', 'conv3', 'pool', 'z'], (12, 12))
>>> metrics, record = cka_to_references(model, probe, {"oracle": grams})
>>> round(metrics["cka_to_oracle"], 6), record["layers"][-1]
(1.0, 'z')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from sure_unlearn.data.types import LabeledData
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.metrics.cka import cka_from_grams
from sure_unlearn.models.base import SplitModel, capture, pool_to

Z = "z"  # the head's input, as returned by features_and_logits
MAX_PROBE = 1000


def default_layers(model: SplitModel) -> list[str]:
    """``model.blocks()`` then ``"z"``: the layers :func:`layer_grams` uses when none are named."""
    return [*model.blocks(), Z]


def probe_set(
    forget: LabeledData, unseen: LabeledData, seed: int = 0, max_samples: int = MAX_PROBE
) -> LabeledData:
    """D_f and an equal-size sample of ``unseen`` (same-distribution test data), ≤ ``max_samples`` in all.

    Each side has m = min(|D_f|, |unseen|, max_samples // 2) samples, drawn without replacement with
    ``seed`` when a side is larger (sorted, so the order is stable). Rows ``[:m]`` are forget samples,
    ``[m:]`` unseen ones. Both sets must live on the same device.

    >>> from sure_unlearn.data.types import ImageArrays
    >>> def data(n):
    ...     return LabeledData.from_arrays(ImageArrays(np.zeros((n, 4, 4, 1), np.uint8), np.zeros(n, np.int64)))
    >>> len(probe_set(data(30), data(500))), len(probe_set(data(900), data(5000)))
    (60, 1000)
    """
    if forget.device != unseen.device:
        raise DataError(f"the forget set is on {forget.device} but the unseen set on {unseen.device}")
    m = min(len(forget), len(unseen), max_samples // 2)
    if m < 1:
        raise DataError(f"a probe set needs forget and unseen samples; got {len(forget)} and {len(unseen)}")
    rng = np.random.default_rng(seed)

    def take(d: LabeledData) -> LabeledData:
        rows = np.sort(rng.choice(len(d), m, replace=False)) if len(d) > m else np.arange(m)
        return d.subset(torch.from_numpy(rows))

    f, u = take(forget), take(unseen)
    return LabeledData(torch.cat([f.x, u.x]), torch.cat([f.y, u.y]), idx=torch.cat([f.idx, u.idx]))


class _Sink:
    """Where the forward hooks send each layer's batch of flattened activations.

    Collecting a row block R (``cols is None``): keep the batch (float64). Otherwise the batch is a column
    block C: write K[R, C] = X_R X_Cᵀ and its transpose K[C, R] into the Grams, and keep nothing.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.grams: dict[str, torch.Tensor] = {}
        self.widths: dict[str, int] = {}
        self.held: dict[str, list[torch.Tensor]] = {}  # the row block's batches, while collecting it
        self.block: dict[str, torch.Tensor] = {}  # the row block X_R, once collected
        self.rows: slice = slice(0, 0)
        self.cols: slice | None = None

    def __call__(self, name: str, t: torch.Tensor) -> None:
        self.widths[name] = t.shape[1]
        if self.cols is None:
            self.held.setdefault(name, []).append(_f64(t))
            return
        prod = self.block[name] @ _f64(t).T
        self.grams[name][self.rows, self.cols] = prod
        self.grams[name][self.cols, self.rows] = prod.T

    def start_rows(self, rows: slice) -> None:
        self.rows, self.cols, self.held = rows, None, {}

    def close_rows(self) -> None:
        """K[R, R] = X_R X_Rᵀ for the block just collected; later batches are multiplied against X_R."""
        self.block = {name: torch.cat(parts) for name, parts in self.held.items()}
        self.held = {}
        for name, a in self.block.items():
            if name not in self.grams:
                self.grams[name] = torch.zeros(self.n, self.n, dtype=torch.float64, device=a.device)
            self.grams[name][self.rows, self.rows] = a @ a.T


def _f64(t: torch.Tensor) -> torch.Tensor:
    dev = t.device if t.device.type != "mps" else torch.device("cpu")
    return t.to(dev, torch.float64, copy=True)  # a copy: a later in-place op cannot alter it


@torch.no_grad()
def layer_grams(
    model: SplitModel,
    data: LabeledData,
    layers: Sequence[str] | None = None,
    batch_size: int = 256,
    max_bytes: int = 1 << 30,
) -> dict[str, np.ndarray]:
    """The n×n linear Gram matrix X Xᵀ (float64) of each layer's flattened activations on ``data``.

    ``layers`` defaults to :func:`default_layers`; ``"z"`` is the head's input. Eval mode, un-augmented,
    in ``data``'s order; the model's train/eval mode is restored. Row blocks hold at most ``max_bytes``
    of activations (see the module docstring).
    """
    names = default_layers(model) if layers is None else list(layers)
    modules = dict(model.named_modules())
    unknown = [m for m in names if m != Z and m not in modules]
    if unknown or len(set(names)) != len(names) or not names:
        raise ConfigError(f"layers must be distinct names among {default_layers(model)}; got {names}")
    n = len(data)
    if n < 2:
        raise DataError(f"CKA needs at least 2 probe samples, got {n}")
    sink = _Sink(n)

    hooked = [m for m in names if m != Z]

    def forward(start: int, stop: int) -> None:
        x, _ = data.batch(torch.arange(start, stop, device=data.device))
        with capture(model, hooked) as got:
            z, _ = model.features_and_logits(x)
        for name in hooked:
            sink(name, got[name])
        if Z in names:
            sink(Z, z.detach().flatten(1))

    was = model.training
    model.eval()
    try:
        sink.start_rows(slice(0, 1))
        forward(0, 1)  # one sample, to learn the widths and so the row-block size
        block = int(max(1, min(n, max_bytes // (8 * sum(sink.widths.values())))))
        for r0 in range(0, n, block):
            r1 = min(n, r0 + block)
            sink.start_rows(slice(r0, r1))
            for s in range(r0, r1, batch_size):
                forward(s, min(s + batch_size, r1))
            sink.close_rows()
            for c0 in range(r1, n, batch_size):
                sink.cols = slice(c0, min(n, c0 + batch_size))
                forward(c0, min(n, c0 + batch_size))
            sink.block = {}
    finally:
        model.train(was)
    return {m: sink.grams[m].cpu().numpy() for m in names}


def cka_per_layer(
    grams_model: Mapping[str, np.ndarray], grams_ref: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Linear CKA between two models at each layer of ``grams_model`` (both from :func:`layer_grams`).

    >>> k = {"a": np.eye(3), "z": np.ones((3, 3)) + np.eye(3)}
    >>> cka_per_layer(k, k)
    {'a': 1.0, 'z': 1.0}
    """
    missing = [m for m in grams_model if m not in grams_ref]
    if missing:
        raise DataError(f"the reference has no Gram for layer(s) {missing}; it has {list(grams_ref)}")
    return {m: cka_from_grams(k, grams_ref[m]) for m, k in grams_model.items()}


def cka_to_references(
    model: SplitModel,
    probe: LabeledData,
    refs: Mapping[str, Mapping[str, np.ndarray]],
    batch_size: int = 256,
) -> tuple[dict[str, float], dict[str, Any]]:
    """CKA of ``model`` to each reference model, from the references' Grams on the same ``probe``.

    ``refs`` maps a name (``"oracle"``, ``"original"``) to that model's :func:`layer_grams`; the model's
    Grams are computed on the first reference's layers. Returns

    - metrics ``{"cka_to_<name>": CKA at "z"}`` (at the last layer if ``"z"`` is not among the layers),
      in [0, 1]; NaN if a representation is constant over the probe;
    - the per-layer record ``{"layers": [...], "to_<name>": [...], ...}`` (the benchmark's ``cka.json``).
    """
    if not refs:
        raise ConfigError(
            "cka_to_references needs at least one reference (e.g. {'oracle': layer_grams(oracle, probe)})"
        )
    layers = list(next(iter(refs.values())))
    grams = layer_grams(model, probe, layers, batch_size)
    at = Z if Z in layers else layers[-1]
    metrics: dict[str, float] = {}
    record: dict[str, Any] = {"layers": layers}
    for name, ref in refs.items():
        per_layer = cka_per_layer(grams, ref)
        metrics[f"cka_to_{name}"] = per_layer[at]
        record[f"to_{name}"] = [per_layer[m] for m in layers]
    return metrics, record


# ---- where the forget set stays visible: a fresh probe at every depth -----------------------------------

PROBE_DIM = 1024  # features per layer the per-layer probe sees (feature maps are average-pooled to fit)


@torch.no_grad()
def layer_features(
    model: SplitModel,
    data: LabeledData,
    layers: Sequence[str] | None = None,
    batch_size: int = 256,
    max_dim: int = PROBE_DIM,
) -> dict[str, np.ndarray]:
    """Each layer's activations on ``data`` (eval mode, in order), pooled to at most ``max_dim`` features."""
    names = default_layers(model) if layers is None else list(layers)
    hooked = [m for m in names if m != Z]
    out: dict[str, list[np.ndarray]] = {m: [] for m in names}
    was = model.training
    model.eval()
    try:
        for s in range(0, len(data), batch_size):
            x, _ = data.batch(torch.arange(s, min(s + batch_size, len(data)), device=data.device))
            with capture(model, hooked, pool_to(max_dim)) as got:
                z, _ = model.features_and_logits(x)
            for m in hooked:
                out[m].append(got[m].float().cpu().numpy())
            if Z in names:
                out[Z].append(z.float().flatten(1).cpu().numpy())
    finally:
        model.train(was)
    return {m: np.concatenate(v) for m, v in out.items()}


def rep_auc_layers(
    model: SplitModel, probe: LabeledData, seed: int = 0, batch_size: int = 256
) -> dict[str, float]:
    """The fresh-probe AUC (:func:`~sure_unlearn.metrics.representation.probe_auc`, the probe of
    ``rep_auc``) at every layer of ``model``, input to output: forget (the probe set's first half) against
    never-seen samples of its distribution (its second half, see :func:`probe_set`). 0.5 at a layer means
    the forget set cannot be told from unseen data there."""
    from sure_unlearn.metrics.representation import probe_auc

    feats = layer_features(model, probe, batch_size=batch_size)
    m = len(probe) // 2
    return {name: probe_auc(f[:m], f[m:], seed, what=f"rep_auc at {name}") for name, f in feats.items()}
