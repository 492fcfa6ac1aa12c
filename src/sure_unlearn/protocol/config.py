"""The benchmark's configuration: one frozen, JSON/TOML-loadable object, checked before any work.

:func:`resolve` is the one way a configuration is built from a preset (``presets.py`` fills
:data:`PRESETS`), a config file and command-line :class:`~sure_unlearn.protocol.overrides.Overrides`;
:meth:`BenchmarkConfig.validate` and :meth:`BenchmarkConfig.check_data` refuse, in one line naming the
value and the fix, anything that would fail or mean nothing once models are trained.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sure_unlearn.data.splits import SCENARIOS, ScenarioConfig, Split, make_split
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.methods import METHODS, make_config
from sure_unlearn.methods.base import coerce
from sure_unlearn.metrics.core import MIN_PER_SIDE
from sure_unlearn.models import MODELS
from sure_unlearn.protocol.layout import ORACLE, ORIGINAL
from sure_unlearn.protocol.overrides import Overrides, distinct
from sure_unlearn.registry import Registry
from sure_unlearn.train import Engine, Recipe

if TYPE_CHECKING:
    from sure_unlearn.data.types import DatasetBundle

# Named configurations; ``presets.py`` registers them (importing ``sure_unlearn.protocol`` loads it).
PRESETS: Registry[Callable[[], BenchmarkConfig]] = Registry("preset")
REFERENCE_RUNS = (ORIGINAL, ORACLE)  # always attacked when attacks are on


@dataclass(frozen=True)
class AttackConfig:
    """Per-example attacks (U-LiRA, RMIA, both on outputs and representations, and the NeurIPS 2023
    ε-score); off when ``shadows`` is 0.

    Their cost is models: ``shadows`` shadow originals (shared by every attacked method and cached), plus
    ``shadows`` unlearning runs per attacked method inside the shadow pipeline; the ε-score adds ``models``
    retrained oracles (cached, shared) and ``models`` − 1 extra unlearning runs per method. Each shadow
    trains on, then unlearns, half of the targets: D_f and the ``nonmembers`` never-seen examples.
    """

    shadows: int = 0  # M shadow originals (even, ≥ 4: each target is IN exactly M/2 of them); 0 = off
    models: int = 4  # N unlearned and N retrained models for the ε-score (≥ 3: ε_max = ⌈ln(N − 1)⌉)
    methods: tuple[str, ...] = ()  # which methods are attacked (original and the oracle always are)
    # never-seen targets (of D_f's classes, from data no model trains on; fewer where the data has fewer):
    # n of them resolve FPRs down to 1/n, so 1,000 put TPR at 1% FPR on 10 false-positive steps
    nonmembers: int = 1000

    def validate(self) -> None:
        if self.shadows and (self.shadows < 4 or self.shadows % 2):
            raise ConfigError(f"attacks.shadows must be 0 (off) or an even number ≥ 4, got {self.shadows}")
        if self.shadows and self.models < 3:
            raise ConfigError(
                f"attacks.models must be ≥ 3 (with N = 2, ε_max = 0 and every score is 0), got {self.models}"
            )
        if self.nonmembers < 1:
            raise ConfigError(
                f"attacks.nonmembers must be ≥ 1 never-seen target (1,000 put TPR at 1% FPR on 10 "
                f"false-positive steps), got {self.nonmembers}"
            )

    @property
    def enabled(self) -> bool:
        return self.shadows > 0


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything a benchmark run depends on. ``scenarios`` maps a scenario name to its settings."""

    name: str = "custom"
    dataset: str = "digits"
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    model: str = "small_cnn"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    recipe: Recipe = field(default_factory=Recipe)
    train_subset: int | None = None  # stratified subset of the official train split (None: all)
    test_subset: int | None = None
    holdout_fraction: float = 0.1
    pool_size: int = 1000  # never-used held-out samples of D_f's distribution per split (SURE's heldout_pool)
    scenarios: dict[str, ScenarioConfig] = field(default_factory=lambda: {"random": ScenarioConfig("random")})
    methods: tuple[str, ...] = ("finetune", "sure")
    hparams: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-method overrides
    # per-scenario overrides on top of ``hparams``: {scenario: {method: {field: value}}} (tuned per scenario)
    scenario_hparams: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    eval_batch_size: int = 512
    attacks: AttackConfig = field(default_factory=AttackConfig)
    # training arithmetic of every model the benchmark trains or unlearns (evaluation is always fp32):
    # "auto" = the engine's choice (bf16 autocast on CUDA, fp32 elsewhere), "fp32", or "bf16" (autocast on any
    # device: faster training on CPUs with bf16 instructions, benchmarks/results/README.md)
    precision: str = "auto"

    def hparams_for(self, scenario: str, method: str) -> dict[str, Any]:
        """``method``'s overrides in ``scenario``: its ``hparams``, then the scenario's own on top."""
        return {**self.hparams.get(method, {}), **self.scenario_hparams.get(scenario, {}).get(method, {})}

    @property
    def engine(self) -> Engine | None:
        """The training engine ``precision`` asks for (None: automatic)."""
        return Engine.of_precision(self.precision)

    def identity(self) -> dict[str, Any]:
        """What, besides data, split and seed, determines a trained model: the dataset, the model, the recipe
        and, when set, the precision (absent when "auto", so that caches made before it existed still hit)."""
        ident = dict(
            dataset=self.dataset,
            dataset_kwargs=self.dataset_kwargs,
            model=self.model,
            model_kwargs=self.model_kwargs,
            recipe=self.recipe,
        )
        return ident if self.precision == "auto" else {**ident, "precision": self.precision}

    def with_overrides(self, **changes: Any) -> BenchmarkConfig:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base: BenchmarkConfig | None = None) -> BenchmarkConfig:
        """Build from a plain dict (a config file), on top of ``base`` (e.g. a preset); every value is
        converted to its field's type or refused with the field's name. ``recipe`` and ``attacks`` change
        only the fields they name, ``hparams`` only the keys it names; other fields are replaced whole."""
        base = base or cls()
        if not isinstance(d, Mapping):
            raise ConfigError(f"a config must be a table of fields, got {d!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(d) - known - {"preset"})
        if bad:
            raise ConfigError(f"unknown config key(s) {bad}; known: {sorted(known)}")
        changes = {k: _read_field(k, v, getattr(base, k)) for k, v in d.items() if k != "preset"}
        return dataclasses.replace(base, **changes)

    def validate(self) -> None:
        """Every check that needs no data, before any work: names, sets, ranges, each method's
        hyperparameters (:func:`method_config`) and forget sets the metrics can use.

        >>> BenchmarkConfig(seeds=(0, 0)).validate()
        Traceback (most recent call last):
        sure_unlearn.errors.ConfigError: seeds repeats 0: each seed is one run, give each once
        """
        distinct(self.methods, "methods", "method")
        for m in self.methods:
            METHODS.get(m)  # unknown names fail with the list of known ones
        if not self.scenarios:
            raise ConfigError("scenarios is empty: give at least one, e.g. random or partial_class")
        for sc in self.scenarios.values():
            SCENARIOS.get(sc.name)
        try:  # the model's options, as its factory takes them (the dataset's are checked when it loads)
            inspect.signature(MODELS.get(self.model)).bind(None, **self.model_kwargs)
        except TypeError as e:
            raise ConfigError(
                f"model_kwargs {self.model_kwargs} do not fit model {self.model!r}: {e}"
            ) from None
        distinct(self.seeds, "seeds", "seed")
        _check_recipe(self.recipe)
        Engine.of_precision(self.precision)  # an unknown name fails here
        if not 0 < self.holdout_fraction < 1:
            raise ConfigError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction}")
        for k in ("train_subset", "test_subset", "eval_batch_size"):
            v = getattr(self, k)
            if v is not None and v < 1:
                raise ConfigError(
                    f"{k} must be ≥ 1{' (or absent: all)' if k != 'eval_batch_size' else ''}, got {v}"
                )
        unknown = sorted(set(self.hparams) - set(METHODS.available()))
        if unknown:
            raise ConfigError(
                f"hyperparameters given for unknown method(s) {unknown}; see `sure list methods`"
            )
        for m in dict.fromkeys([*self.methods, *self.hparams]):
            method_config(m, self.hparams.get(m))
        for name, per in self.scenario_hparams.items():
            for m in per:
                METHODS.get(m)
                method_config(m, self.hparams_for(name, m))
        self.attacks.validate()
        not_run = sorted(set(self.attacks.methods) - set(self.methods) - set(REFERENCE_RUNS))
        if not_run:
            raise ConfigError(
                f"attacks.methods names {not_run}, which the benchmark does not run; "
                "add them to methods or drop them from attacks.methods"
            )
        if self.test_subset is not None and self.test_subset < MIN_PER_SIDE:
            raise ConfigError(
                f"test_subset = {self.test_subset} is too small: the membership metrics compare "
                f"≥ {MIN_PER_SIDE} unseen test samples with members; set test_subset ≥ {MIN_PER_SIDE}"
            )
        for key, sc in self.scenarios.items():
            _check_scenario(key, sc, self.forget_size(sc))

    def forget_size(self, sc: ScenarioConfig) -> int | None:
        """The forget set's size where the config alone decides it (``n`` samples, or a ``fraction`` of a
        ``train_subset`` for ``random``); None where it depends on the data (class sizes)."""
        if sc.name in ("random", "partial_class") and sc.fraction is None:
            return sc.n
        if sc.name == "random" and sc.fraction is not None and self.train_subset is not None:
            pool = self.train_subset - round(self.holdout_fraction * self.train_subset)
            return round(sc.fraction * pool)
        return None

    def check_data(self, data: DatasetBundle) -> None:
        """The checks that need the dataset, before any training: every (scenario, seed) split is drawn
        (index arithmetic, milliseconds) and must give the metrics, and the per-example attacks when they
        are on, at least ``MIN_PER_SIDE`` samples on each side (``metrics/core.py``)."""
        for key, sc in self.scenarios.items():
            for seed in self.seeds:
                split = make_split(
                    data.train.y,
                    data.test.y,
                    data.classes,
                    sc,
                    seed,
                    holdout_fraction=self.holdout_fraction,
                    train_subset=self.train_subset,
                    test_subset=self.test_subset,
                    pool_size=self.pool_size,
                )
                _check_split(
                    f"scenario {key}, seed {seed}", split, data.train.y, data.test.y, self.attacks.enabled
                )


def method_config(name: str, hparams: Mapping[str, Any] | None = None) -> Any:
    """``name``'s config from ``hparams`` (types converted, the method's own checks), with the benchmark's
    ranges on top: ``epochs`` ≥ 1 and finite, positive learning rates (``lr`` and every ``*_lr``).

    >>> method_config("finetune", {"lr": "0.05"}).lr
    0.05
    >>> method_config("finetune", {"epochs": -1})
    Traceback (most recent call last):
    sure_unlearn.errors.ConfigError: finetune.epochs = -1: a benchmark run trains for at least one epoch; set finetune.epochs ≥ 1
    """
    cfg = make_config(name, dict(hparams or {}))
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if f.name == "epochs" and v < 1:
            raise ConfigError(
                f"{name}.epochs = {v}: a benchmark run trains for at least one epoch; set {name}.epochs ≥ 1"
            )
        if (f.name == "lr" or f.name.endswith("_lr")) and not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{name}.{f.name} = {v}: a learning rate must be a finite number > 0")
    return cfg


# ------------------------------------------------------------------------------------ reading values
def _read_field(key: str, value: Any, current: Any) -> Any:
    """A config file's value for top-level field ``key``, as its type (``current`` is the base's value)."""
    if key == "recipe":
        return _replace(current, value, "recipe")
    if key == "attacks":
        return _replace(current, value, "attacks")
    if key == "scenarios":
        return {str(k): _scenario(str(k), s) for k, s in _table(value, "scenarios").items()}
    if key == "methods":
        return tuple(_str(m, f"methods[{i}]") for i, m in enumerate(_list(value, "methods", "names")))
    if key == "seeds":
        return tuple(coerce(s, 0, f"seeds[{i}]") for i, s in enumerate(_list(value, "seeds", "integers")))
    if key == "hparams":  # merged key by key into the base's, as --set is: a file need not repeat a preset
        given = {str(m): dict(_table(kv, f"hparams.{m}")) for m, kv in _table(value, "hparams").items()}
        return {**current, **{m: {**current.get(m, {}), **kv} for m, kv in given.items()}}
    if key == "scenario_hparams":  # {scenario: {method: {field: value}}}, merged the same way
        out = {sc: {m: dict(kv) for m, kv in per.items()} for sc, per in current.items()}
        for sc, per in _table(value, "scenario_hparams").items():
            for m, kv in _table(per, f"scenario_hparams.{sc}").items():
                out.setdefault(str(sc), {})[str(m)] = {
                    **out.get(str(sc), {}).get(str(m), {}),
                    **_table(kv, f"scenario_hparams.{sc}.{m}"),
                }
        return out
    if key in ("dataset_kwargs", "model_kwargs"):
        return dict(_table(value, key))
    if key in ("train_subset", "test_subset"):
        return None if value is None else coerce(value, 0, key)
    return coerce(value, current, key)


def _replace(obj: Any, value: Any, where: str) -> Any:
    """The dataclass ``obj`` with the fields of table ``value`` (each converted to its type)."""
    if isinstance(value, type(obj)):
        return value
    names = [f.name for f in dataclasses.fields(obj)]
    bad = sorted(set(_table(value, where)) - set(names))
    if bad:
        raise ConfigError(f"unknown {where} key(s) {bad}; known: {sorted(names)}")
    return dataclasses.replace(
        obj, **{k: coerce(v, getattr(obj, k), f"{where}.{k}") for k, v in value.items()}
    )


def _scenario(key: str, s: Any) -> ScenarioConfig:
    if isinstance(s, ScenarioConfig):
        return s
    where = f"scenarios.{key}"
    s = dict(_table(s, where))
    bad = sorted(set(s) - {f.name for f in dataclasses.fields(ScenarioConfig)})
    if bad:
        raise ConfigError(f"unknown {where} key(s) {bad}; known: name, n, fraction, cls, classes")
    out = ScenarioConfig(name=_str(s.pop("name", key), f"{where}.name"))
    for k, v in s.items():
        if k == "cls":  # a class is an index or a name
            v = _class_ref(v, f"{where}.cls")
        elif k == "classes":
            v = tuple(_class_ref(c, f"{where}.classes") for c in _list(v, f"{where}.classes", "two classes"))
            if len(v) != 2:
                raise ConfigError(f"{where}.classes must name two classes, e.g. [3, 5]; got {list(v)}")
        elif v is not None:  # n and fraction; None: not used
            v = coerce(v, 0.5 if k == "fraction" else 0, f"{where}.{k}")
        out = dataclasses.replace(out, **{k: v})
    return out


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table (key = value pairs), got {value!r}")
    return value


def _list(value: Any, where: str, of: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where} must be a list of {of}, e.g. [0, 1, 2]; got {value!r}")
    return list(value)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a name (a string), got {value!r}")
    return value


def _class_ref(value: Any, where: str) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{where} must be a class index or name, got {value!r}")
    return value


# ------------------------------------------------------------------------------------ checking values
def _check_recipe(r: Recipe) -> None:
    if r.epochs < 1:
        raise ConfigError(
            f"recipe.epochs = {r.epochs}: the original trains for at least one epoch; set recipe.epochs ≥ 1"
        )
    if not (math.isfinite(r.lr) and r.lr > 0):
        raise ConfigError(f"recipe.lr = {r.lr}: a learning rate must be a finite number > 0")
    if r.batch_size < 1:
        raise ConfigError(f"recipe.batch_size = {r.batch_size}: give a batch size ≥ 1")
    r.validate()


def _check_scenario(key: str, sc: ScenarioConfig, size: int | None) -> None:
    where = f"scenarios.{key}"
    if sc.fraction is not None and not 0 < sc.fraction <= 1:
        raise ConfigError(f"{where}.fraction = {sc.fraction}: give a share of the training set in (0, 1]")
    if size is not None and size < MIN_PER_SIDE:
        what = f"n = {sc.n}" if sc.fraction is None else f"fraction = {sc.fraction} ({size} samples)"
        raise ConfigError(
            f"{where}.{what} is too small: the membership metrics compare at least {MIN_PER_SIDE} "
            f"forget samples with {MIN_PER_SIDE} unseen ones; ask for ≥ {MIN_PER_SIDE} samples"
        )


def _check_split(where: str, split: Split, train_y: np.ndarray, test_y: np.ndarray, attacks: bool) -> None:
    """Enough samples on each side of every attack the benchmark will run on this split."""
    forget, more_test = (
        "ask for a larger forget set (n or fraction)",
        "use a larger test_subset (or none: all)",
    )
    fc = np.asarray(split.forget_classes, dtype=np.int64)
    sides = [
        ("forget set", len(split.forget), forget),
        ("retain set", len(split.retain), "ask for a smaller forget set (n or fraction)"),
        ("test split", len(split.test), more_test),
    ]
    if len(fc):
        sides.append(
            (
                "test split's share of the forget classes",
                int(np.isin(test_y[split.test], fc).sum()),
                more_test,
            )
        )
    # each forget sample is paired with a never-seen test sample of its class (attacks/pipeline.py)
    if attacks:
        fy = train_y[split.forget]
        pairs = sum(min(int((fy == c).sum()), int((test_y == c).sum())) for c in np.unique(fy))
        sides.append(("per-example attacks' forget/unseen pairs", pairs, forget))
    for side, n, fix in sides:
        if n < MIN_PER_SIDE:
            raise DataError(
                f"{where}: the {side} holds {n} samples, fewer than the {MIN_PER_SIDE} per side the "
                f"membership attacks need (metrics/core.py MIN_PER_SIDE); {fix}"
            )


def resolve(
    preset: str | None = None,
    file: str | Path | None = None,
    overrides: Overrides | None = None,
    *,
    default: str | None = None,
) -> BenchmarkConfig:
    """The configuration a run uses, and the one way the command line, ``sure train`` and DDP training
    build one: the preset ``preset`` (else the file's ``preset`` key, else ``default``), the fields of the
    ``.json``/``.toml`` ``file`` on top, then ``overrides``; validated (:meth:`BenchmarkConfig.validate`).

    >>> cfg = resolve("smoke", overrides=Overrides(methods=("finetune",), seeds=(1, 2)))
    >>> cfg.name, cfg.methods, cfg.seeds
    ('smoke', ('finetune',), (1, 2))
    """
    fields = read_config_file(file) if file else {}
    name = preset or fields.get("preset") or default
    if name is None and not fields:
        raise ConfigError(f"choose a preset ({', '.join(PRESETS.available())}) or give a config file")
    base = PRESETS.get(_str(name, "preset"))() if name is not None else None
    cfg = (overrides or Overrides()).apply(BenchmarkConfig.from_dict(fields, base))
    cfg.validate()
    return cfg


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A ``.json`` or ``.toml`` file as a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        d = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot parse {path}: {e}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path} must hold a table of config fields, got {type(d).__name__}")
    return d
