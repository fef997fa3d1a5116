"""Data sets: scikit-learn's bundled ones, synthetic data, or the user's .npz/.csv.

Loaded once in the driver, split, standardised on the training split only, and
handed to trials through Ray's object store (`tune.with_parameters`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raytune_app.data import standardise
from raytune_app.errors import InputError

BUILTIN = {
    "digits": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
    "synthetic": "classification",
}


@dataclass
class Dataset:
    """Split, standardised arrays plus what a model needs to know about them."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str  # "classification" | "regression"
    input_shape: tuple[int, ...]
    n_classes: int = 0
    y_mean: float = 0.0  # regression targets are trained standardised
    y_std: float = 1.0
    # the standardisation of the features (training split's per-feature mean and std, flattened) and the
    # original class labels (index = class id): what a model trained on this data needs to be fed new data
    x_mean: np.ndarray | None = None
    x_std: np.ndarray | None = None
    classes: list | None = None

    @property
    def outputs(self) -> int:
        return self.n_classes if self.task == "classification" else 1

    @property
    def nbytes(self) -> int:
        """The arrays' bytes: what the data takes in Ray's object store."""
        return sum(a.nbytes for a in (self.X_train, self.y_train, self.X_val, self.y_val, self.X_test, self.y_test)
                   if a is not None)

    def without_test(self) -> "Dataset":
        """What trials get: the held-out test split stays in the driver."""
        return dataclasses.replace(self, X_test=None, y_test=None)


def task_of(data_spec) -> str | None:
    """The task a data spec implies without reading files (None: decided by the data)."""
    if data_spec.task != "auto":
        return data_spec.task
    if data_spec.loader:
        return None  # the loader's labels decide
    return BUILTIN.get(data_spec.dataset)


def builtin_nbytes(spec) -> int:
    """A built-in data set's size before it is generated (for sizing Ray's object store while it is):
    scikit-learn's bundled ones are under 2 MB; a synthetic one is n_samples x (n_features + 1) float64s at most."""
    return spec.n_samples * (spec.n_features + 1) * 8 if spec.dataset == "synthetic" else 2 * 1024**2


def _builtin(spec) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]:
    from sklearn import datasets

    if spec.dataset == "synthetic":
        informative = max(2, min(spec.n_features, spec.n_informative or spec.n_features // 2))
        X, y = datasets.make_classification(
            n_samples=spec.n_samples, n_features=spec.n_features, n_informative=informative,
            n_redundant=0, n_classes=spec.n_classes, n_clusters_per_class=1,
            class_sep=spec.class_sep, random_state=spec.seed,
        )
        return X, y, None
    loader = getattr(datasets, f"load_{spec.dataset}")
    X, y = loader(return_X_y=True)
    return X, y, (1, 8, 8) if spec.dataset == "digits" else None


def _read_npz(path: Path, key: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # zip, pickle and format errors all mean "unreadable"
        raise InputError([f"{key}: cannot read {path}: {exc}"]) from None
    if "X" in arrays and "y" in arrays:
        return {"X": arrays["X"], "y": arrays["y"]}
    needed = ("X_train", "y_train", "X_val", "y_val")
    missing = [k for k in needed if k not in arrays]
    if missing:
        raise InputError([f"{key}: {path} needs arrays X and y, or {', '.join(needed)}; "
                          f"it has {sorted(arrays)}"])
    return arrays


def _read_csv(path: Path, key: str, label: str) -> dict[str, np.ndarray]:
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except Exception as exc:
        raise InputError([f"{key}: cannot read {path}: {exc}"]) from None
    if label not in frame.columns:
        raise InputError([f"{key}: {path} has no label column {label!r} "
                          f"(set data.label); columns: {list(frame.columns)[:10]}"])
    features = frame.drop(columns=[label])
    non_numeric = [c for c in features.columns if not np.issubdtype(features[c].dtype, np.number)]
    if non_numeric:
        raise InputError([f"{key}: {path} has non-numeric feature columns {non_numeric[:5]}"])
    return {"X": features.to_numpy(), "y": frame[label].to_numpy()}


def first_non_finite(array: np.ndarray) -> int | None:
    """The first row holding NaN or an infinity, or None: such data makes every trial diverge (or, as labels,
    a class of its own); integers and labels that are not numbers are always finite."""
    if not np.issubdtype(array.dtype, np.inexact) or array.size == 0:
        return None
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def _check_arrays(arrays: dict[str, np.ndarray], key: str, path: Path) -> None:
    for part in ("", "_train", "_val", "_test"):
        X, y = arrays.get(f"X{part}"), arrays.get(f"y{part}")
        if X is None or y is None:
            continue
        if len(X) != len(y):
            raise InputError([f"{key}: {path}: X{part} has {len(X)} rows but y{part} has {len(y)}"])
        if len(X) == 0:
            raise InputError([f"{key}: {path}: X{part} is empty"])
        if not np.issubdtype(X.dtype, np.number):
            raise InputError([f"{key}: {path}: X{part} is not numeric ({X.dtype})"])
        for name, array in ((f"X{part}", X), (f"y{part}", y)):
            row = first_non_finite(array)
            if row is not None:
                raise InputError([f"{key}: {path}: {name} holds NaN or infinite values (first in row {row})"])


def read_arrays(path: Path, key: str, label: str = "label") -> dict[str, np.ndarray]:
    """The arrays of a user's .npz or .csv file, checked (lengths, numbers, NaN or infinite values); InputError
    naming `key`."""
    if path.suffix == ".npz":
        arrays = _read_npz(path, key)
    elif path.suffix == ".csv":
        arrays = _read_csv(path, key, label)
    else:
        raise InputError([f"{key}: {path}: unsupported file type (use .npz or .csv)"])
    _check_arrays(arrays, key, path)
    return arrays


def _infer_task(y: np.ndarray) -> str:
    return "regression" if np.issubdtype(y.dtype, np.floating) else "classification"


def _split(X, y, fraction, seed, stratify):
    from sklearn.model_selection import train_test_split

    if fraction <= 0:
        return X, X[:0], y, y[:0]
    try:
        return train_test_split(X, y, test_size=fraction, random_state=seed,
                                stratify=y if stratify else None)
    except ValueError:  # too few members of a class to stratify
        return train_test_split(X, y, test_size=fraction, random_state=seed)


def load_dataset(spec, sample: bool = False) -> Dataset:
    """Load, split and standardise the data a `data:` spec names; InputError on bad data. A user's loader's
    data is used as it returns it (`sample`: only its first rows, see user_loader)."""
    if spec.loader:
        from raytune_app.data.user_loader import load_user_data

        return load_user_data(spec, sample=sample)
    key = "data.dataset"
    image_shape = None
    if spec.dataset in BUILTIN:
        X, y, image_shape = _builtin(spec)
        arrays = {"X": X, "y": y}
    else:
        path = Path(spec.dataset)
        if not path.is_file():
            raise InputError([f"{key}: no such data file {spec.dataset!r} "
                              f"(built-in: {', '.join(BUILTIN)})"])
        arrays = read_arrays(path, key, spec.label)
    y_any = arrays.get("y", arrays.get("y_train"))
    task = task_of(spec) or _infer_task(y_any)

    if "X" in arrays:
        stratify = task == "classification"
        X_rest, X_test, y_rest, y_test = _split(arrays["X"], arrays["y"], spec.test_fraction, spec.seed, stratify)
        val = spec.val_fraction / (1 - spec.test_fraction)
        X_train, X_val, y_train, y_val = _split(X_rest, y_rest, val, spec.seed, stratify)
    else:
        X_train, y_train = arrays["X_train"], arrays["y_train"]
        X_val, y_val = arrays["X_val"], arrays["y_val"]
        X_test, y_test = arrays.get("X_test"), arrays.get("y_test")
        if X_test is None:
            X_test, y_test = X_val[:0], y_val[:0]
    return _prepare(X_train, y_train, X_val, y_val, X_test, y_test, task, image_shape)


def _prepare(X_train, y_train, X_val, y_val, X_test, y_test, task, image_shape) -> Dataset:
    """Standardise on the training split; encode class labels as 0..K-1."""
    shape = image_shape or tuple(X_train.shape[1:])
    mean, std = standardise.fit(X_train, int(np.prod(shape)))

    def scale(X: np.ndarray) -> np.ndarray:
        return standardise.apply(X, mean, std, shape)

    if task == "classification":
        classes, y_train_enc = np.unique(y_train, return_inverse=True)
        index = {c: i for i, c in enumerate(classes.tolist())}
        ys = (y_train_enc.astype(np.int64),
              *(np.array([index.get(v, -1) for v in np.asarray(y).tolist()], dtype=np.int64) for y in (y_val, y_test)))
        if any((y < 0).any() for y in ys[1:]):
            raise InputError(["data.dataset: the validation or test split has labels that the "
                              "training split never shows"])
        extra = {"n_classes": len(classes), "classes": classes.tolist()}
    else:
        y_mean, y_std = float(np.mean(y_train)), float(np.std(y_train)) or 1.0
        ys = tuple(np.asarray(y, dtype=np.float32) for y in (y_train, y_val, y_test))
        extra = {"y_mean": y_mean, "y_std": y_std}
    return Dataset(scale(X_train), ys[0], scale(X_val), ys[1], scale(X_test), ys[2],
                   task=task, input_shape=tuple(int(s) for s in shape), x_mean=mean, x_std=std, **extra)
