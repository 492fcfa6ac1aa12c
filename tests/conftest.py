"""Shared fixtures: a tiny learnable image problem and a model trained on it (seconds on a CPU)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from sure_unlearn.data.types import Augment, ImageArrays, LabeledData
from sure_unlearn.methods import UnlearnData
from sure_unlearn.models import ModelSpec, build_model
from sure_unlearn.train import Recipe, fit

K = 4

# The datasets of CI and of the README's test command sit in a data folder beside the checkout. The
# library looks only in $SURE_DATA and ./data, so point $SURE_DATA there unless the caller chose.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not os.environ.get("SURE_DATA", "").strip() and SHARED_DATA.is_dir():
    os.environ["SURE_DATA"] = str(SHARED_DATA)


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never read or write the user's model and dataset cache (``$SURE_CACHE``, ~/.cache/sure)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SURE_CACHE", str(tmp_path_factory.mktemp("sure-cache")))
        yield


def blobs(n: int, seed: int, size: int = 8) -> ImageArrays:
    """Class-dependent mean images plus noise, uint8 N×H×W×3."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(123).uniform(40, 215, size=(K, size, size, 3))
    y = np.arange(n) % K
    x = means[y] + rng.normal(0, 40, size=(n, size, size, 3))
    return ImageArrays(np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64))


@pytest.fixture(scope="session")
def tiny() -> dict[str, LabeledData]:
    """forget (20 of class 1) / retain / val (class 1, held out) / test, on the CPU."""
    train, held, test = blobs(240, 0), blobs(40, 1), blobs(80, 2)
    forget_idx = np.flatnonzero(train.y == 1)[:20]
    retain_idx = np.setdiff1d(np.arange(240), forget_idx)
    val_idx = np.flatnonzero(held.y == 1)
    aug = Augment(pad=1, flip=False)
    return {
        "forget": LabeledData.from_arrays(train, forget_idx, aug),
        "retain": LabeledData.from_arrays(train, retain_idx, aug),
        "val": LabeledData.from_arrays(held, val_idx, aug),
        "test": LabeledData.from_arrays(test),
        "all": LabeledData.from_arrays(train),
    }


@pytest.fixture(scope="session")
def tiny_spec() -> ModelSpec:
    return ModelSpec(num_classes=K, in_channels=3, image_size=8, mean=(0.5,) * 3, std=(0.25,) * 3)


@pytest.fixture(scope="session")
def tiny_model(tiny, tiny_spec):
    """A small CNN trained on the whole tiny training set (including the forget set)."""
    torch.manual_seed(0)
    model = build_model("small_cnn", tiny_spec, width=8)
    fit(
        model,
        tiny["all"],
        Recipe(epochs=8, lr=0.05, batch_size=32, augment=False),
        torch.Generator().manual_seed(0),
    )
    return model


@pytest.fixture()
def tiny_data(tiny) -> UnlearnData:
    return UnlearnData(forget=tiny["forget"], retain=tiny["retain"], val=tiny["val"], num_classes=K)
