"""The experiment file's JSON Schema: generated from the models that validate files, shipped fresh, and
agreeing with `validate` on what a file may hold."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from raytune_app.errors import InputError
from raytune_app.spec.load import INTERNAL_FIELDS, load_spec
from raytune_app.spec.schema import SCHEMA_FILE, experiment_schema, schema_text

from conftest import REPO, run_cli, write_experiment

SHIPPED = sorted((REPO / "search_spaces").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_shipped_schema_is_fresh():
    assert SCHEMA_FILE.read_text() == schema_text(), "run `python -m docs.gen` (or `make docs`)"


def test_the_schema_command_prints_it():
    out = run_cli("schema", timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(SCHEMA_FILE.read_text())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_experiment_file_validates(path, validator):
    assert [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))] == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_point_editors_at_the_schema(path):
    first = path.read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix), first
    assert (path.parent / first.removeprefix(prefix)).resolve() == SCHEMA_FILE.resolve()


# what a file may not hold: the schema refuses it as `validate` does
REFUSED = {
    "unknown top-level key": {"max_epoch": 3},
    "unknown data key": {"data": {"dataset": "digits", "datset": "wine"}},
    "unknown resources key": {"resources": {"gpus": 1}},
    "unknown scheduler": {"scheduler": "asha2"},
    "unknown scheduler option": {"scheduler": {"name": "asha", "grace": 1}},
    "option of another scheduler": {"scheduler": {"name": "fifo", "grace_period": 1}},
    "option raytune-app sets": {"search": {"name": "hyperopt", "random_state_seed": 1}},
    "unknown distribution": {"space": {"lr": {"loguniform2": [0.1, 1.0]}}},
    "distribution missing a bound": {"space": {"lr": {"loguniform": [0.1]}}},
    "branch without a name": {"space": {"optimizer": {"choice": [{"lr": 0.1}]}}},
    "bad name": {"name": "../escape"},
    "bad mode": {"mode": "maximum"},
    "string count": {"num_samples": "3"},
}
# forms validate accepts, as the schema must
ACCEPTED = {
    "bare names": {"scheduler": "hyperband", "search": "random"},
    "mapping without a name is the default": {"scheduler": {"grace_period": 2}},
    "sampler options": {"search": {"name": "optuna", "n_startup_trials": 3}},
    "conditional space": {"space": {"optimizer": {"choice": [
        {"name": "sgd", "lr": {"loguniform": [1e-3, 1.0]}, "momentum": {"uniform": [0.0, 0.9]}},
        {"name": "adam", "lr": 0.01}]}}},
    "grid": {"search": "grid", "space": {"hidden_layers": {"grid": [1, 2]}, "hidden_sizes": [64, 32]}},
    "gpus auto and nulls": {"resources": {"gpus_per_trial": "auto"}, "max_concurrent": None},
}


def _file(tmp_path: Path, fields: dict) -> tuple[Path, dict]:
    path = write_experiment(tmp_path / "e.yaml", **fields)
    return path, yaml.safe_load(path.read_text())


@pytest.mark.parametrize("fields", REFUSED.values(), ids=REFUSED)
def test_the_schema_refuses_what_validate_refuses(tmp_path, validator, fields):
    path, raw = _file(tmp_path, fields)
    assert list(validator.iter_errors(raw)), raw
    with pytest.raises(InputError):
        load_spec(path)


@pytest.mark.parametrize("fields", ACCEPTED.values(), ids=ACCEPTED)
def test_the_schema_accepts_what_validate_accepts(tmp_path, validator, fields):
    path, raw = _file(tmp_path, fields)
    assert [e.message for e in validator.iter_errors(raw)] == []
    load_spec(path)


def test_name_is_optional_and_internal_fields_are_not_keys():
    schema = experiment_schema()
    # metric and mode, or objectives (several objectives), one or the other
    assert schema["required"] == [] and schema["oneOf"] == [{"required": ["metric", "mode"]},
                                                            {"required": ["objectives"]}]
    assert not set(INTERNAL_FIELDS) & set(schema["properties"])
    assert not set(INTERNAL_FIELDS) & set(schema["definitions"]["DataSpec"]["properties"])


def test_every_key_says_what_it_is():
    """An editor shows each key's description as the user types; the reference page prints it."""
    schema = experiment_schema()
    sections = [schema["properties"], *(d["properties"] for d in schema["definitions"].values() if "properties" in d
                                       and d is not schema["definitions"]["Branch"])]
    missing = [key for props in sections for key, prop in props.items() if not prop.get("description")]
    assert missing == []
