"""Where an experiment lives, and the validated spec saved there so `resume` and `extend` need only the
folder. Free of Ray and PyTorch: the CLI checks these before it starts Ray."""

from __future__ import annotations

from raytune_app import storage
from raytune_app.spec.names import SPEC_FILE
from raytune_app.spec.load import ExperimentSpec


def experiment_path(spec: ExperimentSpec) -> str:
    return storage.join(storage.resolve(spec.storage), spec.name)


def save_spec(spec: ExperimentSpec, path: str) -> None:
    """Keep the resolved spec beside Ray's state, in the experiment folder at `path`."""
    storage.write_text(storage.join(path, SPEC_FILE), spec.model_dump_json(indent=2))


def load_saved_spec(path: str) -> ExperimentSpec:
    return ExperimentSpec.model_validate_json(storage.read_text(storage.join(path, SPEC_FILE)))
