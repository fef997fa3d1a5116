"""The user's own code on a real local Ray, through the real CLI: a model, a data loader, a training function;
resume after a killed driver; best --export and evaluate through the user's class; bad code refused."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest

from conftest import REPO, histories, run_cli, start_cli, trial_dirs, wait_for, write_experiment
from user_code_files import write_trainable_experiment, write_user_code

# one trial at a time: one trial worker (its imports are most of a tiny run's CPU)
TINY = {"num_samples": 2, "max_epochs": 2, "scheduler": "fifo", "search": "random", "max_concurrent": 1}


@pytest.fixture(scope="module")
def code(tmp_path_factory):
    return write_user_code(tmp_path_factory.mktemp("user"))


def finished(exp, trials: int, epochs: int) -> dict:
    """summary.json of a run whose trials all trained every epoch exactly once."""
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["trials_by_status"] == {"completed": trials}, summary["trials_by_status"]
    for trial, h in histories(exp).items():
        assert sorted(r["epoch"] for r in h) == list(range(1, epochs + 1)), (trial, [r["epoch"] for r in h])
    return summary


# ------------------------------------------------------------------------------------------------ level 1


@pytest.fixture(scope="module")
def model_run(code, ray_address):
    spec = write_experiment(code / "model.yaml", model="models/net.py:Net",
                            space={"lr": {"loguniform": [1e-3, 1e-2]}, "width": {"choice": [16, 32]}}, **TINY)
    out = run_cli("tune", spec, "--storage", code / "runs", "--address", ray_address)
    return out, code / "runs" / "model"


def test_a_user_model_is_tuned_by_the_built_in_loop(model_run):
    out, exp = model_run
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "models/net.py:Net on digits" in out.stdout
    summary = finished(exp, 2, 2)
    assert summary["best"]["config"]["width"] in (16, 32) and summary["best"]["test_accuracy"] > 0.5
    ckpt = next(exp.glob("trial_*/checkpoint_*/checkpoint.pt"))
    import torch

    assert {"body.1.weight", "head.weight"} <= set(torch.load(ckpt, weights_only=True)["model"])


def test_best_export_and_evaluate_rebuild_the_user_model(model_run, tmp_path):
    from sklearn.datasets import load_digits

    _, exp = model_run
    out = run_cli("best", exp, "--export", tmp_path / "export")
    assert out.returncode == 0, out.stderr
    config = json.loads((tmp_path / "export" / "config.json").read_text())
    assert config["model"] == "models/net.py:Net" and config["code_dir"] == str(exp.parent.parent)
    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "new.npz", X=X[:200], y=y[:200])
    out = run_cli("evaluate", exp, "--data", tmp_path / "new.npz")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("accuracy = ") and float(out.stdout.split()[2]) > 0.5


# ------------------------------------------------------------------------------------------------ level 2
# a loader feeding the built-in model: the shipped search_spaces/custom_loader.yaml (test_shipped_examples_run)


# ------------------------------------------------------------------------------------------------ level 3


def test_a_training_function_that_never_reports_the_metric_fails_the_run(code, ray_address):
    (code / "wrong.py").write_text("from ray import tune\n\n\ndef train(config):\n"
                                   "    for epoch in range(5):\n        tune.report({'acc': 0.5, 'epoch': epoch})\n")
    spec = write_trainable_experiment(code / "wrong.yaml", trainable="wrong.py:train", num_samples=3, max_concurrent=1)
    out = run_cli("tune", spec, "--storage", code / "runs", "--address", ray_address)
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert (f"{spec}: trainable: the first report of wrong.py:train has no 'val_acc' (the experiment's metric); "
            "it reported: acc, epoch") in out.stderr
    assert "Traceback" not in out.stderr
    reports = [len(h) for h in histories(code / "runs" / "wrong").values()]
    assert reports and all(n == 1 for n in reports)  # stopped at the first report, no retries


# ------------------------------------------------------------------ level 3, its driver killed and resumed
# (a user model's experiment resumed after a killed driver: test_fault_tolerance_e2e.py, whose model is the
# user file tests/slow_model.py)


def kill_after_checkpoints(args, exp, log, trials):
    """SIGKILL the driver once every trial has a checkpoint over 3 s old: Ray's state, saved every 2 s, names it."""
    def all_checkpointed():
        dirs = trial_dirs(exp)
        return len(dirs) == trials and all(any(time.time() - c.stat().st_mtime > 3 for c in d.glob("checkpoint_*"))
                                           for d in dirs)
    proc = start_cli(*args, log=log)
    wait_for(all_checkpointed, proc=proc, timeout=240)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def assert_resumed(exp, trials, epochs):
    """Every trial finished, continuing from a checkpoint (an epoch after it may be trained again)."""
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["trials_by_status"] == {"completed": trials}, summary["trials_by_status"]
    for trial, h in histories(exp).items():
        seen = [r["epoch"] for r in h]
        assert seen.count(1) == 1 and set(seen) == set(range(1, epochs + 1)), (trial, seen)
    assert any(r["iterations_since_restore"] == 1 and r["epoch"] > 1 for h in histories(exp).values() for r in h)


@pytest.fixture(scope="module")
def fn_run(code, ray_address, tmp_path_factory):
    """A user's training function, its driver SIGKILLed once both trials have a checkpoint, then resumed with
    `raytune-app resume` to the end: (experiment, the resume's output). Tests of level 3 read it."""
    spec = write_trainable_experiment(code / "fn.yaml", max_epochs=6, space={
        "lr": {"loguniform": [1e-3, 1e-2]}, "width": 16, "epochs": 6, "sleep": 0.8})
    exp = code / "runs" / "fn"
    kill_after_checkpoints(("tune", spec, "--storage", code / "runs", "--address", ray_address), exp,
                           tmp_path_factory.mktemp("fn") / "log", 2)
    return exp, run_cli("resume", exp, "--address", ray_address)


def test_a_user_training_function_resumes_after_the_driver_is_killed(fn_run):
    exp, out = fn_run
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert_resumed(exp, 2, 6)


def test_a_user_training_function_runs_unchanged(code, fn_run, tmp_path):
    exp, out = fn_run
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["best"]["val_acc"] > 0.5 and summary["best"]["test_accuracy"] > 0.5  # what it reported
    assert all(r["code_dir"] == str(code) for h in histories(exp).values() for r in h)  # one machine: no copy
    out = run_cli("best", exp, "--export", tmp_path / "export")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "export" / "checkpoint" / "state.pt").is_file()  # the function's own checkpoint, copied
    out = run_cli("evaluate", exp, "--data", tmp_path / "x.npz")
    assert out.returncode == 2 and "ran your training function (train.py:train)" in out.stderr


# ---------------------------------------------------------------------------------------------- bad code

BROKEN = "import math\n\nSCALE = 1 / 0\n"
NOT_CALLABLE = "WIDTH = 3\n"
FORWARD = ("from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self, width=8):\n"
           "        super().__init__()\n        self.fc = nn.Linear(10, width)\n\n"
           "    def forward(self, x):\n        return self.fc(x)\n")
LOADERS = {
    "types": "def load():\n    return {'train': 'digits.csv', 'val': 'digits.csv'}\n",
    "lengths": "import numpy as np\n\n\ndef load():\n    X = np.zeros((10, 4), 'float32')\n"
               "    return (X, np.zeros(9, int)), (X, np.zeros(10, int))\n",
    "no_val": "import numpy as np\n\n\ndef load():\n    return {'train': (np.zeros((10, 4)), np.zeros(10, int))}\n",
}


@pytest.mark.parametrize("files, fields, message", [
    ({}, {"model": "models/nett.py:Net"}, "model: no such file models/nett.py in {code} (did you mean 'models/net.py'?)"),
    ({}, {"model": "nosuch.module:Net"}, "model: no module named 'nosuch.module' (in {code} or installed)"),
    ({}, {"model": "models/net.py:Nett"}, "model: models/net.py has no 'Nett' (did you mean 'Net'?)"),
    ({"bad/const.py": NOT_CALLABLE}, {"model": "bad/const.py:WIDTH"},
     "model: bad/const.py:WIDTH is a int, not a class or function"),
    ({"bad/broken.py": BROKEN}, {"model": "bad/broken.py:Net"},
     "model: importing bad/broken.py: ZeroDivisionError: division by zero ({code}/bad/broken.py, line 3)"),
    ({}, {"model": "models/net.py:Net", "space": {"widht": 8}},
     "space.widht: neither the built-in training loop nor models/net.py:Net takes 'widht' (did you mean 'width'?)"),
    ({"bad/forward.py": FORWARD}, {"model": "bad/forward.py:Net"},
     "model: bad/forward.py:Net fails on 2 samples of the data (input shape (2, 1, 8, 8)): RuntimeError: "
     "mat1 and mat2 shapes cannot be multiplied (16x8 and 10x8) ({code}/bad/forward.py, line 10)"),
    ({"bad/types.py": LOADERS["types"]}, {"data": {"loader": "bad/types.py:load"}},
     "data.loader: the train split is a str; give (X, y) arrays or a torch.utils.data.Dataset"),
    ({"bad/lengths.py": LOADERS["lengths"]}, {"data": {"loader": "bad/lengths.py:load"}},
     "data.loader: the train split has 10 rows of X but 9 of y"),
    ({"bad/no_val.py": LOADERS["no_val"]}, {"data": {"loader": "bad/no_val.py:load"}},
     "data.loader: bad/no_val.py:load returned no validation split ('val')"),
], ids=["missing-file", "missing-module", "missing-name", "not-callable", "import-error", "signature",
        "forward-pass", "loader-types", "loader-lengths", "loader-no-validation"])
def test_bad_code_is_one_line_before_ray_starts(code, tmp_path, capsys, files, fields, message):
    """In this process (the CLI's own main(), as test_cli_validation does): quick, and it shows Ray never started."""
    import ray

    from raytune_app.cli.main import main

    for name, text in files.items():
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        (code / name).write_text(text)
    spec = write_experiment(code / "bad.yaml", **fields)
    assert main(["tune", str(spec), "--storage", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"{spec}: {message.format(code=code)}" and "Traceback" not in err
    assert not ray.is_initialized() and not (tmp_path / "runs").exists()  # refused before anything started


def test_a_model_taking_kwargs_accepts_every_hyperparameter(code):
    from raytune_app.spec.load import load_spec

    (code / "bad").mkdir(exist_ok=True)
    (code / "bad" / "kw.py").write_text("def make(input_shape, num_outputs, **options):\n    pass\n")
    spec = load_spec(write_experiment(code / "kw.yaml", model="bad/kw.py:make", space={"anything": 1}))
    assert spec.model == "bad/kw.py:make" and spec.code_dir == str(code)


def test_a_training_function_that_cannot_take_a_config_is_refused(code):
    from raytune_app.errors import InputError
    from raytune_app.spec.load import load_spec

    (code / "two.py").write_text("def train(config, data):\n    pass\n")
    with pytest.raises(InputError) as err:
        load_spec(write_trainable_experiment(code / "two.yaml", trainable="two.py:train"))
    assert "trainable: two.py:train(config, data) cannot be called so: missing a required argument: 'data'" in str(err.value)


@pytest.mark.parametrize("example", ["neural_net.yaml", "custom_loader.yaml", "custom_training.yaml"])
def test_shipped_examples_run(ray_address, tmp_path, example):
    out = run_cli("tune", REPO / "search_spaces" / example, "--storage", tmp_path, "--address", ray_address,
                  "--num-samples", "1", "--max-epochs", "1", "--scheduler", "fifo", "--search", "random")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads(next(tmp_path.glob("*/summary.json")).read_text())
    assert summary["trials_by_status"] == {"completed": 1}
    # custom_loader: the loader's own test split, scored by the driver
    assert summary["best"]["val_accuracy"] > 0.1 and summary["best"]["test_accuracy"] > 0.1
