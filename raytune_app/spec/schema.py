"""The experiment file's JSON Schema, generated from the pydantic models that validate it (spec/load.py).

Editors read it (`# yaml-language-server: $schema=...` atop a file) to complete and check keys while a user
types. pydantic describes the models' fields; added here are the forms that the models' validators accept
before pydantic sees them: `scheduler` and `search` as a bare name or a mapping of a name and the options of
Ray's class, the `space` entries, and `name`, which defaults to the file's name. `validate` stays the full
check (bounds against each other, keys that exclude each other, the user's code).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from raytune_app.spec.hyperparams import ACTIVATIONS, CNN_ONLY, OPTIMIZERS, Hyperparams
from raytune_app.spec.load import INTERNAL_FIELDS, ExperimentSpec
from raytune_app.spec.names import SCHEDULERS, SEARCHERS
from raytune_app.spec.options import SAMPLER_OPTIONS, SCHEDULER_OPTIONS, SEARCHER_OPTIONS
from raytune_app.spec.space import DISTRIBUTIONS

# shipped in the package; the files in search_spaces/ point editors at it
SCHEMA_FILE = Path(__file__).with_name("experiment.schema.json")
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]*$"  # ExperimentSpec._safe_name
DRAFT = "http://json-schema.org/draft-07/schema#"  # the draft editors' YAML and JSON support reads most widely

_NOT_A_MAPPING = {"not": {"type": "object"}}
# several objectives (issue 28): the models of their keys, and a file gives metric and mode or objectives, not both
OBJECTIVE_MODELS = ("ObjectiveSpec", "LimitSpec", "SelectSpec")
ONE_OBJECTIVE_OR_SEVERAL = {"oneOf": [{"required": ["metric", "mode"]}, {"required": ["objectives"]}]}
_BOUNDS = {"uniform": "number", "loguniform": "number", "quniform": "number", "int": "integer", "logint": "integer"}


def _distribution(kind: str) -> dict[str, Any]:
    """`{kind: [...]}`: a mapping with the distribution's name as its one key."""
    if kind in _BOUNDS:
        size = 3 if kind == "quniform" else 2
        args: dict[str, Any] = {"type": "array", "items": {"type": _BOUNDS[kind]}, "minItems": size, "maxItems": size}
    elif kind == "choice":  # options are values, or mappings naming a conditional branch
        args = {"type": "array", "minItems": 1, "items": {"anyOf": [_NOT_A_MAPPING, {"$ref": "#/definitions/Branch"}]}}
    else:
        args = {"type": "array", "minItems": 1}
    args["description"] = f"{kind}: {DISTRIBUTIONS[kind]}"
    return {"type": "object", "properties": {kind: args}, "required": [kind], "additionalProperties": False}


def _space_definitions() -> dict[str, Any]:
    entry = {"description": "A constant (any value but a mapping) or a distribution: a mapping with one key, "
                            f"{', '.join(DISTRIBUTIONS)}",
             "anyOf": [_NOT_A_MAPPING, *map(_distribution, DISTRIBUTIONS)]}
    branch = {"description": "A conditional branch of a choice: its name and the hyperparameters sampled only "
                             "when it is chosen",
              "type": "object", "required": ["name"], "properties": {"name": _NOT_A_MAPPING},
              "additionalProperties": {"$ref": "#/definitions/SpaceEntry"}}
    return {"SpaceEntry": entry, "Branch": branch}


def _hyperparameter(name: str) -> dict[str, Any]:
    allowed = {"activation": ACTIVATIONS, "optimizer": OPTIMIZERS}.get(name)
    default = Hyperparams.__dataclass_fields__[name].default
    text = f"Built-in trainer{' (cnn)' if name in CNN_ONLY else ''}; default {default!r}"
    return {"$ref": "#/definitions/SpaceEntry", "description": text + (f"; one of {', '.join(allowed)}"
                                                                         if allowed else "")}


def _named(section: str, names: tuple[str, ...], default: str, options: dict[str, tuple[str, ...]],
           description: str) -> dict[str, Any]:
    """A bare name, or a mapping of `name` (the default when left out) and the options that name takes."""
    forms: list[dict[str, Any]] = [{"type": "string", "enum": list(names)}]
    for name in names:
        props = {"name": {"const": name}} | {o: {"description": f"an option of {section}: {name}"}
                                             for o in options.get(name, ())}
        form = {"type": "object", "properties": props, "additionalProperties": False}
        forms.append(form if name == default else form | {"required": ["name"]})
    return {"description": description, "default": default, "anyOf": forms}


def experiment_schema() -> dict[str, Any]:
    """The JSON Schema of an experiment file: what a file may hold, not what the CLI adds to a spec."""
    schema = ExperimentSpec.model_json_schema(ref_template="#/definitions/{model}")
    defs = schema.pop("$defs")
    fields = ExperimentSpec.model_fields
    props = {k: v for k, v in schema["properties"].items() if k not in INTERNAL_FIELDS}
    props["name"] |= {"pattern": NAME_PATTERN}
    for section in ("data", "resources", "tracking", "select"):  # each key has its own default
        props[section].pop("default")
    defs["DataSpec"]["properties"] = {k: v for k, v in defs["DataSpec"]["properties"].items()
                                      if k not in INTERNAL_FIELDS}
    options = {"scheduler": SCHEDULER_OPTIONS,
               "search": {n: SEARCHER_OPTIONS[n] + SAMPLER_OPTIONS.get(n, ()) for n in SEARCHERS}}
    for section, names in (("scheduler", SCHEDULERS), ("search", SEARCHERS)):
        default = fields[section].default.name
        props[section] = _named(section, names, default, options[section], fields[section].description)
    props["space"] = {"description": fields["space"].description, "type": "object",
                      "properties": {n: _hyperparameter(n) for n in Hyperparams.__dataclass_fields__ if n != "extra"},
                      "additionalProperties": {"$ref": "#/definitions/SpaceEntry"}}
    used = {k: v for k, v in defs.items() if k in ("DataSpec", "ResourcesSpec", "TrackingSpec", *OBJECTIVE_MODELS)}
    for section in (props, *(d["properties"] for d in used.values())):
        for prop in section.values():
            prop.pop("title", None)  # pydantic's "Max Epochs" for max_epochs: the key says it better
    return {"$schema": DRAFT, "title": "raytune-app experiment file", "description": schema["description"],
            "type": "object", "properties": props,
            "required": [k for k in schema["required"] if k not in ("name", "metric", "mode")],
            **ONE_OBJECTIVE_OR_SEVERAL, "additionalProperties": False, "definitions": used | _space_definitions()}


def schema_text() -> str:
    """The schema as the shipped file holds it."""
    return json.dumps(experiment_schema(), indent=2) + "\n"
