"""The user's own code: named in the experiment file as `FILE.py:NAME` or `package.module:NAME`, or given from
Python as the object itself (a class or function, even one defined in a notebook or in `__main__`).

Files are imported as modules of the experiment file's folder (the "code folder": `models/net.py` is module
`models.net`, so the user's files import each other as they would beside a script), on the driver and, through
the same function, on every worker. Objects travel to the workers inside the trial's settings, pickled by value
(cluster/runtime_env.py). A saved experiment cannot hold an object: it names it `<object module.qualname>`,
which an import finds again unless it lived in `__main__`. Free of PyTorch and Ray: the driver checks the code
before Ray starts.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from raytune_app.errors import InputError, did_you_mean

BUILTIN_MODELS = ("mlp", "cnn")
# what the built-in training loop takes from a trial's config (the rest may go to a user's model)
LOOP_PARAMS = ("lr", "batch_size", "optimizer", "weight_decay", "momentum", "nesterov", "beta1", "beta2", "seed")
# what raytune-app passes to a user's model besides hyperparameters, when its signature names them
MODEL_EXTRAS = ("input_shape", "num_outputs")


def is_reference(value: Any) -> bool:
    """Whether a `model`/`trainable`/`loader` value names user code (`FILE.py:NAME`, `package.module:NAME`)."""
    return isinstance(value, str) and ":" in value


OBJECT_MARKER = re.compile(r"<object ([A-Za-z_][\w.<>]*)>")  # a Python object, as a saved experiment names it


def object_marker(obj: Any) -> str:
    """How a saved experiment names an object given in place of a reference: `<object module.qualname>`."""
    return f"<object {getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}>"


def is_object_marker(value: Any) -> bool:
    return isinstance(value, str) and OBJECT_MARKER.fullmatch(value) is not None


def is_user_code(value: Any) -> bool:
    """A `model`/`trainable`/`loader` value that is the user's code: a reference, an object, or a saved object's name."""
    return callable(value) or is_reference(value) or is_object_marker(value)


def code_name(value: Any) -> str:
    """A user's code as messages name it: `FILE.py:NAME`, or `module.qualname` of an object."""
    if callable(value):
        value = object_marker(value)
    match = OBJECT_MARKER.fullmatch(value) if isinstance(value, str) else None
    return match.group(1) if match else str(value)


def _saved_object(marker: str) -> Any:
    """The object a saved experiment names, imported again; ValueError when it cannot be (it lived in `__main__`,
    a notebook, a function's body, or a module this process cannot import)."""
    parts = code_name(marker).split(".")
    for i in range(len(parts) - 1, 0, -1):  # the longest prefix that is a module
        module = ".".join(parts[:i])
        if module == "__main__":
            break
        try:
            obj: Any = importlib.import_module(module)
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part, None)
        if callable(obj):
            return obj
        break
    raise ValueError(f"{code_name(marker)} was a Python object given to raytune_app.tune(), which this process "
                     "cannot import: pass it again from Python")


def _split(ref: str) -> tuple[str, str]:
    module, _, name = ref.rpartition(":")
    if not module or not name or not all(part.isidentifier() for part in name.split(".")):
        raise ValueError(f"{ref!r} is not FILE.py:NAME or package.module:NAME")
    return module, name


def _module_name(module: str, code_dir: Path) -> tuple[str, Path | None]:
    """(module name to import, the file when `module` is a path). A file's name is its path in the code
    folder with dots: `models/net.py` -> `models.net`."""
    if not module.endswith(".py"):
        return module, None
    file = (code_dir / module).resolve()
    try:
        parts = file.relative_to(code_dir.resolve()).with_suffix("").parts
    except ValueError:
        raise ValueError(f"{module} is outside the experiment's folder {code_dir}; only that folder reaches the "
                         "workers: move the file into it") from None
    if not all(p.isidentifier() for p in parts):
        raise ValueError(f"{module}: every folder and file name on the path must be a Python identifier "
                         f"(letters, digits, '_') to be imported")
    return ".".join(parts), file


def make_importable(code_dir: str | Path) -> None:
    """Put the code folder first on sys.path (as Python does for a script's folder), once."""
    folder = str(code_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)


def import_user(ref: Any, code_dir: str | Path, on_path: bool = True) -> Any:
    """The object `ref` names, imported from the code folder (the object itself when `ref` is one); raises what
    the import raises. `on_path=False`: the folder is importable already (Ray's runtime env put its copy on the
    worker's path)."""
    if callable(ref):
        return ref
    if is_object_marker(ref):
        return _saved_object(ref)
    module, name = _split(ref)
    module_name, _ = _module_name(module, Path(code_dir))
    if on_path:
        make_importable(code_dir)
    obj: Any = importlib.import_module(module_name)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def where(exc: BaseException, code_dir: str | Path) -> str:
    """`FILE, line N` of the innermost frame in the user's code folder (or of a syntax error), else ''."""
    folder = str(Path(code_dir).resolve())
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}, line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if str(Path(f.filename).resolve()).startswith(folder)]
    return f"{frames[-1].filename}, line {frames[-1].lineno}" if frames else ""


def describe_exception(exc: BaseException, code_dir: str | Path) -> str:
    """One line: `ValueError: message (FILE, line N)`."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    at = where(exc, code_dir)
    return f"{type(exc).__name__}{': ' + message if message else ''}{f' ({at})' if at else ''}"


def _python_files(folder: Path, depth: int = 3) -> list[str]:
    """.py files near the top of the code folder (for a did-you-mean), skipping virtualenvs, results, dot-folders."""
    found = []
    for root, dirs, files in os.walk(folder):
        here = Path(root).relative_to(folder)
        dirs[:] = [] if len(here.parts) >= depth else [
            d for d in dirs if not d.startswith(".") and d not in ("runs", "venv", "__pycache__", "node_modules")]
        found += [(here / f).as_posix() for f in files if f.endswith(".py")]
    return found


def resolve(ref: str, code_dir: str | Path, key: str) -> Any:
    """`import_user`, with every failure as InputError(`key: message`): a missing file, module or name, an
    exception while importing (file, line and exception), something that is not callable."""
    if callable(ref):
        return ref
    if is_object_marker(ref):
        try:
            return _saved_object(ref)
        except ValueError as exc:
            raise InputError([f"{key}: {exc}"]) from None
    code_dir = Path(code_dir)
    try:
        module, name = _split(ref)
        module_name, file = _module_name(module, code_dir)
    except ValueError as exc:
        raise InputError([f"{key}: {exc}"]) from None
    if file is not None and not file.is_file():
        raise InputError([f"{key}: no such file {module} in {code_dir}{did_you_mean(module, _python_files(code_dir))}"])
    make_importable(code_dir)
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise InputError([f"{key}: no module named {module_name!r} (in {code_dir} or installed)"]) from None
        raise InputError([f"{key}: importing {module}: {describe_exception(exc, code_dir)}"]) from None
    except BaseException as exc:  # the user's module may raise anything, SystemExit included
        raise InputError([f"{key}: importing {module}: {describe_exception(exc, code_dir)}"]) from None
    for part in name.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise InputError([f"{key}: {module} has no {part!r}{did_you_mean(part, names)}"])
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError([f"{key}: {ref} is a {type(obj).__name__}, not a class or function"])
    return obj


def _signature(fn: Callable) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none: accept anything
        return None


def accepted(fn: Callable) -> tuple[set[str], bool, set[str]]:
    """(keyword names `fn` takes, whether it takes **kwargs, the names it requires)."""
    sig = _signature(fn)
    if sig is None:
        return set(), True, set()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = {n for n, p in sig.parameters.items() if p.kind in kinds}
    required = {n for n, p in sig.parameters.items() if p.kind in kinds and p.default is inspect.Parameter.empty}
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()), required


def model_kwargs(factory: Callable, hyperparams: Mapping[str, Any], input_shape: tuple[int, ...],
                 num_outputs: int) -> dict[str, Any]:
    """What a user's model is called with: the hyperparameters its signature names (all but the training
    loop's with **kwargs), plus `input_shape` and `num_outputs` where it names them."""
    names, var_kw, _ = accepted(factory)
    extras = {"input_shape": tuple(input_shape), "num_outputs": int(num_outputs)}
    kwargs = {k: v for k, v in hyperparams.items() if k in names or (var_kw and k not in LOOP_PARAMS)}
    return kwargs | {k: v for k, v in extras.items() if k in names}


def model_problems(factory: Callable, ref: str, space_names: dict[str, str]) -> list[tuple[str, str]]:
    """Space entries (name -> key in the file) that neither the training loop nor the model takes, and
    parameters the model requires that nothing gives it."""
    names, var_kw, required = accepted(factory)
    problems = []
    if not var_kw:
        takes = sorted((names - set(MODEL_EXTRAS)) | set(LOOP_PARAMS))
        problems += [(key, f"neither the built-in training loop nor {ref} takes {name!r}{did_you_mean(name, takes)}")
                     for name, key in space_names.items() if name not in names and name not in LOOP_PARAMS]
    missing = sorted(required - set(space_names) - set(MODEL_EXTRAS))
    if missing:
        problems.append(("model", f"{ref} requires {', '.join(missing)}, which space does not set"))
    return problems


def call_problem(fn: Callable, ref: str, args: tuple = (), kwargs: Mapping[str, Any] | None = None) -> str | None:
    """Why `fn(*args, **kwargs)` cannot bind, or None."""
    sig = _signature(fn)
    if sig is None:
        return None
    try:
        sig.bind(*args, **dict(kwargs or {}))
    except TypeError as exc:
        return f"{ref}{sig} cannot be called so: {exc}"
    return None


def _space_keys(params: Mapping[str, Any]) -> dict[str, str]:
    """Every hyperparameter a trial's config may hold -> its key in the file (branches' own included)."""
    keys = {name: f"space.{name}" for name in params}
    for name, param in params.items():
        for i, branch in enumerate(param.branches):
            keys.update({k: f"space.{name}.choice[{i}].{k}" for k in branch if k != "name" and k not in keys})
    return keys


def user_code_problems(spec, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Import the experiment's own code and check it against the file, before Ray starts: what cannot be
    imported or called, and hyperparameters nothing takes. Each problem is (key, message)."""
    problems: list[tuple[str, str]] = []

    def load(ref: Any, key: str):
        try:
            return resolve(ref, spec.code_dir, key)
        except InputError as exc:
            problems.extend(tuple(p.split(": ", 1)) for p in exc.problems)  # type: ignore[misc]
            return None

    if is_user_code(spec.model) and not spec.trainable:
        factory = load(spec.model, "model")
        if factory is not None:
            problems += model_problems(factory, code_name(spec.model), _space_keys(params))
    if spec.trainable:
        fn = load(spec.trainable, "trainable")
        problem = fn and call_problem(fn, code_name(spec.trainable), ({},))
        if problem:
            problems.append(("trainable", f"{problem} (Ray Tune calls it with the trial's config only)"))
    if spec.data.loader:
        fn = load(spec.data.loader, "data.loader")
        problem = fn and call_problem(fn, code_name(spec.data.loader), (), spec.data.args)
        if problem:
            problems.append(("data.args", problem))
    return problems
