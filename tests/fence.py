"""Finds uses of Ray's private names and formats in raytune-app's code outside raytune_app/ray_compat/.

What counts (the developer guide's list): a private Ray module (a path part with a leading underscore), an
underscore (or undocumented) name imported from Ray, a string naming a private module (a logger), a
`RAY_*`/`TUNE_*` setting, Ray's experiment-state file names and format markers, an underscore method of a Ray
class overridden in a subclass, an underscore attribute that the code uses but never defines itself, and a
Ray module's attribute replaced (monkey-patching).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

FENCE = "ray_compat"
PRIVATE_MODULE = re.compile(r"\bray(\.\w+)*\._[a-z]\w*")
SETTING = re.compile(r"^(RAY|TUNE)_[A-Za-z0-9_]+$")
STATE_FORMAT = ("experiment_state", "tuner.pkl", "searcher-state", "search_gen_state", "trial_data",
                "CLOUDPICKLE_FALLBACK")
UNDOCUMENTED = {"SCHEDULER_IMPORT", "SEARCH_ALG_IMPORT"}  # Ray's registries behind create_scheduler/_searcher
NOT_RAY = {"os", "sys"}  # modules whose underscore names (os._exit) are the standard library's


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith(("__", "_abc_"))  # _abc_impl: abc's, in every ABC


def _ray_aliases(tree: ast.AST) -> set[str]:
    """Local names bound to Ray modules (`import ray`, `from ray import tune`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] == "ray"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ray":
            names |= {a.asname or a.name for a in node.names if inspect.ismodule(_module(f"{node.module}.{a.name}"))}
    return names


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _defined_here(tree: ast.AST) -> set[str]:
    """Underscore names this code defines itself: functions, classes, attributes it assigns."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return {n for n in names if _private(n)}


def _ray_overrides(module_name: str) -> list[str]:
    """Underscore methods of Ray classes that this module's classes (or their mixins outside the fence) override."""
    module = importlib.import_module(module_name)
    found = []
    for cls in vars(module).values():
        if not inspect.isclass(cls) or cls.__module__ != module_name:
            continue
        ray_bases = [c for c in cls.__mro__ if c.__module__.split(".")[0] == "ray"]
        ours = [c for c in cls.__mro__ if c.__module__.startswith("raytune_app") and FENCE not in c.__module__]
        ray_names = {n for c in ray_bases for n in vars(c) if _private(n)}
        for c in ours:
            for name in sorted(set(vars(c)) & ray_names):
                found.append(f"{cls.__name__} overrides Ray's {name}")
    return found


def findings(path: Path, root: Path) -> list[str]:
    """What in this file (under the package folder `root`) uses Ray's private names or formats."""
    source = path.read_text()
    tree = ast.parse(source)
    aliases, ours = _ray_aliases(tree), _defined_here(tree)
    docstrings = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(
        n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(n) is not None}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if PRIVATE_MODULE.search(a.name)]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ray":
            if PRIVATE_MODULE.search(node.module):
                found.append(f"imports {node.module}")
            found += [f"imports {node.module}.{a.name}" for a in node.names
                      if _private(a.name) or a.name in UNDOCUMENTED]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            if PRIVATE_MODULE.search(text) or SETTING.match(text) or any(f in text for f in STATE_FORMAT):
                found.append(f"names {text!r}")
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ours:
            base = node.value
            if isinstance(base, ast.Name) and base.id in NOT_RAY:
                continue
            found.append(f"uses .{node.attr}")
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"replaces {t.value.id}.{t.attr}" for t in targets if isinstance(t, ast.Attribute)
                      and isinstance(t.value, ast.Name) and t.value.id in aliases]
    found += _ray_overrides(".".join(path.relative_to(root.parent).with_suffix("").parts))
    return found


def outside_the_fence(root: Path) -> dict[str, list[str]]:
    """file (relative to the package's parent) -> its findings, for every file outside ray_compat/."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        if FENCE in path.relative_to(root).parts or path.name == "__main__.py":  # __main__ runs the CLI
            continue
        found = findings(path, root)
        if found:
            out[path.relative_to(root.parent).as_posix()] = sorted(set(found))
    return out
