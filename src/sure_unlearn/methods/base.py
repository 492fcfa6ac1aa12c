"""The method interface: one frozen config, one function, one registry entry.

A method is registered with the inputs it *needs* and the ones it *may read*; :func:`run_method` checks
the first (a clear error naming the method and the missing input) and enforces the second by handing the
method only those sets, so a method can never peek at data its definition excludes.

    SPACE = {"lr": Float(1e-4, 1e-1, log=True)}  # what `sure tune` searches (sure_unlearn.space)

    @register_method("finetune", needs={"retain"}, summary="continue training on the retain set", space=SPACE)
    def finetune(model: SplitModel, data: UnlearnData, cfg: FineTuneConfig, ctx: RunContext) -> SplitModel:
        ...
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

import torch

from sure_unlearn.data.types import BatchedData
from sure_unlearn.errors import ConfigError, DataError, DivergenceError
from sure_unlearn.models.base import SplitModel
from sure_unlearn.registry import Registry
from sure_unlearn.space import Param, check_space
from sure_unlearn.train import Engine, weights_finite

Input = Literal["forget", "retain", "val", "pool"]
INPUTS: tuple[Input, ...] = ("forget", "retain", "val", "pool")


@dataclass(frozen=True)
class UnlearnData:
    """What an unlearning method may see. ``val`` is held-out data from the forget set's distribution.

    Each set is read through the batch interface of :class:`~sure_unlearn.data.types.BatchedData`: in
    memory (``LabeledData``) or streamed from a Dataset (``StreamingData``); a method never assumes more.
    """

    forget: BatchedData | None
    retain: BatchedData | None = None
    val: BatchedData | None = None
    # more held-out data of the forget set's distribution, which evaluation never uses (SURE's heldout_pool)
    pool: BatchedData | None = None
    num_classes: int | None = None
    # The recipe the original was trained with; Retrain and EU-k reuse it (None: method defaults).
    original_recipe: Any = None
    # The original's weights at step 0 (EU-k resets to them when available).
    init_state: dict[str, torch.Tensor] | None = None

    def only(self, allowed: frozenset[str]) -> UnlearnData:
        """A copy without the sets outside ``allowed``."""
        return dataclasses.replace(self, **{k: None for k in INPUTS if k not in allowed})

    def need(self, name: Input) -> BatchedData:
        d = getattr(self, name)
        if d is None:  # only reachable if a method reads a set it did not declare
            raise ConfigError(f"this method did not declare {name!r} among the inputs it reads")
        return d


@dataclass
class RunContext:
    """Per-call settings a method receives: randomness, progress display, and what it reports back."""

    generator: torch.Generator
    progress: bool = False
    # A method writes what the caller should record here (e.g. epochs run, mask sparsity, rewind epoch).
    info: dict[str, Any] = field(default_factory=dict)
    engine: Engine | None = None  # layout and precision of the method's training; None: automatic

    @property
    def device(self) -> torch.device:
        return self.generator.device

    def engine_for(self, model: torch.nn.Module) -> Engine:
        """The engine resolved for ``model`` and ``model`` prepared for it (e.g. channels-last weights): for
        a method with its own loop, which then passes every batch through ``inputs`` and runs its forward
        passes and losses inside ``autocast``."""
        return (self.engine or Engine()).ready(model)


C = TypeVar("C", contravariant=True)


class UnlearnFn(Protocol[C]):
    def __call__(self, model: SplitModel, data: UnlearnData, cfg: C, ctx: RunContext) -> SplitModel: ...


@dataclass(frozen=True)
class MethodSpec(Generic[C]):
    name: str
    fn: UnlearnFn[Any]
    config: type
    needs: frozenset[str]
    may_read: frozenset[str]
    summary: str
    # False only for methods that may legitimately return the model unchanged.
    changes_model: bool = True
    # The hyperparameters `sure tune` searches, and over what range (empty: nothing to tune).
    space: Mapping[str, Param] = field(default_factory=dict)
    # Whether the shared epoch budget (a preset's, `sure tune --search-epochs`) applies to its ``epochs``;
    # False for a method whose epochs follow the original's recipe whenever it is given (EU-k).
    epoch_budget: bool = True


METHODS: Registry[MethodSpec[Any]] = Registry("method")


def register_method(
    name: str,
    *,
    config: type,
    needs: set[str],
    may_read: set[str] | None = None,
    summary: str,
    changes_model: bool = True,
    space: Mapping[str, Param] | None = None,
    epoch_budget: bool = True,
) -> Callable[[UnlearnFn[Any]], UnlearnFn[Any]]:
    """Register an unlearning function with its config class, the inputs it needs / may read, the search
    space of its hyperparameters (config field → :class:`~sure_unlearn.space.Float` …), and whether the
    shared epoch budget applies to its ``epochs`` field."""
    reads = frozenset(may_read if may_read is not None else needs)
    if not set(needs) <= reads or not reads <= set(INPUTS):
        raise ValueError(f"{name}: needs {needs} must be within may_read {reads} ⊆ {INPUTS}")
    space = dict(space or {})
    check_space(space, {f.name for f in dataclasses.fields(config)}, name)

    def add(fn: UnlearnFn[Any]) -> UnlearnFn[Any]:
        spec: MethodSpec[Any] = MethodSpec(
            name, fn, config, frozenset(needs), reads, summary, changes_model, space, epoch_budget
        )
        METHODS.register(name)(spec)
        return fn

    return add


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def coerce(value: Any, like: Any, where: str) -> Any:
    """``value`` (text from a command line, or a JSON/TOML scalar) as the type of ``like``, a field's default.

    Booleans take true/false/yes/no/on/off/1/0; integers take whole numbers only; floats must be finite;
    anything else is a :class:`ConfigError` naming ``where`` and what it takes.

    >>> coerce("3", 1, "m.epochs"), coerce(2, 0.5, "m.lr"), coerce("off", True, "m.augment")
    (3, 2.0, False)
    >>> coerce(2.5, 1, "m.epochs")
    Traceback (most recent call last):
    sure_unlearn.errors.ConfigError: m.epochs must be a whole number, got 2.5
    """
    if like is dataclasses.MISSING or like is None:
        return value
    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE + _FALSE:
            return text in _TRUE
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if isinstance(like, int | float) and isinstance(value, str):
        try:  # "3" → 3; "2.5", "1e3", "nan" → float, judged below
            value = int(value) if value.strip().lstrip("+-").isdigit() else float(value)
        except ValueError:
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
    if isinstance(like, int | float) and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if isinstance(like, int) and not isinstance(like, bool):
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        return int(value)
    if isinstance(like, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if isinstance(like, str) and not isinstance(value, str):
        if isinstance(value, list | tuple | dict):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    if isinstance(like, tuple) and not isinstance(value, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(value)
    return value


def make_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The method's config with ``overrides`` applied; unknown keys are an error naming the valid ones."""
    spec = METHODS.get(name)
    overrides = dict(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(spec.config)}
    bad = [k for k in overrides if k not in fields]
    if bad:
        raise ConfigError(f"{name} has no hyperparameter(s) {bad}; it has: {sorted(fields)}")
    for k, v in list(overrides.items()):  # CLI/JSON/TOML scalars as the declared type, or a one-line error
        overrides[k] = coerce(v, fields[k].default, f"{name}.{k}")
    cfg = spec.config(**overrides)
    check_finite_config(cfg, name)
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def check_finite_config(cfg: Any, method: str) -> None:
    """Every float field of a method's config (and every float in a tuple field) must be finite.

    >>> check_finite_config(make_config("finetune"), "finetune")
    """
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ConfigError(f"{method}.{f.name} = {value} is not a finite number; give a finite value")


def outputs_finite(model: SplitModel, data: UnlearnData, n: int = 64) -> bool:
    """Whether ``model``'s outputs on the first ``n`` samples of the first set ``data`` holds are finite.

    Pass only the sets the method may read, so that the check never touches data the method may not see.

    Finite weights can still overflow in the forward pass (e.g. a huge one-shot step): such a model has
    diverged just as surely, and every metric downstream would fail on its NaNs.
    """
    first = next((d for d in (getattr(data, k) for k in INPUTS) if d is not None and len(d)), None)
    if first is None:
        return True
    was = model.training
    model.eval()
    with torch.no_grad():
        x, _ = first.batch(torch.arange(min(n, len(first)), device=first.device))
        ok = bool(torch.isfinite(model(x)).all())
    model.train(was)
    return ok


def run_method(name: str, model: SplitModel, data: UnlearnData, cfg: Any, ctx: RunContext) -> SplitModel:
    """Check inputs, then run method ``name`` on a *copy* of ``model`` with only the data it may read."""
    spec = METHODS.get(name)
    missing = [k for k in sorted(spec.needs) if getattr(data, k) is None or len(getattr(data, k)) == 0]
    if missing:
        raise ConfigError(
            f"method {name!r} needs the {' and '.join(missing)} set(s), which were not given "
            f"(or are empty); pass {', '.join(f'{k}=...' for k in missing)}"
        )
    if not isinstance(cfg, spec.config):
        raise ConfigError(f"method {name!r} takes a {spec.config.__name__}, got {type(cfg).__name__}")
    if data.num_classes is not None and data.num_classes != model.num_classes:
        raise DataError(
            f"the model has {model.num_classes} outputs but the data has {data.num_classes} classes"
        )
    for k in INPUTS:
        d = getattr(data, k)
        if d is not None and len(d) and (int(d.y.max()) >= model.num_classes or int(d.y.min()) < 0):
            raise DataError(f"{k} labels fall outside the model's {model.num_classes} classes")
    work = copy.deepcopy(model)
    readable = data.only(spec.may_read)
    try:
        out = spec.fn(work, readable, cfg, ctx)
    except DivergenceError as e:  # a shared loop names itself; the error names the method
        if e.method == name:
            raise
        raise DivergenceError(name, e.epoch, e.what) from None
    if not bool(weights_finite(out)):
        raise DivergenceError(name, ctx.info.get("epochs") or None, "weights")
    if not outputs_finite(out, readable):
        raise DivergenceError(name, ctx.info.get("epochs") or None, "outputs")
    if out.num_classes != model.num_classes:
        raise RuntimeError(f"{name} returned {out.num_classes} classes, expected {model.num_classes}")
    return out
