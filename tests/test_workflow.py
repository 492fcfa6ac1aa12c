"""The checkpoint workflow end to end on the smoke preset: list what a checkpoint can forget, write a forget
file (a class, random samples, a checked file), unlearn, produce the oracle, evaluate against it, in both
checkpoint formats; every bad choice is one line with exit code 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from sure_unlearn import cli
from sure_unlearn.data import load_dataset
from sure_unlearn.data.types import NO_AUGMENT
from sure_unlearn.errors import DataError
from sure_unlearn.models import ModelSpec, build_model
from sure_unlearn.protocol import workflow as wf
from sure_unlearn.protocol.checkpoints import load_checkpoint, save_checkpoint
from sure_unlearn.train import Recipe

CPU = ["--device", "cpu", "--no-progress"]


def sure(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``sure argv``; it must succeed. Returns stdout."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def refused(argv: list[str], pattern: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and re.search(pattern, err), err


def initial_weights(meta: dict) -> dict[str, torch.Tensor]:
    """The weights ``sure train`` started from: the model built right after seeding with the checkpoint's seed."""
    torch.manual_seed(meta["seed"])
    spec = ModelSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()})
    return build_model(meta["model"], spec, **meta["model_kwargs"]).state_dict()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``original.pt``: the smoke preset's model (synthetic data, 4 classes, an MLP)."""
    d = tmp_path_factory.mktemp("workflow")
    assert (
        cli.main(
            ["train", "--preset", "smoke", "--out", str(d / "original.pt"), "--cache-dir", str(d / "c"), *CPU]
        )
        == 0
    )
    return d


@pytest.fixture(scope="module")
def original(work: Path) -> dict:
    """The original's meta and the labels of its dataset's training split."""
    _, meta = load_checkpoint(work / "original.pt")
    labels = load_dataset(meta["dataset"], **meta["dataset_kwargs"]).train.y
    return {
        "path": str(work / "original.pt"),
        "meta": meta,
        "train_idx": np.asarray(meta["train_idx"]),
        "y": labels,
    }


def test_the_listing_shows_each_class_with_its_trained_count_and_the_valid_indices(original, capsys) -> None:
    out = sure(["forget-set", "--checkpoint", original["path"]], capsys)
    train_idx, y = original["train_idx"], original["y"]
    counts = np.bincount(y[train_idx], minlength=4)
    for k in range(4):
        assert re.search(rf"^\s*{k}\s+class{k}\s+{counts[k]}$", out, re.M), out
    assert f"trained on {len(train_idx)} of the {len(y)} training-split indices" in out
    assert f"between {train_idx.min()} and {train_idx.max()}" in out
    info = wf.forgettable(original["path"])
    assert sum(c["count"] for c in info["classes"]) == len(train_idx) < len(y)  # the holdout is not listed


def test_a_class_is_chosen_by_name_or_index_whole_or_n_of_it(original, work: Path, capsys) -> None:
    train_idx, y = original["train_idx"], original["y"]
    whole = train_idx[y[train_idx] == 1]
    out = work / "class1.txt"
    sure(["forget-set", "--checkpoint", original["path"], "--class", "class1", "--out", str(out)], capsys)
    assert np.array_equal(wf.read_indices(out), whole)
    assert np.array_equal(wf.class_forget_set(original["path"], "1"), whole)
    assert np.array_equal(wf.class_forget_set(original["path"], "CLASS1"), whole)
    ten = wf.class_forget_set(original["path"], 1, n=10, seed=0)
    assert len(ten) == 10 and np.isin(ten, whole).all() and np.all(np.diff(ten) > 0)
    assert np.array_equal(ten, wf.class_forget_set(original["path"], 1, n=10, seed=0))
    assert not np.array_equal(ten, wf.class_forget_set(original["path"], 1, n=10, seed=1))


def test_random_samples_are_distinct_training_indices_drawn_by_seed(original, work: Path, capsys) -> None:
    out = work / "random.txt"
    sure(
        ["forget-set", "--checkpoint", original["path"], "--random", "25", "--seed", "3", "--out", str(out)],
        capsys,
    )
    idx = wf.read_indices(out)
    assert len(np.unique(idx)) == 25 and np.isin(idx, original["train_idx"]).all()
    assert len(np.unique(original["y"][idx])) > 1  # not one class
    assert np.array_equal(idx, wf.random_forget_set(original["path"], 25, seed=3))
    assert not np.array_equal(idx, wf.random_forget_set(original["path"], 25, seed=4))


def test_a_file_of_indices_is_checked_and_written_sorted_and_unique(original, work: Path, capsys) -> None:
    chosen = original["train_idx"][[7, 3, 3, 20]]
    given = work / "given.json"
    given.write_text(json.dumps(chosen.tolist()))
    out = work / "checked.txt"
    sure(["forget-set", "--checkpoint", original["path"], "--indices", str(given), "--out", str(out)], capsys)
    assert wf.read_indices(out).tolist() == sorted(set(chosen.tolist()))
    holdout = original["meta"]["holdout_idx"][0]
    given.write_text(json.dumps([int(chosen[0]), holdout]))
    with pytest.raises(DataError, match="never in the model's training set"):
        wf.file_forget_set(original["path"], given)


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--class", "dog"], r"unknown class 'dog'; give a name or an index 0\.\.3 \(0=class0"),
        (["--class", "9"], r"unknown class '9'"),
        (
            ["--class", "1", "--n", "10000"],
            r"cannot draw 10000 samples of class 1 \(class1\): it has \d+ training samples",
        ),
        (["--class", "1", "--n", "0"], r"cannot draw 0 samples"),
        (["--random", "0"], r"cannot draw 0 of the \d+ training samples"),
        (["--random", "100000"], r"at least one must remain"),
        (["--indices", "EMPTY"], r"the forget set is empty"),
        (["--indices", "FAR"], r"out of range 0\.\.399: \[400\]"),
        (["--indices", "HOLDOUT"], r"never in the model's training set"),
        (["--n", "3"], r"--n counts samples of --class"),
        (["--class", "1", "--no-out"], r"--out FILE is required"),
        (["--random", "3", "--class", "1"], r"not allowed with argument"),
    ],
)
def test_bad_selections_are_one_line_errors_and_write_nothing(
    original, work: Path, capsys, args, pattern
) -> None:
    files = {"EMPTY": "", "FAR": "400", "HOLDOUT": str(original["meta"]["holdout_idx"][0])}
    for name, text in files.items():
        (work / f"{name}.txt").write_text(text)
    args = [str(work / f"{a}.txt") if a in files else a for a in args]
    out = work / "never.txt"
    tail = [] if "--no-out" in args else ["--out", str(out)]
    refused(
        ["forget-set", "--checkpoint", original["path"], *[a for a in args if a != "--no-out"], *tail],
        pattern,
        capsys,
    )
    assert not out.exists()


def test_a_checkpoint_on_changed_data_is_refused(original, work: Path) -> None:
    _, meta = load_checkpoint(original["path"])
    moved = {**meta, "dataset_kwargs": {**meta["dataset_kwargs"], "seed": 1}}  # same shape, other labels
    save_checkpoint(work / "moved.pt", torch.nn.Linear(1, 1), moved)  # only the meta matters here
    with pytest.raises(DataError, match="not the data the checkpoint was trained on"):
        wf.forgettable(work / "moved.pt")


@pytest.fixture(scope="module")
def forget_class1(original, work: Path) -> Path:
    path = work / "forget.txt"
    wf.write_indices(path, wf.class_forget_set(original["path"], "class1"))
    return path


def test_retrain_is_the_originals_own_run_without_the_forget_set(
    original, work: Path, forget_class1: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sure_unlearn.train as train_mod

    seen: list[tuple[Recipe, int, dict]] = []
    real_fit = train_mod.fit

    def spy(model, data, recipe, *args, **kwargs):
        seen.append((recipe, len(data), {k: v.clone() for k, v in model.state_dict().items()}))
        return real_fit(model, data, recipe, *args, **kwargs)

    monkeypatch.setattr(train_mod, "fit", spy)
    oracle = work / "oracle.pt"
    sure(
        [
            "retrain",
            "--checkpoint",
            original["path"],
            "--forget",
            str(forget_class1),
            "--out",
            str(oracle),
            *CPU,
        ],
        capsys,
    )
    forget = wf.read_indices(forget_class1)
    _, meta = load_checkpoint(oracle)
    assert meta["train_idx"] == np.setdiff1d(original["train_idx"], forget).tolist()
    assert meta["unlearned"]["forget_idx"] == forget.tolist() and meta["unlearned"]["method"] == "retrain"
    recipe, n, init = seen[-1]
    assert recipe == Recipe(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in original["meta"]["recipe"].items()}
    )
    assert n == len(original["train_idx"]) - len(forget)
    assert all(torch.equal(v, init[k]) for k, v in initial_weights(original["meta"]).items())
    assert meta["test_acc"] < original["meta"]["test_acc"]  # a whole class it never saw


def test_unlearn_with_the_retrain_method_also_uses_the_checkpoints_recipe(
    original, work: Path, forget_class1: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sure_unlearn.methods.retrain as retrain_mod

    recipes: list[Recipe] = []
    real_fit = retrain_mod.fit
    monkeypatch.setattr(
        retrain_mod, "fit", lambda m, d, r, *a, **k: recipes.append(r) or real_fit(m, d, r, *a, **k)
    )
    out = work / "retrained.pt"
    sure(
        [
            "unlearn",
            "--checkpoint",
            original["path"],
            "--forget",
            str(forget_class1),
            "--method",
            "retrain",
            "--out",
            str(out),
            *CPU,
        ],
        capsys,
    )
    # not RetrainConfig's 30
    assert recipes and recipes[0].epochs == original["meta"]["recipe"]["epochs"] == 4
    _, meta = load_checkpoint(out)
    assert not np.isin(meta["train_idx"], wf.read_indices(forget_class1)).any()


def test_unlearn_gets_the_recipes_augmentation_and_the_originals_initial_weights(
    work: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sure_unlearn.methods as methods

    # digits has an augmentation (a 1-pixel crop); this recipe trains without it, so unlearning must too
    config = work / "digits.json"
    config.write_text(json.dumps({"preset": "demo", "recipe": {"epochs": 1, "augment": False}}))
    ckpt, forget = work / "digits.pt", work / "digits-forget.txt"
    sure(["train", "--config", str(config), "--out", str(ckpt), "--cache-dir", str(work / "c"), *CPU], capsys)
    wf.write_indices(forget, wf.class_forget_set(ckpt, "3", n=20))
    got = []
    real = methods.run_method
    monkeypatch.setattr(
        methods,
        "run_method",
        lambda name, model, data, cfg, ctx: got.append(data) or real(name, model, data, cfg, ctx),
    )
    wf.unlearn_checkpoint(ckpt, forget, "eu_k", {"epochs": 1}, 0, work / "euk.pt", device=torch.device("cpu"))
    data = got[0]
    assert load_dataset("digits").augment != NO_AUGMENT and data.retain.augment == NO_AUGMENT
    fresh = initial_weights(load_checkpoint(ckpt)[1])
    assert data.init_state is not None and all(torch.equal(v, data.init_state[k]) for k, v in fresh.items())


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_evaluate_reports_the_gaps_to_the_oracle(
    original, work: Path, forget_class1: Path, capsys, suffix: str
) -> None:
    pytest.importorskip("safetensors") if suffix == ".safetensors" else None
    unlearned, oracle = work / f"u{suffix}", work / f"oracle{suffix}"
    forget = ["--forget", str(forget_class1)]
    sure(["retrain", "--checkpoint", original["path"], *forget, "--out", str(oracle), *CPU], capsys)
    sure(
        [
            "unlearn",
            "--checkpoint",
            original["path"],
            *forget,
            "--method",
            "finetune",
            "--set",
            "epochs=1",
            "--out",
            str(unlearned),
            *CPU,
        ],
        capsys,
    )
    result = json.loads(
        sure(["evaluate", "--checkpoint", str(unlearned), *forget, "--oracle", str(oracle), *CPU], capsys)
    )
    m, o, g = result["metrics"], result["oracle"], result["gaps"]
    assert o["forget_acc"] < 20 < m["forget_acc"]  # the oracle never saw the class; one epoch of FT keeps it
    assert g["ua"] == pytest.approx(abs(m["ua"] - o["ua"])) and g["ua"] > 0
    if suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(unlearned, framework="pt") as f:  # really that format, with the meta inside
            assert json.loads(f.metadata()["meta"])["unlearned"]["method"] == "finetune"


def test_an_oracle_that_trained_on_the_forget_set_is_refused(original, forget_class1: Path, capsys) -> None:
    refused(
        [
            "evaluate",
            "--checkpoint",
            original["path"],
            "--forget",
            str(forget_class1),
            "--oracle",
            original["path"],
            *CPU,
        ],
        r"trained on \d+ of the forget indices .* make one with `sure retrain`",
        capsys,
    )
