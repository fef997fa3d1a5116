"""docs/reference/experiment-file.md: every key of an experiment file, rendered from the JSON Schema that
spec/schema.py generates from the pydantic models, so the page, the schema and validation agree."""

from __future__ import annotations

import json
from typing import Any

from docs.gen import BANNER, REPO
from raytune_app.spec.hyperparams import ACTIVATIONS, CNN_ONLY, OPTIMIZERS, Hyperparams
from raytune_app.spec.schema import experiment_schema
from raytune_app.spec.space import DISTRIBUTIONS

PAGE = REPO / "docs" / "reference" / "experiment-file.md"
SECTIONS = {"data": "DataSpec", "resources": "ResourcesSpec", "tracking": "TrackingSpec",
            "objectives": "ObjectiveSpec", "constraints": "LimitSpec", "select": "SelectSpec"}
TYPES = {"integer": "integer", "number": "number", "string": "string", "boolean": "boolean", "object": "mapping",
         "array": "list"}
INTRO = """\
# Experiment file

Every key an experiment file may hold: its type, default, allowed values and what it does. The same models
validate files (`raytune-app validate`), and give the JSON Schema that editors use
(`raytune-app schema`; see [Editor support](../getting-started.md#editor-support)). Keys not listed here are
refused. Command-line flags override the keys they name (see the [command line](cli.md)).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(value: Any) -> str:
    if value is None:
        return "none"
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def _forms(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return prop.get("anyOf", [prop])


def _type(prop: dict[str, Any]) -> str:
    names = []
    for form in _forms(prop):
        if "$ref" in form:
            section = next(k for k, v in SECTIONS.items() if form["$ref"].endswith(f"/{v}"))
            names.append(f"mapping ([{section}](#{section}))")
        elif "const" in form:
            names.append(_value(form["const"]))
        elif form.get("type", "null") != "null":
            names.append(TYPES[form["type"]])
    return " or ".join(dict.fromkeys(names))


def _bound(form: dict[str, Any]) -> str:
    low = [f"{form[k]} {op}" for k, op in (("minimum", "≤"), ("exclusiveMinimum", "<")) if k in form]
    high = [f"{op} {form[k]}" for k, op in (("maximum", "≤"), ("exclusiveMaximum", "<")) if k in form]
    if not low and not high:
        return ""
    if low and high:
        return f"{low[0]} x {high[0]}"
    return {"≤": "≥", "<": ">"}[low[0].split()[1]] + " " + low[0].split()[0] if low else f"x {high[0]}"


def _allowed(prop: dict[str, Any]) -> str:
    out = []
    for form in _forms(prop):
        out += [_value(v) for v in form.get("enum", [])]
        out += [b for b in [_bound(form)] if b]
        out += [f"matches `{form['pattern']}`"] if "pattern" in form else []
    return ", ".join(out)


def _default(key: str, prop: dict[str, Any], required: list[str]) -> str:
    if key in required:
        return "required"
    if key == "name":
        return "the file's name"
    return _value(prop["default"]) if "default" in prop else ""


def _table(props: dict[str, Any], required: list[str]) -> list[str]:
    rows = ["| key | type | default | allowed | what |", "|---|---|---|---|---|"]
    for key, prop in props.items():
        rows.append(f"| `{key}` | {_cell(_type(prop))} | {_cell(_default(key, prop, required))} "
                    f"| {_cell(_allowed(prop))} | {_cell(prop.get('description', ''))} |")
    return rows


def _named(section: str, prop: dict[str, Any]) -> list[str]:
    """The names a `scheduler:` or `search:` takes, and each name's options."""
    rows = [f"`{section}: NAME`, or `{section}: {{name: NAME, OPTION: value, ...}}` (`name` may be left out for "
            f"the default, `{prop['default']}`). {prop['description']}.", "",
            "| name | options |", "|---|---|"]
    for form in prop["anyOf"][1:]:
        name = form["properties"]["name"]["const"]
        options = [f"`{o}`" for o in form["properties"] if o != "name"]
        rows.append(f"| `{name}` | {', '.join(options) or 'none'} |")
    return rows


def _space(prop: dict[str, Any]) -> list[str]:
    rows = [f"{prop['description']}. A plain value is a constant; a mapping with one key, the distribution's name, "
            "is a distribution (see [Search spaces](../search-spaces.md)):", "",
            "| distribution | arguments |", "|---|---|"]
    rows += [f"| `{kind}` | `{args}` |" for kind, args in DISTRIBUTIONS.items()]
    rows += ["", "Hyperparameters the built-in trainer reads (your model or training function takes its own "
                 "names as well):", "", "| hyperparameter | default | allowed |", "|---|---|---|"]
    allowed = {"activation": ACTIVATIONS, "optimizer": OPTIMIZERS}
    for name, field in Hyperparams.__dataclass_fields__.items():
        if name != "extra":
            where = "`cnn` only" if name in CNN_ONLY else ""
            rows.append(f"| `{name}` | {_value(field.default)} | "
                        f"{', '.join([f'`{v}`' for v in allowed.get(name, ())] + ([where] if where else []))} |")
    return rows


def page() -> str:
    schema = experiment_schema()
    props, defs = schema["properties"], schema["definitions"]
    lines = [BANNER.format(source="the pydantic models in raytune_app/spec/load.py"), "", INTRO,
             "## Top level", "", *_table(props, schema["required"] + schema["oneOf"][0]["required"])]
    for section, model in SECTIONS.items():
        lines += ["", f"## {section}", "", " ".join(defs[model]["description"].split()), "",
                  *_table(defs[model]["properties"], defs[model].get("required", []))]
    for section in ("scheduler", "search"):
        lines += ["", f"## {section}", "", *_named(section, props[section])]
    lines += ["", "## space", "", *_space(props["space"])]
    return "\n".join(lines) + "\n"


def pages() -> dict:
    return {PAGE: page()}
