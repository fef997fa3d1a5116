"""The model a trial trains: a built-in one, or the user's `nn.Module` class or factory (`model: FILE.py:NAME`).

A user's model is called with the hyperparameters its signature names, plus `input_shape` and `num_outputs`
where it takes them; the built-in loop trains it like its own (optimizer, loss by task, checkpoints). The same
function rebuilds it for `best --export`, `evaluate` and the summary's test score.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from raytune_app.spec.hyperparams import Hyperparams, chosen
from raytune_app.spec.user_code import BUILTIN_MODELS, code_name, import_user, model_kwargs
from raytune_app.trial.models import build_model


def code_shipped() -> bool:
    """Whether Ray's runtime env brought the experiment's folder to this worker (a cluster of several nodes):
    its copy is then on the worker's path, and the driver's folder is not used even where it exists."""
    import ray

    if not ray.is_initialized():
        return False
    context = ray.get_runtime_context()
    # a trial runs in an actor; the driver imported from the folder itself and keeps doing so
    return context.get_actor_id() is not None and bool(context.runtime_env.get("working_dir"))


def import_here(ref: Any, code_dir: str) -> Any:
    """The user's object `ref` names, imported where this process runs (driver, or a worker with or without a
    copy of the code folder); the object itself when it is one (given from Python)."""
    return import_user(ref, code_dir, on_path=not code_shipped())


def build_trial_model(kind: str, code_dir: str, config: Mapping[str, Any], input_shape: tuple[int, ...],
                      outputs: int) -> nn.Module:
    """The network a trial's config describes: `mlp`/`cnn`, or the user's model named by `kind`."""
    if kind in BUILTIN_MODELS:
        return build_model(kind, Hyperparams.from_config(config), input_shape, outputs)
    factory = import_here(kind, code_dir)
    model = factory(**model_kwargs(factory, chosen(config), input_shape, outputs))
    if not isinstance(model, nn.Module):
        raise TypeError(f"{code_name(kind)} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def example_config(params: Mapping[str, Any]) -> dict[str, Any]:
    """One config the space can sample (each distribution's low end, each choice's first option): what the
    driver builds a user's model with to check it."""
    config: dict[str, Any] = {}
    for name, p in params.items():
        if p.kind == "constant" or p.kind in ("uniform", "loguniform", "quniform"):
            config[name] = p.args[0]
        elif p.kind in ("int", "logint"):
            config[name] = int(p.args[0])
        elif p.branches:
            branch = p.branches[0]
            config[name] = {"name": branch.get("name"), **example_config({k: v for k, v in branch.items() if k != "name"})}
        else:
            config[name] = p.args[0]
    return config


def check_forward(spec, data, describe_error) -> str | None:
    """Build the user's model and run it on two training rows; why that fails (shapes given), or None.
    `describe_error(exc)` makes an exception one line naming the user's file and line."""
    config = example_config(spec.params)
    try:
        model = build_trial_model(spec.model, spec.code_dir, config, data.input_shape, data.outputs)
    except Exception as exc:
        return f"building {code_name(spec.model)} with {chosen(config)} fails: {describe_error(exc)}"
    X = torch.from_numpy(data.X_train[:2])
    try:
        model.eval()
        with torch.no_grad():
            out = model(X)
    except Exception as exc:
        return f"{code_name(spec.model)} fails on 2 samples of the data (input shape {tuple(X.shape)}): {describe_error(exc)}"
    want = (2, data.outputs)
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    if shape != want:
        what = f"{data.outputs} classes" if data.task == "classification" else "a regression target"
        return (f"{code_name(spec.model)} returns {f'shape {shape}' if shape else type(out).__name__} on input shape "
                f"{tuple(X.shape)}; the loss needs {want} ({what}): use num_outputs")
    return None
