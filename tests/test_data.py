import numpy as np
import pytest

from raytune_app.data.datasets import builtin_nbytes, load_dataset
from raytune_app.errors import InputError
from raytune_app.spec.load import DataSpec


def test_digits_are_split_standardised_and_image_shaped():
    ds = load_dataset(DataSpec(dataset="digits", val_fraction=0.2, test_fraction=0.2))
    assert ds.task == "classification" and ds.n_classes == 10 and ds.input_shape == (1, 8, 8)
    assert len(ds.X_train) + len(ds.X_val) + len(ds.X_test) == 1797
    assert len(ds.X_val) == pytest.approx(0.2 * 1797, abs=2)
    flat = ds.X_train.reshape(len(ds.X_train), -1)
    assert np.allclose(flat.mean(axis=0), 0, atol=1e-5)  # fitted on the training split ...
    assert not np.allclose(ds.X_val.reshape(len(ds.X_val), -1).mean(axis=0), 0, atol=1e-5)  # ... only
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64


@pytest.mark.parametrize("name, task, classes", [("wine", "classification", 3),
                                                  ("breast_cancer", "classification", 2),
                                                  ("diabetes", "regression", 0)])
def test_other_builtins(name, task, classes):
    ds = load_dataset(DataSpec(dataset=name))
    assert ds.task == task and ds.n_classes == classes
    if task == "regression":
        assert ds.y_std > 1 and ds.outputs == 1


def test_synthetic_has_the_requested_shape():
    ds = load_dataset(DataSpec(dataset="synthetic", n_samples=500, n_features=128, n_classes=10))
    assert ds.input_shape == (128,) and ds.n_classes == 10


def test_npz_with_X_and_y_is_split_by_seed(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, X=rng.normal(size=(200, 5)), y=rng.integers(0, 3, 200))
    a, b = load_dataset(DataSpec(dataset=str(path))), load_dataset(DataSpec(dataset=str(path)))
    assert a.input_shape == (5,) and a.n_classes == 3
    assert np.array_equal(a.X_val, b.X_val)
    c = load_dataset(DataSpec(dataset=str(path), seed=1))
    assert not np.array_equal(a.X_val, c.X_val)


def test_npz_with_explicit_splits_is_used_as_given(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, X_train=rng.normal(size=(50, 4)), y_train=rng.integers(0, 2, 50),
             X_val=rng.normal(size=(7, 4)), y_val=rng.integers(0, 2, 7))
    ds = load_dataset(DataSpec(dataset=str(path)))
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (50, 7, 0)


def test_csv_with_a_label_column_and_float_target_is_regression(tmp_path):
    path = tmp_path / "d.csv"
    rows = ["a,b,target"] + [f"{i},{i % 7},{i * 0.5}" for i in range(60)]
    path.write_text("\n".join(rows))
    ds = load_dataset(DataSpec(dataset=str(path), label="target"))
    assert ds.task == "regression" and ds.input_shape == (2,)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such data file"),
    (lambda p: p.write_text("not a zip"), "cannot read"),
    (lambda p: np.savez(p, X=np.zeros((5, 2)), y=np.zeros(4)), "X has 5 rows but y has 4"),
    (lambda p: np.savez(p, X=np.full((5, 2), np.nan), y=np.zeros(5)), "NaN"),
    (lambda p: np.savez(p, A=np.zeros(3)), "needs arrays X and y"),
])
def test_bad_npz_files_are_input_errors(tmp_path, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(InputError) as err:
        load_dataset(DataSpec(dataset=str(path)))
    assert message in err.value.problems[0] and err.value.problems[0].startswith("data.dataset: ")


def test_csv_without_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(InputError, match="no label column 'label'"):
        load_dataset(DataSpec(dataset=str(path)))


def test_builtin_size_known_before_generation_bounds_the_data():
    for spec in (DataSpec(dataset="synthetic", n_samples=3000, n_features=64), DataSpec(dataset="digits")):
        assert load_dataset(spec).nbytes <= builtin_nbytes(spec)
