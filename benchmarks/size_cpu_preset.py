"""Size the `cpu` preset by measurement: train the original for a few candidate recipes on the CIFAR-10
training subset and print time, train accuracy (eval mode, un-augmented) and test accuracy.

    .venv/bin/python benchmarks/size_cpu_preset.py [--epochs 15,20] [--width 16] [--augment 0,1]

The preset must overfit (train accuracy ≥ 98%, SPEC §10) and leave room for every method in the budget.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from sure_unlearn.data import load_dataset
from sure_unlearn.data.splits import ScenarioConfig, make_split
from sure_unlearn.data.types import NO_AUGMENT, LabeledData
from sure_unlearn.models import ModelSpec, build_model
from sure_unlearn.protocol.presets import PRESETS
from sure_unlearn.protocol.references import seeded_generator
from sure_unlearn.train import accuracy, fit


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", default="15,20")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--augment", default="1,0")
    p.add_argument("--lr", type=float, default=0.1)
    a = p.parse_args()
    torch.set_num_threads(2)
    cfg = PRESETS.get("cpu")()
    data = load_dataset(cfg.dataset)
    split = make_split(
        data.train.y,
        data.test.y,
        data.classes,
        ScenarioConfig("random", n=100),
        0,
        train_subset=cfg.train_subset,
        test_subset=cfg.test_subset,
    )
    spec = ModelSpec(data.num_classes, 3, 32, data.mean, data.std)
    test = LabeledData.from_arrays(data.test, split.test)
    for aug in (bool(int(x)) for x in a.augment.split(",")):
        for epochs in (int(e) for e in a.epochs.split(",")):
            recipe = cfg.recipe.__class__(
                **{**cfg.recipe.__dict__, "epochs": epochs, "augment": aug, "lr": a.lr}
            )
            train = LabeledData.from_arrays(data.train, split.train, data.augment if aug else NO_AUGMENT)
            torch.manual_seed(0)
            model = build_model(cfg.model, spec, width=a.width)
            t = time.perf_counter()
            res = fit(model, train, recipe, seeded_generator(torch.device("cpu"), "size", 0))
            row = {
                "width": a.width,
                "epochs": epochs,
                "augment": aug,
                "lr": a.lr,
                "n_train": len(split.train),
                "train_s": round(time.perf_counter() - t, 1),
                "s_per_epoch": round(res.seconds_per_epoch, 2),
                "train_acc": round(accuracy(model, train.with_augment(NO_AUGMENT)), 2),
                "test_acc": round(accuracy(model, test), 2),
                "machine": platform.processor() or platform.machine(),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
