"""The user's data loader (`data: {loader: data/load.py:load, args: {...}}`): its splits, checked, as a `Dataset`.

The loader returns `(train, val)`, `(train, val, test)` or a mapping with those keys; each split is `(X, y)`
(arrays or tensors) or a `torch.utils.data.Dataset` of `(x, y)` items. The splits are read into arrays once,
so the built-in training loop, the object store, the summary's test score and `evaluate` treat them like any
other data; they are used as the loader returns them (no standardisation: the loader prepares its data).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from raytune_app.data.datasets import Dataset
from raytune_app.errors import InputError
from raytune_app.spec.user_code import code_name, describe_exception, resolve

SPLITS = ("train", "val", "test")
SAMPLE_ROWS = 2  # what the driver reads of each split when the loader runs on the workers
KEY = "data.loader"


def _bad(message: str) -> InputError:
    return InputError([f"{KEY}: {message}"])


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "detach")  # a NumPy array or a torch.Tensor


def _numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def _splits(out: Any, ref: str) -> dict[str, Any]:
    """The loader's return value as {split name: split}; InputError for the wrong shape of answer."""
    if isinstance(out, Mapping):
        unknown = [str(k) for k in out if k not in SPLITS]
        if unknown:
            raise _bad(f"{ref} returned keys {unknown}; the splits are {', '.join(SPLITS)}")
        splits = dict(out)
    elif isinstance(out, (tuple, list)) and len(out) == 2 and all(_is_array(a) for a in out):
        raise _bad(f"{ref} returned one (X, y) pair: no validation split; return (train, val[, test]) "
                   "or {'train': ..., 'val': ...}")
    elif isinstance(out, (tuple, list)) and len(out) in (2, 3):
        splits = dict(zip(SPLITS, out))
    else:
        raise _bad(f"{ref} returned {type(out).__name__}; return (train, val), (train, val, test) or a mapping "
                   "with those keys")
    for name in ("train", "val"):
        if splits.get(name) is None:
            raise _bad(f"{ref} returned no {'validation' if name == 'val' else 'training'} split ({name!r})")
    return {k: v for k, v in splits.items() if v is not None}


def _arrays(split: Any, name: str, ref: str, rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of one split: from an (X, y) pair, or read item by item from a Dataset."""
    if isinstance(split, (tuple, list)) and len(split) == 2 and all(_is_array(a) for a in split):
        X, y = (_numpy(a) for a in split)
        if len(X) != len(y):
            raise _bad(f"the {name} split has {len(X)} rows of X but {len(y)} of y")
        return (X, y) if rows is None else (X[:rows], y[:rows])
    if not (hasattr(split, "__getitem__") and hasattr(split, "__len__")) or isinstance(split, (str, bytes, Mapping)):
        raise _bad(f"the {name} split is a {type(split).__name__}; give (X, y) arrays or a "
                   "torch.utils.data.Dataset")
    count = len(split) if rows is None else min(rows, len(split))
    xs, ys = [], []
    for i in range(count):
        item = split[i]
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise _bad(f"item {i} of the {name} split is a {type(item).__name__}; a Dataset's items must be "
                       "(x, y) pairs")
        xs.append(_numpy(item[0]))
        ys.append(_numpy(item[1]))
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise _bad(f"the {name} split's items have different shapes: {sorted(shapes)[:3]}")
    if not xs:
        raise _bad(f"the {name} split is empty")
    return np.stack(xs), np.asarray(ys).reshape(count, *np.shape(ys[0]))


def _features(X: np.ndarray, name: str) -> np.ndarray:
    """Floats as float32 (the model's dtype); integers (token ids) stay integers."""
    if len(X) == 0:
        raise _bad(f"the {name} split is empty")
    if np.issubdtype(X.dtype, np.integer):
        return X.astype(np.int64)
    if not (np.issubdtype(X.dtype, np.floating) or X.dtype == bool):
        raise _bad(f"the {name} split's X is not numeric ({X.dtype})")
    return X.astype(np.float32)


def _labels(ys: dict[str, np.ndarray], task: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Class ids 0..K-1 (labels that are such ids stay as they are) or float targets; Dataset's extras."""
    if task == "regression":
        train = ys["train"].astype(np.float32).reshape(-1)
        return ({k: y.astype(np.float32).reshape(-1) for k, y in ys.items()},
                {"y_mean": float(train.mean()), "y_std": float(train.std()) or 1.0})
    flat = {k: y.reshape(-1) for k, y in ys.items()}
    if all(np.issubdtype(y.dtype, np.integer) and (len(y) == 0 or y.min() >= 0) for y in flat.values()):
        n = int(max(y.max() for y in flat.values() if len(y))) + 1
        return {k: y.astype(np.int64) for k, y in flat.items()}, {"n_classes": n, "classes": list(range(n))}
    classes = np.unique(flat["train"])
    index = {c: i for i, c in enumerate(classes.tolist())}
    unseen = sorted({v for y in flat.values() for v in y.tolist() if v not in index}, key=str)
    if unseen:
        raise _bad(f"labels {unseen[:5]} of the validation or test split never occur in the training split")
    encoded = {k: np.array([index[v] for v in y.tolist()], dtype=np.int64) for k, y in flat.items()}
    return encoded, {"n_classes": len(classes), "classes": classes.tolist()}


def load_user_data(spec, loader: Callable | None = None, sample: bool = False) -> Dataset:
    """Call the loader `spec.loader` names with `spec.args` and check what it returns; `sample`: read only
    the first rows of each split (the driver's check of a loader that runs on the workers, no test split).
    `loader`: the function itself, when the caller imported it (on a worker)."""
    ref = code_name(spec.loader)
    fn = loader or resolve(spec.loader, spec.code_dir, KEY)
    try:
        out = fn(**spec.args)
    except Exception as exc:
        raise _bad(f"{ref} raised {describe_exception(exc, spec.code_dir)}") from None
    splits = _splits(out, ref)
    if sample:
        splits.pop("test", None)
    arrays = {k: _arrays(v, k, ref, SAMPLE_ROWS if sample else None) for k, v in splits.items()}
    X = {k: _features(x, k) for k, (x, _) in arrays.items()}
    shape = X["train"].shape[1:]
    for k, x in X.items():
        if x.shape[1:] != shape:
            raise _bad(f"the {k} split's rows have shape {x.shape[1:]}, the train split's {shape}")
    y_train = arrays["train"][1]
    task = spec.task if spec.task != "auto" else (
        "regression" if np.issubdtype(y_train.dtype, np.floating) else "classification")
    ys, extra = _labels({k: y for k, (_, y) in arrays.items()}, task)
    width = int(np.prod(shape)) if shape else 1
    test = ("test" in X)
    return Dataset(X["train"], ys["train"], X["val"], ys["val"],
                   X["test"] if test else (None if sample else X["val"][:0]),
                   ys["test"] if test else (None if sample else ys["val"][:0]),
                   task=task, input_shape=tuple(int(s) for s in shape),
                   x_mean=np.zeros(width), x_std=np.ones(width), **extra)
