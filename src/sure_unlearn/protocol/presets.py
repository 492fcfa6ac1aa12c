"""Named benchmark configurations. Each is a plain :class:`BenchmarkConfig`.

* ``smoke``: synthetic data, an MLP, seconds: for tests.
* ``demo``: scikit-learn's digits (ships with a dependency) and a small CNN: the whole pipeline in about
  two minutes on two CPU cores. The embedded default of ``sure demo``.
* ``cpu``: real CIFAR-10 on a stratified 5,000-image training subset with a width-16 CIFAR ResNet-18,
  sized by measurement (see ``benchmarks/results/``) so one seed of one scenario with every method fits
  the CPU budget and the original overfits (train accuracy ≥ 98%).
* ``attacks``: the ``cpu`` preset with the per-example attacks (U-LiRA, representation LiRA, the ε-score)
  on FineTune and SURE.
* ``paper``: full CIFAR-10, width-64 ResNet-18, the OPTML recipe: for a GPU.

``sure list presets`` lists them (the registry, :data:`~sure_unlearn.protocol.config.PRESETS`).
"""

from __future__ import annotations

from pathlib import Path

from sure_unlearn.data.splits import ScenarioConfig
from sure_unlearn.errors import ConfigError
from sure_unlearn.protocol.config import PRESETS, AttackConfig, BenchmarkConfig
from sure_unlearn.train import Recipe


def all_methods() -> tuple[str, ...]:
    """Every registered method (the oracle ``retrain`` is always run, as the reference)."""
    from sure_unlearn.methods import METHODS

    return tuple(m for m in METHODS.available() if m != "retrain")


def budget(epochs: int, **extra: dict[str, object]) -> dict[str, dict[str, object]]:
    """The same epoch budget for every iterative method (one-shot methods have no epochs; EU-k keeps the
    original's budget by definition), plus per-method extras."""
    from dataclasses import fields

    from sure_unlearn.methods import METHODS

    out: dict[str, dict[str, object]] = {}
    for m in all_methods():
        names = {f.name for f in fields(METHODS.get(m).config)}
        if "epochs" in names and m != "eu_k":
            out[m] = {"epochs": epochs}
    for m, kv in extra.items():
        out[m] = {**out.get(m, {}), **kv}
    return out


def tuned(name: str, hparams: dict[str, dict[str, object]], path: Path | None = None) -> dict[str, dict[str, object]]:
    """``hparams`` with the values ``sure tune --preset <name>`` found on top, when the study's result is
    committed as ``sure_unlearn/tuned/<name>.json`` (a ``tuned_hparams.json`` written by ``sure tune``).

    Only *searched* values are taken (each method's declared space): the budget and fixed options stay
    the preset's, so editing the preset is never silently undone by a stale file. A method the file
    names that no longer exists, or a value outside today's space, is an error, not a quiet default.
    """
    import json
    from importlib import resources

    from sure_unlearn.methods import METHODS
    from sure_unlearn.tune.space import contains

    src = path if path is not None else resources.files("sure_unlearn") / "tuned" / f"{name}.json"
    if not src.is_file():
        return hparams
    out = {m: dict(kv) for m, kv in hparams.items()}
    for m, kv in json.loads(src.read_text())["hparams"].items():
        space = METHODS.get(m).space  # unknown method: a RegistryError naming the known ones
        searched = {k: v for k, v in kv.items() if k in space}
        bad = {k: v for k, v in searched.items() if not contains(space[k], v)}
        if bad:
            raise ConfigError(f"{src}: tuned {m} values {bad} are outside the search space; re-run sure tune")
        out[m] = {**out.get(m, {}), **searched}
    return out


def _scenarios(n: int, cls: int | str, classes: tuple[int | str, int | str]) -> dict[str, ScenarioConfig]:
    return {
        "partial_class": ScenarioConfig("partial_class", n=n, cls=cls),
        "random": ScenarioConfig("random", n=n),
        "full_class": ScenarioConfig("full_class", cls=cls),
        "confusion": ScenarioConfig("confusion", fraction=0.1, classes=classes),
    }


@PRESETS.register("smoke")
def smoke() -> BenchmarkConfig:
    """Synthetic data, an MLP, every method for one epoch: seconds, for tests."""
    return BenchmarkConfig(
        name="smoke",
        dataset="synthetic",
        dataset_kwargs={"n_train": 400, "n_test": 200, "num_classes": 4, "image_size": 8, "seed": 0},
        model="mlp",
        model_kwargs={"hidden": 64},
        recipe=Recipe(epochs=4, lr=0.05, batch_size=64, augment=False),
        scenarios={"partial_class": ScenarioConfig("partial_class", n=20, cls=1)},
        methods=all_methods(),
        hparams=budget(1, sure={"batch_size": 64, "domain_batch_size": 16}, influence={"num_samples": 32}),
        seeds=(0,),
    )


@PRESETS.register("demo")
def demo() -> BenchmarkConfig:
    """Scikit-learn's digits, a small CNN, every method: the embedded default of `sure demo`."""
    return BenchmarkConfig(
        name="demo",
        dataset="digits",
        model="small_cnn",
        model_kwargs={"width": 32},
        recipe=Recipe(epochs=25, lr=0.05, batch_size=64),
        scenarios={k: v for k, v in _scenarios(40, 3, (1, 7)).items() if k in ("partial_class", "random")},
        methods=all_methods(),
        hparams=budget(3, sure={"batch_size": 64, "domain_batch_size": 32}, finetune={"batch_size": 64}),
        seeds=(0,),
    )


@PRESETS.register("cpu")
def cpu() -> BenchmarkConfig:
    """CIFAR-10 (5,000-image subset), width-16 ResNet-18, every method: the CPU benchmark."""
    return BenchmarkConfig(
        name="cpu",
        dataset="cifar10",
        model="resnet18",
        model_kwargs={"width": 16},
        # measured (benchmarks/results/size_cpu_preset.jsonl): without augmentation 12 epochs reach 99.98%
        # train / 53.7% test accuracy — clear overfitting, as membership inference needs; with augmentation
        # 15 epochs reach only 71% train accuracy
        recipe=Recipe(epochs=12, lr=0.1, batch_size=128, schedule="onecycle", augment=False),
        train_subset=5000,
        test_subset=2000,
        scenarios={k: v for k, v in _scenarios(100, "cat", ("cat", "dog")).items() if k in ("partial_class", "random")},
        methods=all_methods(),
        # SURE: the cost options measured in benchmarks/results/speed_sure.jsonl: a frozen trunk
        # through layer3 (cached activations), half the retain set per epoch, the domain batch sized to
        # visit the forget set once per epoch — rrt ≈ 0.05 at a smaller gap to the oracle than the defaults.
        # On top, every method's searched values from tuned/cpu.json (the study: benchmarks/results/tune-cpu/)
        hparams=tuned("cpu", budget(3, sure={"freeze_blocks": 4, "retain_fraction": 0.5, "domain_batch_size": 0})),  # 25% of the original's epochs for every iterative method (SURE's paper: 20 of 150)
        seeds=(0,),
    )


@PRESETS.register("attacks")
def attacks() -> BenchmarkConfig:
    """The ``cpu`` preset's data, model and recipe with per-example attacks (U-LiRA, representation LiRA,
    the ε-score) on FineTune and SURE: partial_class, seeds 0 and 1, 6 shadow models and 4 models per side
    for the ε-score. Costs ≈ 12 extra trainings of the original per seed (shadows and retrained models,
    cached and shared) plus 9 unlearning runs per attacked method."""
    base = cpu()
    methods = ("finetune", "sure")
    return base.with_overrides(
        name="attacks", methods=methods, seeds=(0, 1),
        scenarios={"partial_class": base.scenarios["partial_class"]},
        hparams={m: base.hparams[m] for m in methods},
        attacks=AttackConfig(shadows=6, models=4, methods=methods),
    )


@PRESETS.register("paper")
def paper() -> BenchmarkConfig:
    """Full CIFAR-10, width-64 ResNet-18, 150 epochs, 3 seeds, every method: for a GPU."""
    return BenchmarkConfig(
        name="paper",
        dataset="cifar10",
        model="resnet18",
        model_kwargs={"width": 64},
        recipe=Recipe(epochs=150, lr=0.1, batch_size=256, schedule="cosine"),
        scenarios=_scenarios(100, "cat", ("cat", "dog")),
        methods=all_methods(),
        hparams={},
        seeds=(0, 1, 2),
    )
