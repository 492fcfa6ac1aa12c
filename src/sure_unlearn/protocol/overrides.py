"""Command-line text into configuration changes: comma-separated names and integers, ``--set`` values,
``--device``, and :class:`Overrides`, what the flags change on top of a preset and a config file
(:func:`sure_unlearn.protocol.config.resolve` applies them). Bad text is a one-line :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from sure_unlearn.data.splits import SCENARIOS, ScenarioConfig
from sure_unlearn.errors import ConfigError

if TYPE_CHECKING:
    from sure_unlearn.protocol.config import BenchmarkConfig

DEVICES = "auto, cpu, cuda, cuda:N (a GPU index) or mps"


def distinct(values: Sequence[Any], what: str, one: str) -> None:
    """Refuse an empty or repeating list of runs (``one`` names an element: seed, method, …)."""
    if not values:
        raise ConfigError(f"{what} is empty: give at least one {one}")
    repeated = sorted({v for v in values if list(values).count(v) > 1}, key=str)
    if repeated:
        raise ConfigError(
            f"{what} repeats {', '.join(map(str, repeated))}: each {one} is one run, give each once"
        )


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON where it parses (numbers, true/false, lists), the text itself otherwise."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_names(text: str, what: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    """Comma-separated names; empty only with ``allow_empty``, never repeated.

    >>> parse_names("finetune, sure", "--methods")
    ('finetune', 'sure')
    >>> parse_names("", "--methods")
    Traceback (most recent call last):
    sure_unlearn.errors.ConfigError: --methods is empty: give at least one name
    """
    names = tuple(t.strip() for t in str(text).split(",") if t.strip())
    if names or not allow_empty:
        distinct(names, what, "name")
    return names


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    """Comma-separated integers, at least one, none repeated.

    >>> parse_ints("0,1,2", "--seeds")
    (0, 1, 2)
    >>> parse_ints("a,b", "--seeds")
    Traceback (most recent call last):
    sure_unlearn.errors.ConfigError: --seeds: 'a' is not an integer; give comma-separated integers, e.g. --seeds 0,1,2
    """
    out = []
    for t in (t.strip() for t in str(text).split(",") if t.strip()):
        try:
            out.append(int(t))
        except ValueError:
            raise ConfigError(
                f"{what}: {t!r} is not an integer; give comma-separated integers, e.g. {what} 0,1,2"
            ) from None
    distinct(out, what, "value")
    return tuple(out)


def parse_sets(items: Sequence[str], default_method: str | None = None) -> dict[str, dict[str, Any]]:
    """``method.key=value`` into {method: {key: value}}; with ``default_method`` (the one method a command
    runs) ``key=value`` means that method's and any other method is refused.

    >>> parse_sets(["sure.alpha=3", "finetune.augment=false"])
    {'sure': {'alpha': 3}, 'finetune': {'augment': False}}
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects method.key=value, got {item!r}")
        lhs, value = item.split("=", 1)
        method, _, key = lhs.strip().rpartition(".")
        method = method or default_method or ""
        if not method or not key:
            raise ConfigError(
                f"--set {item!r}: name the method and the key, e.g. sure.{key or 'alpha'}={value}"
            )
        if default_method and method != default_method:
            raise ConfigError(
                f"--set {item!r} is for {method}, but the method run is {default_method}; drop it"
            )
        out.setdefault(method, {})[key] = parse_value(value.strip())
    return out


def scenario_like(cfg: BenchmarkConfig, name: str) -> ScenarioConfig:
    """Scenario ``name`` sized like the config's own scenarios: their ``n`` and forget class, and for
    ``confusion`` that class and the next one, so ``--scenario`` works on any preset's data.

    >>> from sure_unlearn.protocol.config import BenchmarkConfig
    >>> cfg = BenchmarkConfig(scenarios={"partial_class": ScenarioConfig("partial_class", n=20, cls=1)})
    >>> scenario_like(cfg, "random").n, scenario_like(cfg, "confusion").classes
    (20, (1, 2))
    """
    known = list(cfg.scenarios.values())
    n = next((sc.n for sc in known if sc.name in ("random", "partial_class") and sc.n), ScenarioConfig().n)
    cls = next((sc.cls for sc in known if sc.name in ("partial_class", "full_class")), ScenarioConfig().cls)
    nxt = int(cls) + 1 if isinstance(cls, int) or str(cls).isdigit() else cls
    if name == "confusion":
        return ScenarioConfig(
            name, n=None, fraction=0.1, classes=(cls, nxt) if nxt != cls else ScenarioConfig().classes
        )
    return ScenarioConfig(name, n=n, cls=cls)


@dataclass(frozen=True)
class Overrides:
    """What a command line changes on top of a preset and a config file; None keeps the config's value."""

    # keep these; a name the config lacks gets ScenarioConfig's defaults
    scenarios: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    seeds: tuple[int, ...] | None = None
    hparams: dict[str, dict[str, Any]] = field(default_factory=dict)  # merged key by key into the config's
    shadows: int | None = None
    attack_models: int | None = None
    attack_methods: tuple[str, ...] | None = None
    precision: str | None = None

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> Overrides:
        """From command-line text: ``scenario``, ``methods`` and ``attack_methods`` are comma-separated names,
        ``seeds`` comma-separated integers, ``set`` a list of ``METHOD.KEY=VALUE``; absent or None: keep."""

        def names(k: str, flag: str, allow_empty: bool = False) -> tuple[str, ...] | None:
            return None if flags.get(k) is None else parse_names(flags[k], flag, allow_empty=allow_empty)

        return cls(
            scenarios=names("scenario", "--scenario"),
            methods=names("methods", "--methods"),
            seeds=None if flags.get("seeds") is None else parse_ints(flags["seeds"], "--seeds"),
            hparams=parse_sets(flags.get("set") or []),
            shadows=flags.get("shadows"),
            attack_models=flags.get("attack_models"),
            attack_methods=names("attack_methods", "--attack-methods", allow_empty=True),
            precision=flags.get("precision"),
        )

    def apply(self, cfg: BenchmarkConfig) -> BenchmarkConfig:
        if self.scenarios is not None:
            for s in self.scenarios:
                if s not in cfg.scenarios:
                    SCENARIOS.get(s)  # unknown scenario names fail here
            cfg = cfg.with_overrides(
                scenarios={s: cfg.scenarios.get(s) or scenario_like(cfg, s) for s in self.scenarios}
            )
        a = cfg.attacks
        attacked = a.methods if self.attack_methods is None else self.attack_methods
        if self.attack_methods is None and self.methods is not None:  # --methods narrows the attacked set too
            attacked = tuple(m for m in attacked if m in self.methods)
        attacks = dataclasses.replace(
            a,
            shadows=a.shadows if self.shadows is None else self.shadows,
            models=a.models if self.attack_models is None else self.attack_models,
            methods=attacked,
        )
        hparams = {**cfg.hparams, **{m: {**cfg.hparams.get(m, {}), **kv} for m, kv in self.hparams.items()}}
        # --set wins over a scenario's own tuned values too, which sit on top of ``hparams``
        per_scenario = {
            sc: {**per, **{m: {**per[m], **kv} for m, kv in self.hparams.items() if m in per}}
            for sc, per in cfg.scenario_hparams.items()
        }
        return cfg.with_overrides(
            methods=self.methods,
            seeds=self.seeds,
            attacks=attacks,
            hparams=hparams,
            scenario_hparams=per_scenario,
            precision=self.precision,
        )


def parse_device(name: str) -> torch.device:
    """``--device``, checked against this machine: auto (CUDA if available), cpu, cuda, cuda:N or mps.

    >>> parse_device("cpu")
    device(type='cpu')
    >>> parse_device("gpu")
    Traceback (most recent call last):
    sure_unlearn.errors.ConfigError: unknown --device 'gpu'; choose auto, cpu, cuda, cuda:N (a GPU index) or mps
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown --device {name!r}; choose {DEVICES}") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown --device {name!r}; choose {DEVICES}")
    if dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count():
        raise ConfigError(
            f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s); use --device cpu"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps: the Apple GPU backend is not available here; use --device cpu")
    return dev


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` → (i, n) with 0 ≤ i < n: the i-th of n parts of a benchmark (``--shard``).

    >>> parse_shard("1/4")
    (1, 4)
    """
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: give i/n, e.g. 0/2 (the first of two parts)") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"--shard {text}: need 0 ≤ i < n, e.g. 0/{max(n, 2)} … {max(n, 2) - 1}/{max(n, 2)}")
    return i, n
