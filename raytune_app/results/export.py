"""The best trial's model: exported for use outside raytune-app, or scored on new data.

An export is a folder with
- `model.pt`: the state_dict of the best checkpoint (`torch.load(..., weights_only=True)`),
- `config.json`: what rebuilds and feeds the model: model kind, the trial's config, input shape,
  outputs, task, the training split's feature standardisation, the class labels (or the
  regression target's scale) and the experiment's data settings,
- `scores.json`: its validation metric and held-out test score, as summary.json reports them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from raytune_app import storage
from raytune_app.errors import InputError, RunFailed
from raytune_app.results.reader import Experiment, load_experiment
from raytune_app.spec.load import saved_code
from raytune_app.spec.user_code import code_name
from raytune_app.spec.space import flatten

FORMAT = "raytune-app-model/1"
FILES = ("model.pt", "config.json", "scores.json")


class NoBestTrial(RunFailed):
    """The experiment has no best trial to use (still running, or no trial reported a metric)."""


@dataclass
class BestModel:
    experiment: Experiment
    spec: Any  # ExperimentSpec
    dataset: Any  # data.Dataset: the experiment's data, split and standardised as in training
    trial_id: str
    config: dict[str, Any]  # as sampled (conditional branches nested)
    checkpoint: Path
    epoch: int
    model: Any  # torch.nn.Module with the checkpoint's weights, in eval mode
    scores: dict[str, Any]


def _checkpoint_dir(e: Experiment, trial_id: str, recorded: str | None) -> str:
    """summary.json's checkpoint path, or the same checkpoint in a moved experiment folder."""
    if recorded:
        moved = storage.join(e.path, f"trial_{trial_id}", recorded.rstrip("/").rsplit("/", 1)[-1])
        for candidate in (recorded, moved):
            if storage.exists(candidate):
                return candidate
        raise NoBestTrial(f"{e.path}: the best trial's checkpoint {recorded} is gone")
    raise NoBestTrial(f"{e.path}: the best trial saved no checkpoint")


def _checkpoint_config(e: Experiment, trial_id: str, checkpoint: str, recorded: dict[str, Any]) -> dict[str, Any]:
    """The config that produced the checkpoint's epoch (under PBT not the one the trial started with): what
    the model is rebuilt with; `recorded` (summary.json's) when the trial's results are gone."""
    trial = next((t for t in e.trials if t.trial_id == trial_id), None)
    return (trial.config_of(trial.checkpoint_row(checkpoint)) if trial else {}) or recorded


def restore_model(spec, dataset, config: dict[str, Any], checkpoint: str):
    """The model a trial's config describes, with a checkpoint's weights, in eval mode; and the checkpoint.
    `dataset`: the experiment's data, or anything with its `input_shape` and `outputs`."""
    from raytune_app.trial.checkpoint import load_checkpoint
    from raytune_app.trial.user_model import build_trial_model

    state = load_checkpoint(checkpoint)
    model = build_trial_model(spec.model, spec.code_dir, config, tuple(dataset.input_shape), dataset.outputs)
    model.load_state_dict(state["model"])
    model.eval()
    return model, state


def held_out_scores(spec, dataset, trial, checkpoint: str | None) -> dict[str, float | None]:
    """The trial's checkpoint scored on the held-out test split ({TEST_METRIC: None} without either)."""
    import torch

    from raytune_app.spec.metrics import SCORE, TEST_METRIC
    from raytune_app.trial.loop import evaluate

    name = TEST_METRIC[dataset.task]
    if checkpoint is None or dataset.X_test is None or len(dataset.X_test) == 0:
        return {name: None}
    model, _ = restore_model(spec, dataset, trial.config_of(trial.checkpoint_row(checkpoint)), checkpoint)
    scores = evaluate(model, torch.from_numpy(dataset.X_test), torch.from_numpy(dataset.y_test), dataset)
    return {name: scores[SCORE[dataset.task]]}


def load_best(path: str | Path, spec=None, trial_id: str | None = None) -> BestModel:
    """The best trial of the experiment at `path`, as its summary names it (or the trial `trial_id`, at its
    best epoch by the same rule), its weights loaded into the model its config describes. `spec`: the
    experiment's, when the caller holds it with the Python objects it was given (its saved copy names them
    only)."""
    from raytune_app.data.datasets import load_dataset
    from raytune_app.results.summary import trial_record
    from raytune_app.spec.metrics import TEST_METRIC
    from raytune_app.spec.saved import load_saved_spec

    e = load_experiment(path)
    if e.summary is None:
        raise NoBestTrial(f"{path}: no summary.json yet: the run has not ended (if its driver died, finish it "
                          f"with `raytune-app resume {path}`)")
    best = e.summary.get("best") if trial_id is None else trial_record(e, trial_id)
    if not best:
        raise NoBestTrial(f"{path}: no trial reported a usable {e.metric}" + (
            " and met the constraints" if (e.summary.get("pareto") or {}).get("constraints") else ""))
    spec = spec or load_saved_spec(e.path)
    if spec.trainable:
        return _user_trainable_best(e, spec, best)
    try:
        dataset = load_dataset(spec.data)
    except InputError as exc:
        raise InputError(f"{path}: {p}" for p in exc.problems) from None
    trial_id = str(best["trial_id"])
    checkpoint = _checkpoint_dir(e, trial_id, best.get("checkpoint"))
    config = _checkpoint_config(e, trial_id, checkpoint, best["config"])
    model, state = restore_model(spec, dataset, config, checkpoint)
    test = TEST_METRIC[dataset.task]
    scores = {"experiment": e.name, "trial_id": trial_id, "epoch": int(state["epoch"]), "metric": e.metric,
              "mode": e.mode, e.metric: best.get(e.metric), **_objective_scores(e, best), test: best.get(test)}
    return BestModel(e, spec, dataset, trial_id, config, Path(checkpoint), int(state["epoch"]), model, scores)


def _objective_scores(e: Experiment, record: dict[str, Any]) -> dict[str, Any]:
    """Several objectives: each one's value at the trial's point, and the trial's front rank (0: on the front)."""
    if not e.multi_objective:
        return {}
    point = e.pareto.points.get(str(record["trial_id"]))
    return {**{o.name: record.get(o.name) for o in e.pareto.objectives},
            "front_rank": point.rank if point else None}


def _user_trainable_best(e: Experiment, spec, best: dict[str, Any]) -> BestModel:
    """The best trial of a user's training function: its checkpoint folder as the function saved it (only the
    user's code can rebuild a model from it)."""
    trial_id = str(best["trial_id"])
    checkpoint = _checkpoint_dir(e, trial_id, best.get("checkpoint"))
    config = _checkpoint_config(e, trial_id, checkpoint, best["config"])
    scores = {"experiment": e.name, "trial_id": trial_id, "epoch": best.get("epoch"), "metric": e.metric,
              "mode": e.mode, e.metric: best.get(e.metric), **_objective_scores(e, best),
              **{k: v for k, v in best.items() if k.startswith("test_")}}
    return BestModel(e, spec, None, trial_id, config, Path(checkpoint), best.get("epoch") or 0, None, scores)


def model_config(best: BestModel) -> dict[str, Any]:
    """config.json: everything needed to rebuild the model and to feed it raw data."""
    d = best.dataset
    out: dict[str, Any] = {
        "format": FORMAT,
        "model": saved_code(best.spec.model),
        "config": best.config,
        "config_flat": flatten(best.config),
        "input_shape": list(d.input_shape),
        "outputs": d.outputs,
        "task": d.task,
        "standardisation": {
            "mean": d.x_mean.tolist(), "std": d.x_std.tolist(),
            "apply": "x = ((raw.reshape(n, -1) - mean) / std).reshape(n, *input_shape).astype(float32)",
        },
        "experiment": best.experiment.name, "experiment_path": str(best.experiment.path),
        "trial_id": best.trial_id, "checkpoint": str(best.checkpoint), "epoch": best.epoch,
        "metric": best.experiment.metric, "mode": best.experiment.mode,
        "data": best.spec.data.model_dump(),
        "rebuild": "raytune_app.trial.user_model.build_trial_model(model, code_dir, config, tuple(input_shape), "
                   "outputs).load_state_dict(torch.load('model.pt', weights_only=True))",
    }
    if best.spec.code_dir:  # the user's model: its class, called as training called it
        out["code_dir"] = best.spec.code_dir
    if d.task == "classification":
        out["classes"] = list(d.classes)
        out["predict"] = "label = classes[output.argmax(1)]"
    else:
        out["target"] = {"mean": d.y_mean, "std": d.y_std}
        out["predict"] = "y = output[:, 0] * target.std + target.mean"
    return out


def export(best: BestModel, folder: Path) -> list[Path]:
    """Write model.pt, config.json and scores.json into `folder`; never overwrites an export."""
    import torch

    files = FILES if best.model is not None else ("checkpoint", "config.json", "scores.json")
    taken = [f for f in files if (folder / f).exists()]
    if taken:
        raise InputError([f"--export: {folder} already holds {', '.join(taken)}; pick another folder"])
    folder.mkdir(parents=True, exist_ok=True)
    if best.model is None:  # a user's training function: its checkpoint as it saved it
        from ray.tune import Checkpoint

        Checkpoint(str(best.checkpoint)).to_directory(str(folder / "checkpoint"))  # local or in a bucket
        config = {"format": FORMAT, "trainable": saved_code(best.spec.trainable), "code_dir": best.spec.code_dir,
                  "config": best.config, "config_flat": flatten(best.config), "experiment": best.experiment.name,
                  "trial_id": best.trial_id, "checkpoint": str(best.checkpoint), "metric": best.experiment.metric}
        (folder / "config.json").write_text(json.dumps(config, indent=2, default=str))
        (folder / "scores.json").write_text(json.dumps(best.scores, indent=2))
        return [folder / f for f in files]
    torch.save(best.model.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps(model_config(best), indent=2, default=str))
    (folder / "scores.json").write_text(json.dumps(best.scores, indent=2))
    return [folder / f for f in FILES]


def pareto_ids(path: str | Path) -> list[str]:
    """The trials of the experiment's Pareto front, as its summary lists them (several objectives)."""
    e = load_experiment(path)
    if e.summary is None:
        raise NoBestTrial(f"{path}: no summary.json yet: the run has not ended (if its driver died, finish it "
                          f"with `raytune-app resume {path}`)")
    if "pareto" not in e.summary:
        raise InputError([f"--pareto: {path} has one objective ({e.metric}): its front is its best trial; "
                          f"use `best` without --pareto"])
    return [str(p["trial_id"]) for p in e.summary["pareto"]["front"]]


def _read_data(file: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """X and y from a .npz (arrays X and y) or a .csv (the experiment's label column), checked."""
    from raytune_app.data import datasets as data_mod

    path, key = Path(file), "--data"
    if not path.is_file():
        raise InputError([f"{key}: no such file {file}"])
    arrays = data_mod.read_arrays(path, key, label)
    if "X" not in arrays:
        raise InputError([f"{key}: {file} needs arrays X and y"])
    return arrays["X"], arrays["y"]


def prepare(best: BestModel, X: np.ndarray, y: np.ndarray, source: str):
    """Raw X, y -> tensors as the model was trained on: standardised features, class ids (or floats)."""
    import torch

    from raytune_app.data.standardise import apply

    d = best.dataset
    width, features = int(np.prod(d.input_shape)), int(np.prod(np.shape(X)[1:]))
    if features != width:
        raise InputError([f"--data: {source}: rows have {features} features; the model takes {width} "
                          f"(shape {tuple(d.input_shape)})"])
    Xs = apply(X, d.x_mean, d.x_std, d.input_shape)
    if d.task == "classification":
        index = {c: i for i, c in enumerate(d.classes)}
        unknown = sorted({v for v in np.asarray(y).tolist() if v not in index}, key=str)
        if unknown:
            raise InputError([f"--data: {source}: labels the model never saw in training: {unknown[:10]} "
                              f"(it knows {list(d.classes)[:20]})"])
        ys = torch.tensor([index[v] for v in np.asarray(y).tolist()], dtype=torch.int64)
    else:
        ys = torch.from_numpy(np.asarray(y, dtype=np.float32))
    return torch.from_numpy(Xs), ys


def evaluate_file(best: BestModel, file: str) -> tuple[str, float, int]:
    """(metric name, value, rows): accuracy or rmse of the best model on the data in `file`."""
    from raytune_app.trial.loop import evaluate

    if best.model is None:
        raise InputError([f"{best.experiment.path}: evaluate scores a model that raytune-app trains; this experiment "
                          f"ran your training function ({code_name(best.spec.trainable)}): `best --export DIR` copies its best "
                          "checkpoint for your code to load"])
    X, y = _read_data(file, best.spec.data.label)
    Xt, yt = prepare(best, X, y, file)
    scores = evaluate(best.model, Xt, yt, best.dataset)
    name = "accuracy" if best.dataset.task == "classification" else "rmse"
    return name, float(scores[name]), len(Xt)
