"""Named benchmark configurations. Each is a plain :class:`BenchmarkConfig`.

* ``smoke``: synthetic data, an MLP, seconds: for tests.
* ``demo``: scikit-learn's digits (ships with a dependency) and a small CNN: the whole pipeline in about
  two minutes on two CPU cores. The embedded default of ``sure demo``.
* ``cpu``: real CIFAR-10 on a stratified 5,000-image training subset with a width-16 CIFAR ResNet-18,
  sized by measurement (see ``benchmarks/results/``) so one seed of one scenario with every method fits
  the CPU budget and the original overfits (train accuracy ≥ 98%).
* ``attacks``: the ``cpu`` preset with the per-example attacks (U-LiRA, RMIA, their representation
  analogues, the ε-score) on every method, partial_class and random, three seeds.
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
    """The same epoch budget for every iterative method (one-shot methods have no epochs; a method
    registered with ``epoch_budget=False``, EU-k, keeps the original's budget by definition), plus
    per-method extras."""
    from dataclasses import fields

    from sure_unlearn.methods import METHODS

    out: dict[str, dict[str, object]] = {}
    for m in all_methods():
        spec = METHODS.get(m)
        if spec.epoch_budget and "epochs" in {f.name for f in fields(spec.config)}:
            out[m] = {"epochs": epochs}
    for m, kv in extra.items():
        out[m] = {**out.get(m, {}), **kv}
    return out


def tuned(
    name: str, path: Path | None = None
) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, dict[str, object]]]]:
    """The values ``sure tune --preset <name>`` found, when its result is committed as
    ``sure_unlearn/tuned/<name>.json`` (the ``tuned_hparams.json`` that ``sure tune`` writes): ``(hparams,
    scenario_hparams)``, the first from a joint search (``{"hparams": {method: values}}``), the second from
    a per-scenario one (``{"scenario_hparams": {scenario: {method: values}}}``); empty without a file.

    Only *searched* values are taken (each method's declared space, and ``epochs``, which the search may
    vary up to the preset's budget, for the methods under that budget): the fixed options stay the
    preset's, so editing the preset is never silently undone by a stale file. A method the file names that
    no longer exists, or a value outside today's space, is an error, not a quiet default.
    """
    import json
    from importlib import resources

    from sure_unlearn.methods import METHODS
    from sure_unlearn.space import contains

    src = path if path is not None else resources.files("sure_unlearn") / "tuned" / f"{name}.json"
    if not src.is_file():
        return {}, {}

    def searched(m: str, kv: dict[str, object]) -> dict[str, object]:
        spec = METHODS.get(m)  # unknown method: a RegistryError naming the known ones
        space = spec.space
        out = {k: v for k, v in kv.items() if k in space or (k == "epochs" and spec.epoch_budget)}
        bad = {k: v for k, v in out.items() if k in space and not contains(space[k], v)}
        bad |= {k: v for k, v in out.items() if k == "epochs" and not (isinstance(v, int) and v >= 1)}
        if bad:
            raise ConfigError(f"{src}: tuned {m} values {bad} are outside the search space; re-run sure tune")
        return out

    data = json.loads(src.read_text())
    flat = {m: searched(m, kv) for m, kv in data.get("hparams", {}).items()}
    per = {
        sc: {m: searched(m, kv) for m, kv in ms.items()}
        for sc, ms in data.get("scenario_hparams", {}).items()
    }
    return flat, per


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
        # 120 test images per class: ≥ 100 never-seen attack targets of a class, so TPR at 1% FPR resolves
        dataset_kwargs={"n_train": 400, "n_test": 480, "num_classes": 4, "image_size": 8, "seed": 0},
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
    """CIFAR-10 (5,000-image subset), width-16 ResNet-18, every method, the four scenarios: the CPU benchmark."""
    # 25% of the original's epochs for every iterative method (SURE's paper: 20 of 150). SURE: the cost
    # options measured in benchmarks/results/speed_sure.jsonl: a frozen trunk through layer3 (cached
    # activations), half the retain set per epoch, the domain batch sized to visit the forget set once per
    # epoch. On top, every method's searched values from tuned/cpu.json (the study: benchmarks/results/).
    flat, per_scenario = tuned("cpu")
    base = budget(3, sure={"freeze_blocks": 4, "retain_fraction": 0.5, "domain_batch_size": 0})
    hparams = {m: {**base.get(m, {}), **flat.get(m, {})} for m in dict.fromkeys([*base, *flat])}
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
        scenarios=_scenarios(100, "cat", ("cat", "dog")),
        methods=all_methods(),
        hparams=hparams,
        scenario_hparams=per_scenario,
        seeds=(0,),
    )


@PRESETS.register("attacks")
def attacks() -> BenchmarkConfig:
    """The ``cpu`` preset with per-example attacks (U-LiRA, RMIA, their representation analogues, the
    ε-score) on every method with its tuned values: partial_class and random, seeds 0–2, 6 shadow models
    and 8 models per side for the ε-score (ε takes 9 values). Costs 6 + 8 extra trainings of the original
    per scenario and seed (shadow and retrained models, cached and shared), plus 6 + 7 unlearning runs per
    attacked method: with 16 methods ≈ 1,300 unlearning runs in all, GPU work (for a CPU, narrow it with
    ``--attack-methods`` and ``--seeds``)."""
    base = cpu()
    return base.with_overrides(
        name="attacks",
        seeds=(0, 1, 2),
        scenarios={k: base.scenarios[k] for k in ("partial_class", "random")},
        attacks=AttackConfig(shadows=6, models=8, methods=base.methods),
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
