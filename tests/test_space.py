import pytest
from ray.tune.search.sample import Categorical, Float, Integer

from raytune_app.spec.space import flatten, parse_param, parse_space, to_param_space


def test_every_distribution_becomes_a_ray_domain():
    params, problems = parse_space({
        "lr": {"loguniform": [1e-4, 1e-1]}, "dropout": {"uniform": [0.0, 0.5]},
        "wd": {"quniform": [0.0, 1.0, 0.25]}, "layers": {"int": [1, 3]}, "units": {"logint": [8, 512]},
        "act": {"choice": ["relu", "tanh"]}, "depth": {"grid": [1, 2]}, "momentum": 0.9,
    })
    assert problems == []
    space = to_param_space(params)
    assert isinstance(space["lr"], Float) and space["lr"].lower == 1e-4
    assert isinstance(space["layers"], Integer) and (space["layers"].lower, space["layers"].upper) == (1, 4)
    assert isinstance(space["units"], Integer) and space["units"].upper == 513
    assert isinstance(space["act"], Categorical) and space["act"].categories == ["relu", "tanh"]
    assert space["depth"] == {"grid_search": [1, 2]}
    assert space["momentum"] == 0.9


def test_int_bounds_are_inclusive():
    domain = parse_param({"int": [1, 3]})[0].to_tune()
    assert {domain.sample() for _ in range(300)} == {1, 2, 3}


@pytest.mark.parametrize("value, message", [
    ({"loguniform": [0.0, 0.1]}, "loguniform needs 0 < low < high, got [0.0, 0.1]"),
    ({"uniform": [1, 0]}, "uniform needs low < high"),
    ({"uniform": [1]}, "uniform needs [low, high] as 2 numbers"),
    ({"uniform": ["a", 1]}, "uniform needs [low, high] as 2 numbers"),
    ({"int": [1.5, 3]}, "int needs integer bounds"),
    ({"logint": [0, 8]}, "logint needs 0 < low < high"),
    ({"quniform": [0, 1, 0]}, "quniform needs q > 0"),
    ({"choice": []}, "choice needs a non-empty list"),
    ({"grid": "abc"}, "grid needs a non-empty list"),
    ({"loguniforn": [1, 2]}, "unknown distribution 'loguniforn' (did you mean 'loguniform'?)"),
    ({"uniform": [0, 1], "int": [0, 1]}, "a distribution is a mapping with one key"),
])
def test_bad_distributions_are_named(value, message):
    param, problem = parse_param(value)
    assert param is None and message in problem


def test_problems_name_the_key():
    _, problems = parse_space({"lr": {"loguniform": [0, 1]}, "ok": 1})
    assert [k for k, _ in problems] == ["space.lr"]


def test_flatten_nested_configs():
    assert flatten({"optimizer": {"name": "sgd", "lr": 0.1}, "dropout": 0.2}) == {
        "optimizer/name": "sgd", "optimizer/lr": 0.1, "dropout": 0.2}
