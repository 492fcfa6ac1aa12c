"""The command line: every help renders, and every bad input is refused in one line on stderr with exit
code 2, no traceback, before any model is trained (training is made to fail loudly in these tests)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
import torch

from sure_unlearn import cli
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.protocol.config import PRESETS, BenchmarkConfig, resolve
from sure_unlearn.protocol.overrides import Overrides


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way a model gets trained records itself here (and fails): the tests assert it stays empty."""
    calls: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append("trained")
        raise AssertionError("a model was trained before the input was checked")

    monkeypatch.setattr("sure_unlearn.train.fit", refuse)
    monkeypatch.setattr("sure_unlearn.protocol.benchmark.fit", refuse)
    monkeypatch.setattr("sure_unlearn.protocol.references.fit", refuse)
    monkeypatch.setattr(torch.optim.SGD, "step", refuse)
    return calls


@pytest.fixture
def run(tmp_path: Path, trained: list[str], capsys: pytest.CaptureFixture[str]):
    """``run(argv, pattern)``: main(argv) exits 2 with one stderr line matching ``pattern``, nothing trained."""

    def check(argv: list[str], pattern: str) -> str:
        code = cli.main(argv)
        err = capsys.readouterr().err
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert err.startswith("sure: error: ") and re.search(pattern, err), err
        assert not trained
        return err

    return check


@pytest.fixture
def smoke(tmp_path: Path) -> list[str]:
    """``sure benchmark`` on the smoke preset with a fresh cache and results directory."""
    return [
        "benchmark",
        "--preset",
        "smoke",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
        "--device",
        "cpu",
    ]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_the_help_of_sure_and_of_every_subcommand_renders(capsys: pytest.CaptureFixture[str]) -> None:
    names = list(subcommands())
    assert {
        "benchmark",
        "demo",
        "train",
        "train-ddp",
        "unlearn",
        "evaluate",
        "tune",
        "sensitivity",
        "stability",
        "report",
        "list",
    } <= set(names)
    for argv in (["--help"], *([name, "--help"] for name in names)):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 0, argv
        out = capsys.readouterr().out
        assert out.startswith("usage: sure") and "show this help message" in out, argv
    assert "±20%" in (cli.build_parser().format_help())


@pytest.mark.parametrize("command", ["benchmark", "tune", "sensitivity", "stability", "train-ddp", "train"])
def test_preset_help_lists_the_registry(command: str) -> None:
    text = " ".join(subcommands()[command].format_help().split())
    assert PRESETS.available() and all(p in text for p in PRESETS.available()), text  # 'attacks' included


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["--seeds", "a,b"], r"--seeds: 'a' is not an integer"),
        (["--seeds", "0,0"], r"--seeds repeats 0"),
        (["--seeds", ""], r"--seeds is empty"),
        (["--set", "sure.alpha=abc"], r"sure\.alpha must be a number, got 'abc'"),
        (["--set", "sure.epochs=2.5"], r"sure\.epochs must be a whole number, got 2\.5"),
        (["--set", "sure.epochs=-1"], r"sure\.epochs = -1: .*≥ 1"),
        (["--set", "finetune.lr=-0.1"], r"finetune\.lr = -0\.1: a learning rate must be a finite number > 0"),
        (["--set", "sure.domain_lr=0"], r"sure\.domain_lr = 0\.0: a learning rate"),
        (["--set", "sure.lr=nan"], r"sure\.lr must be a finite number"),
        (["--set", "sure.augment=maybe"], r"sure\.augment must be true or false"),
        (["--set", "sure.nope=1"], r"sure has no hyperparameter"),
        (["--set", "alpha=3"], r"name the method"),
        (["--methods", ""], r"--methods is empty"),
        (["--methods", "sure,sure"], r"--methods repeats sure"),
        (["--scenario", ""], r"--scenario is empty"),
        (["--device", "gpu"], r"unknown --device 'gpu'; choose auto, cpu, cuda, cuda:N .*mps"),
        (["--threads", "-1"], r"--threads -1: give at least 1"),
        (
            ["--threads", "abc"],
            r"argument --threads: invalid int value: 'abc' \(see `sure benchmark --help`\)",
        ),
        (["--shadows", "3"], r"attacks\.shadows must be 0 \(off\) or an even number ≥ 4"),
        (["--methods", "finetune", "--attack-methods", "scrub"], r"attacks\.methods names \[.scrub.\]"),
    ],
)
def test_bad_flags_exit_2_in_one_line_before_training(
    run, smoke: list[str], extra: list[str], pattern: str
) -> None:
    run([*smoke, *extra], pattern)


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "name, text, pattern",
    [
        ("seeds.json", '{"seeds": 5}', r"seeds must be a list of integers, e\.g\. \[0, 1, 2\]; got 5"),
        ("seeds2.json", '{"seeds": [0, "a"]}', r"seeds\[1\] must be a number, got 'a'"),
        ("epochs.toml", '[recipe]\nepochs = "abc"\n', r"recipe\.epochs must be a number, got 'abc'"),
        (
            "lr.json",
            '{"recipe": {"lr": -0.1}}',
            r"recipe\.lr = -0\.1: a learning rate must be a finite number > 0",
        ),
        ("zero.json", '{"recipe": {"epochs": 0}}', r"recipe\.epochs = 0: .*≥ 1"),
        ("methods.json", '{"methods": []}', r"methods is empty"),
        ("hp.json", '{"hparams": {"sure": {"epochs": -1}}}', r"sure\.epochs = -1"),
        (
            "scen.json",
            '{"scenarios": {"partial_class": {"n": "ten"}}}',
            r"scenarios\.partial_class\.n must be a number",
        ),
        ("table.json", "[1, 2]", r"must hold a table of config fields"),
        ("key.json", '{"epochs": 3}', r"unknown config key\(s\) \['epochs'\]"),
        (
            "model.json",
            '{"model_kwargs": {"widht": 8}}',
            r"model_kwargs \{'widht': 8\} do not fit model 'mlp'",
        ),
        ("bad.json", "{", r"cannot parse"),
    ],
)
def test_bad_config_files_exit_2_in_one_line_before_training(
    run, smoke: list[str], tmp_path: Path, name: str, text: str, pattern: str
) -> None:
    run([*smoke, "--config", write(tmp_path / name, text)], pattern)


def test_out_and_cache_are_checked_by_a_real_write_before_training(
    run, smoke: list[str], tmp_path: Path
) -> None:
    regular = tmp_path / "a-file"
    regular.write_text("not a directory")
    run([*smoke, "--out", str(regular / "results")], r"--out .*a-file/results is not a writable directory")
    run(
        [*smoke, "--cache-dir", str(regular / "cache")],
        r"--cache-dir .*a-file/cache/models is not a writable directory",
    )
    run(
        ["train", "--preset", "smoke", "--out", str(regular / "m.pt")],
        r"--out .*a-file is not a writable directory",
    )
    run(["train", "--preset", "smoke", "--out", str(tmp_path)], r"--out .* is a directory; name a file")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("run.json"))


def test_forget_sets_too_small_for_the_metrics_and_attacks_are_refused_before_training(
    run, smoke: list[str], tmp_path: Path
) -> None:
    small = write(tmp_path / "small.json", '{"scenarios": {"partial_class": {"n": 5, "cls": 1}}}')
    run([*smoke, "--config", small], r"scenarios\.partial_class\.n = 5 is too small: .* ≥ 10 samples")
    run(
        [
            *smoke,
            "--config",
            small,
            "--shadows",
            "4",
            "--attack-methods",
            "finetune",
            "--methods",
            "finetune",
        ],
        r"n = 5 is too small",
    )
    frac = write(tmp_path / "frac.json", '{"train_subset": 200, "scenarios": {"random": {"fraction": 0.02}}}')
    run([*smoke, "--config", frac], r"scenarios\.random\.fraction = 0\.02 \(4 samples\) is too small")
    # known only from the data: the smoke test split has 3 samples of class 1 in a 12-sample subset
    few = write(tmp_path / "few.json", '{"test_subset": 12, "scenarios": {"full_class": {"cls": 1}}}')
    run(
        [*smoke, "--config", few, "--methods", "finetune"],
        r"scenario full_class, seed 0: the test split's share of the forget classes holds 3 samples",
    )


def test_other_commands_refuse_bad_input_before_training(run, tmp_path: Path) -> None:
    common = ["--cache-dir", str(tmp_path / "cache"), "--storage", "memory", "--out", str(tmp_path / "t")]
    run(["tune", "--preset", "smoke", "--eval-seeds", "0,a", *common], r"--eval-seeds: 'a' is not an integer")
    run(["tune", "--preset", "smoke", "--eval-seeds", "0,100", *common], r"tuning seed 100")
    run(["tune", "--preset", "smoke", "--trials", "-1", *common], r"--trials must be ≥ 0")
    run(["tune", "--preset", "smoke", "--methods", "retrain", *common], r"declares no search space")
    run(["sensitivity", "--preset", "smoke", "--methods", "", *common], r"--methods is empty")
    run(["sensitivity", "--preset", "smoke", "--grid", "4", *common], r"--grid must be odd")
    run(
        ["sensitivity", "--preset", "smoke", "--params", "lr,nope", *common],
        r"sure has no numeric hyperparameter 'nope'",
    )
    run(["stability", "--preset", "smoke", "--sizes", "5", *common], r"n = 5 is too small")
    run(["stability", "--preset", "smoke", "--seeds", "0,0", *common], r"--seeds repeats 0")
    ckpt, out = str(tmp_path / "none.pt"), str(tmp_path / "u.pt")
    unlearn = ["unlearn", "--checkpoint", ckpt, "--forget", ckpt, "--method", "finetune", "--out", out]
    run(
        [*unlearn, "--set", "sure.alpha=3"],
        r"--set 'sure\.alpha=3' is for sure, but the method run is finetune",
    )
    run([*unlearn, "--set", "epochs=0"], r"finetune\.epochs = 0")
    run(
        ["train-ddp", "--preset", "smoke", "--kind", "oracle", "--cache-dir", str(tmp_path / "c")],
        r"--kind must be",
    )
    run(["benchmark"], r"choose a preset \(smoke, demo, cpu, attacks, paper\) or give a config file")


def test_unexpected_errors_are_one_line_with_a_hint_and_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(a: argparse.Namespace) -> None:
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(cli, "cmd_list", boom)
    assert cli.main(["list", "methods"]) == 1
    err = capsys.readouterr().err
    assert (
        len(err.strip().splitlines()) == 1
        and "RuntimeError: something inside broke" in err
        and "--debug" in err
    )
    with pytest.raises(RuntimeError, match="inside broke"):
        cli.main(["--debug", "list", "methods"])
    with pytest.raises(ConfigError, match="not an integer"):
        cli.main(["--debug", "benchmark", "--preset", "smoke", "--seeds", "x"])
    with pytest.raises(ConfigError, match="not an integer"):
        cli.main(["benchmark", "--preset", "smoke", "--seeds", "x", "--debug"])


def test_sigterm_stops_a_command_as_ctrl_c_does_and_the_handler_is_restored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A script that starts ``sure`` in the background (where the shell has it ignore SIGINT) stops it
    with SIGTERM: the command ends as after Ctrl-C, with its one-line message and exit status 130."""
    import os
    import signal

    reached: list[str] = []

    def terminated(a: argparse.Namespace) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        reached.append("after the signal")  # the handler raises before this line

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cli, "cmd_list", terminated)
    assert cli.main(["list", "methods"]) == 130
    assert "interrupted" in capsys.readouterr().err and not reached
    assert signal.getsignal(signal.SIGTERM) is before


# ------------------------------------------------------------------------------------------ the library side
def test_resolve_builds_the_same_config_from_a_preset_and_from_its_file(tmp_path: Path) -> None:
    for name in PRESETS.available():
        cfg = PRESETS.get(name)()
        path = write(tmp_path / f"{name}.json", json.dumps(cfg.to_dict()))
        assert resolve(file=path) == cfg, name
        assert resolve(name) == cfg, name


def test_resolve_applies_overrides_on_top_of_the_file_on_top_of_the_preset(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[recipe]\nepochs = 2\n[hparams.sure]\nalpha = 3.0\n")
    flags = {
        "scenario": "random,partial_class",
        "methods": "finetune,sure",
        "seeds": "1,2",
        "set": ["sure.lam=0.5", "finetune.lr=0.02"],
    }
    cfg = resolve("smoke", path, Overrides.from_flags(flags))
    smoke = PRESETS.get("smoke")()
    assert cfg.recipe.epochs == 2 and cfg.recipe.lr == smoke.recipe.lr
    assert cfg.hparams["sure"] == {**smoke.hparams["sure"], "alpha": 3.0, "lam": 0.5}  # file and --set merge
    assert cfg.hparams["finetune"] == {**smoke.hparams["finetune"], "lr": 0.02}
    assert cfg.hparams["scrub"] == smoke.hparams["scrub"]
    assert (
        list(cfg.scenarios) == ["random", "partial_class"]
        and cfg.scenarios["partial_class"] == smoke.scenarios["partial_class"]
    )
    assert cfg.methods == ("finetune", "sure") and cfg.seeds == (1, 2)
    assert resolve(file=path, default="demo").name == "demo"  # a file without a preset, on a default one


def test_set_wins_over_a_scenarios_own_tuned_values():
    cfg = PRESETS.get("smoke")().with_overrides(
        hparams={"influence": {"step_size": 1.0, "damping": 0.1}},
        scenario_hparams={"random": {"influence": {"step_size": 2.0, "damping": 0.2}}, "full_class": {"sure": {"alpha": 3.0}}},
    )  # fmt: skip
    out = Overrides.from_flags({"set": ["influence.damping=1e-7"]}).apply(cfg)
    assert out.hparams_for("random", "influence") == {"step_size": 2.0, "damping": 1e-7}
    assert out.hparams_for("partial_class", "influence") == {"step_size": 1.0, "damping": 1e-7}
    # other methods untouched
    assert out.hparams_for("full_class", "sure") == cfg.hparams_for("full_class", "sure")


def test_validate_and_check_data_name_the_value(tmp_path: Path) -> None:
    from sure_unlearn.data import load_dataset
    from sure_unlearn.data.splits import ScenarioConfig

    cfg = PRESETS.get("smoke")()
    with pytest.raises(ConfigError, match="seeds repeats 3"):
        cfg.with_overrides(seeds=(3, 3)).validate()
    with pytest.raises(ConfigError, match="holdout_fraction must be in"):
        cfg.with_overrides(holdout_fraction=1.5).validate()
    data = load_dataset(cfg.dataset, **cfg.dataset_kwargs)
    cfg.check_data(data)  # the preset itself is fine
    with pytest.raises(DataError, match="retain set holds 0 samples|forget set covers the whole"):
        cfg.with_overrides(scenarios={"random": ScenarioConfig("random", fraction=1.0)}).check_data(data)
    assert BenchmarkConfig().forget_size(ScenarioConfig("full_class")) is None


def test_the_attacks_preset_attacks_every_method_and_methods_narrows_it():
    cfg = PRESETS.get("attacks")()
    assert cfg.attacks.methods == cfg.methods and len(cfg.seeds) >= 3 and cfg.attacks.models >= 8
    assert set(cfg.scenarios) == {"partial_class", "random"}
    narrowed = Overrides.from_flags({"methods": "finetune,sure"}).apply(cfg)
    assert narrowed.attacks.methods == narrowed.methods == ("finetune", "sure")
    chosen = Overrides.from_flags({"methods": "finetune,sure", "attack_methods": "sure"}).apply(cfg)
    assert chosen.attacks.methods == ("sure",)


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    """`sure list metrics | head -1`: a closed pipe ends the command quietly with exit code 0."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader is gone before the listing starts: every write meets a broken pipe
    code = "import sys; from sure_unlearn.cli import main; sys.exit(main(['list', 'metrics']))"
    p = subprocess.run([sys.executable, "-c", code], stdout=write, stderr=subprocess.PIPE, timeout=120)
    os.close(write)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "error" not in err.lower(), err


def test_a_broken_pipe_inside_the_work_is_still_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only stdout's reader going away is quiet: a broken pipe from elsewhere (stdout still open) is reported."""

    def broken(a: argparse.Namespace) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_list", broken)
    assert cli.main(["list", "metrics"]) == 1
    assert "internal error: BrokenPipeError" in capsys.readouterr().err
