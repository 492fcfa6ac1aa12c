"""The benchmark's configuration: one frozen, JSON/TOML-loadable object (presets live in ``presets.py``)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sure_unlearn.data.splits import ScenarioConfig
from sure_unlearn.errors import ConfigError
from sure_unlearn.train import Recipe


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
            raise ConfigError(f"attacks.models must be ≥ 3 (with N = 2, ε_max = 0 and every score is 0), got {self.models}")
        if self.nonmembers < 1:
            raise ConfigError(f"attacks.nonmembers must be ≥ 1 never-seen target (1,000 put TPR at 1% FPR on 10 "
                              f"false-positive steps), got {self.nonmembers}")

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
    scenarios: dict[str, ScenarioConfig] = field(default_factory=lambda: {"random": ScenarioConfig("random")})
    methods: tuple[str, ...] = ("finetune", "sure")
    hparams: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-method overrides
    seeds: tuple[int, ...] = (0,)
    eval_batch_size: int = 512
    attacks: AttackConfig = field(default_factory=AttackConfig)

    def with_overrides(self, **changes: Any) -> BenchmarkConfig:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: BenchmarkConfig | None = None) -> BenchmarkConfig:
        """Build from a plain dict (a config file), on top of ``base`` (e.g. a preset)."""
        base = base or cls()
        known = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(d) - known - {"preset"})
        if bad:
            raise ConfigError(f"unknown config key(s) {bad}; known: {sorted(known)}")
        changes: dict[str, Any] = {}
        for k, v in d.items():
            if k == "preset":
                continue
            if k == "recipe":
                rfields = {f.name for f in dataclasses.fields(Recipe)}
                if set(v) - rfields:
                    raise ConfigError(f"unknown recipe key(s) {sorted(set(v) - rfields)}; known: {sorted(rfields)}")
                if "milestones" in v:
                    v = {**v, "milestones": tuple(v["milestones"])}
                v = dataclasses.replace(base.recipe, **v)
            elif k == "scenarios":
                v = {name: _scenario(name, s) for name, s in v.items()}
            elif k in ("methods", "seeds"):
                v = tuple(v)
            elif k == "attacks" and isinstance(v, dict):
                afields = {f.name for f in dataclasses.fields(AttackConfig)}
                if set(v) - afields:
                    raise ConfigError(f"unknown attacks key(s) {sorted(set(v) - afields)}; known: {sorted(afields)}")
                v = dataclasses.replace(base.attacks, **{**v, **({"methods": tuple(v["methods"])} if "methods" in v else {})})
            changes[k] = v
        return dataclasses.replace(base, **changes)


def _scenario(name: str, s: dict[str, Any] | ScenarioConfig) -> ScenarioConfig:
    if isinstance(s, ScenarioConfig):
        return s
    s = dict(s)
    if "classes" in s:
        s["classes"] = tuple(s["classes"])
    try:
        return ScenarioConfig(name=s.pop("name", name), **s)
    except TypeError as e:
        raise ConfigError(f"scenario {name}: {e}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A ``.json`` or ``.toml`` file as a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot parse {path}: {e}") from None
