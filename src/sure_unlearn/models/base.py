"""The model interface every method relies on: ``f = h ∘ g`` with the split made explicit.

* ``forward_features(x)`` is ``g``: input → representation ``z`` (default: the input of the final linear
  layer, i.e. the penultimate layer).
* ``forward_head(z)`` is ``h``: representation → logits.
* ``head`` is the final ``nn.Linear``; ``num_classes`` its width.

Our own architectures subclass :class:`SplitModel`. A user's own ``nn.Module`` is wrapped by
:func:`wrap_model`, told the name of its final linear layer (nested names such as ``"classifier.fc"``
work); ``z`` is then captured with a forward hook, so the user's module is used as it is. Whatever the
user's ``forward`` returns (a tensor, a tuple, a mapping, a Hugging Face ``ImageClassifierOutput``), the
wrapped model returns the logits tensor (:func:`logits_of`): every method sees one kind of model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from sure_unlearn.errors import ConfigError
from sure_unlearn.registry import Registry


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` as the model's first layer, so inputs stay in ``[0, 1]``."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class SplitModel(nn.Module):
    """Base class: subclasses set ``self.head`` (an ``nn.Linear``) and implement ``forward_features``."""

    head: nn.Linear

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, logits)`` from one forward pass."""
        z = self.forward_features(x)
        return z, self.forward_head(z)

    @property
    def num_classes(self) -> int:
        return self.head.out_features

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    def blocks(self) -> list[str]:
        """Names of the model's main stages, input to output (for CF-k/EU-k and per-layer analyses)."""
        return [n for n, _ in self.named_children() if n not in ("head", "norm_in")]


def logits_of(out: object) -> torch.Tensor:
    """The logits in what a classifier's ``forward`` returned: the tensor itself, the ``"logits"`` entry (or
    the only tensor) of a mapping, the ``.logits`` of an output object (Hugging Face), or the first element
    of a tuple or list.

    >>> t = torch.zeros(2, 3)
    >>> all(logits_of(o) is t for o in (t, (t, None), {"logits": t}, {"out": t}))
    True
    """
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        if "logits" in out:
            return logits_of(out["logits"])
        tensors = [v for v in out.values() if isinstance(v, torch.Tensor)]
        if len(tensors) == 1:
            return tensors[0]
        raise ConfigError(
            f"the model returns a mapping with keys {list(out)}; name its logits 'logits' (or return a tensor)"
        )
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, tuple | list) and out:
        return logits_of(out[0])
    raise ConfigError(
        f"the model returns a {type(out).__name__}; return the logits as a tensor, a tuple starting with "
        "them, a mapping with a 'logits' entry or an object with a .logits attribute"
    )


class WrappedModel(SplitModel):
    """A user's ``nn.Module`` seen through the split interface; ``head_name`` is its final linear layer.

    The wrapped module must apply ``head_name`` last (logits = head(z)), as nearly every classifier does.
    ``forward`` returns the logits tensor whatever the module returns (:func:`logits_of`).
    """

    def __init__(self, module: nn.Module, head_name: str) -> None:
        super().__init__()
        modules = dict(module.named_modules())
        if head_name not in modules:
            linear = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
            raise ConfigError(f"the model has no module {head_name!r}; its linear layers are: {linear}")
        head = modules[head_name]
        if not isinstance(head, nn.Linear):
            raise ConfigError(f"{head_name!r} is a {type(head).__name__}, not the final nn.Linear")
        self.module = module
        self.head_name = head_name
        self.head = head  # shared with self.module: one parameter set

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        captured: list[torch.Tensor] = []

        def grab(_m: nn.Module, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
            z = args[0] if args else next(iter(kwargs.values()), None)
            if isinstance(z, torch.Tensor):
                captured.append(z)

        handle = self.head.register_forward_pre_hook(grab, with_kwargs=True)
        try:
            logits = self.forward(x)
        finally:
            handle.remove()
        if not captured:
            raise ConfigError(
                f"the model's forward never calls its head {self.head_name!r}; name the final nn.Linear"
            )
        return captured[-1], logits

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return logits_of(self.module(x))

    def blocks(self) -> list[str]:
        return ["module." + n for n, _ in self.module.named_children()]


def wrap_model(module: nn.Module, head: str = "fc") -> SplitModel:
    """Give a user's classifier the split interface, naming its final linear layer.

    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> m = wrap_model(net, head="3")
    >>> z, logits = m.features_and_logits(torch.zeros(2, 3, 2, 2))
    >>> tuple(z.shape), tuple(logits.shape), m.num_classes
    ((2, 8), (2, 3), 3)
    """
    if isinstance(module, SplitModel):
        return module
    return WrappedModel(module, head)


@contextmanager
def capture(
    model: nn.Module, layers: Sequence[str], reduce: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Iterator[dict[str, torch.Tensor]]:
    """Capture the outputs of named sub-modules (flattened to ``N×D``, copied) during forwards in the block.

    ``reduce``, if given, is applied to each output before flattening (e.g. spatial pooling of a feature
    map). Used when ``z`` is another layer than the penultimate (SURE's ``z_layer``) and for per-layer
    analyses.
    """
    modules = dict(model.named_modules())
    missing = [n for n in layers if n not in modules]
    if missing:
        raise ConfigError(f"no layer(s) {missing} in the model; layers: {[n for n in modules if n][:40]}...")
    out: dict[str, torch.Tensor] = {}

    def hook(name: str) -> Callable[[nn.Module, object, object], None]:
        def fn(_m: nn.Module, _i: object, o: object) -> None:
            if not isinstance(o, torch.Tensor):
                raise ConfigError(f"layer {name!r} returns a {type(o).__name__}, not a tensor; name another")
            # a copy (differentiable): a later in-place op such as ReLU(inplace=True) must not alter it
            if reduce is not None:
                o = reduce(o)
            out[name] = (o.flatten(1) if o.dim() > 2 else o).clone()

        return fn

    handles = [modules[n].register_forward_hook(hook(n)) for n in layers]
    try:
        yield out
    finally:
        for h in handles:
            h.remove()


def pool_to(max_dim: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Average-pool an N×C×H×W feature map to N×C×s×s with C·s² ≤ ``max_dim`` (s ≥ 1, s ≤ H, W);
    other shapes pass through. Keeps the probe the same size at every depth (a C·H·W-wide first stage
    would give a 200-sample probe 16,384 features)."""

    def reduce(t: torch.Tensor) -> torch.Tensor:
        if t.dim() != 4:
            return t
        c, h, w = t.shape[1:]
        s = max(1, min(h, w, math.isqrt(max(max_dim // c, 1))))
        return torch.nn.functional.adaptive_avg_pool2d(t, s) if (s, s) != (h, w) else t

    return reduce


@dataclass(frozen=True)
class ModelSpec:
    """What a registered model builder receives."""

    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


ModelBuilder = Callable[..., SplitModel]
MODELS: Registry[ModelBuilder] = Registry("model")


def build_model(name: str, spec: ModelSpec, **kwargs: object) -> SplitModel:
    """Build a registered architecture (``sure list models`` shows them) for ``spec``'s data."""
    return MODELS.get(name)(spec, **kwargs)
