"""Named benchmark configurations (SPEC §10). Each is a plain :class:`BenchmarkConfig`.

* ``smoke``: synthetic data, an MLP, seconds: for tests.
* ``demo``: scikit-learn's digits (ships with a dependency) and a small CNN: the whole pipeline in about
  two minutes on two CPU cores. The embedded default of ``sure demo``.
* ``cpu``: real CIFAR-10 on a stratified 5,000-image training subset with a width-16 CIFAR ResNet-18,
  sized by measurement (see ``benchmarks/results/``) so one seed of one scenario with every method fits
  the CPU budget and the original overfits (train accuracy ≥ 98%).
* ``paper``: full CIFAR-10, width-64 ResNet-18, the OPTML recipe: for a GPU.
"""

from __future__ import annotations

from collections.abc import Callable

from sure_unlearn.config import BenchmarkConfig
from sure_unlearn.registry import Registry
from sure_unlearn.splits import ScenarioConfig
from sure_unlearn.train import Recipe

PRESETS: Registry[Callable[[], BenchmarkConfig]] = Registry("preset")


def _scenarios(n: int, cls: int | str, classes: tuple[int | str, int | str]) -> dict[str, ScenarioConfig]:
    return {
        "partial_class": ScenarioConfig("partial_class", n=n, cls=cls),
        "random": ScenarioConfig("random", n=n),
        "full_class": ScenarioConfig("full_class", cls=cls),
        "confusion": ScenarioConfig("confusion", fraction=0.1, classes=classes),
    }


@PRESETS.register("smoke")
def smoke() -> BenchmarkConfig:
    return BenchmarkConfig(
        name="smoke",
        dataset="synthetic",
        dataset_kwargs={"n_train": 400, "n_test": 200, "num_classes": 4, "image_size": 8, "seed": 0},
        model="mlp",
        model_kwargs={"hidden": 64},
        recipe=Recipe(epochs=4, lr=0.05, batch_size=64, augment=False),
        scenarios={"partial_class": ScenarioConfig("partial_class", n=20, cls=1)},
        methods=("finetune", "sure"),
        hparams={"finetune": {"epochs": 2}, "sure": {"epochs": 2, "batch_size": 64, "domain_batch_size": 16}},
        seeds=(0,),
    )


@PRESETS.register("demo")
def demo() -> BenchmarkConfig:
    return BenchmarkConfig(
        name="demo",
        dataset="digits",
        model="small_cnn",
        model_kwargs={"width": 32},
        recipe=Recipe(epochs=40, lr=0.05, batch_size=64),
        scenarios={k: v for k, v in _scenarios(40, 3, (1, 7)).items() if k in ("partial_class", "random")},
        methods=("finetune", "sure"),
        hparams={"finetune": {"epochs": 5, "batch_size": 64}, "sure": {"epochs": 5, "batch_size": 64, "domain_batch_size": 32}},
        seeds=(0,),
    )


@PRESETS.register("cpu")
def cpu() -> BenchmarkConfig:
    return BenchmarkConfig(
        name="cpu",
        dataset="cifar10",
        model="resnet18",
        model_kwargs={"width": 16},
        recipe=Recipe(epochs=30, lr=0.1, batch_size=128, schedule="onecycle"),
        train_subset=5000,
        test_subset=2000,
        scenarios={k: v for k, v in _scenarios(100, "cat", ("cat", "dog")).items() if k in ("partial_class", "random")},
        methods=("finetune", "sure"),
        hparams={"finetune": {"epochs": 5}, "sure": {"epochs": 5}},
        seeds=(0,),
    )


@PRESETS.register("paper")
def paper() -> BenchmarkConfig:
    return BenchmarkConfig(
        name="paper",
        dataset="cifar10",
        model="resnet18",
        model_kwargs={"width": 64},
        recipe=Recipe(epochs=150, lr=0.1, batch_size=256, schedule="cosine"),
        scenarios=_scenarios(100, "cat", ("cat", "dog")),
        methods=("finetune", "sure"),
        hparams={},
        seeds=(0, 1, 2),
    )
