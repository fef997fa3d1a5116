"""Data-parallel trials and GPU packing without Ray or a GPU: the file's keys, the resource arithmetic, the
batch shares that make N workers train like one, and the packing of trials by measured memory."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from raytune_app.cluster.ray_session import capacity
from raytune_app.data.datasets import Dataset
from raytune_app.errors import InputError
from raytune_app.run.gpu_packing import GIB, gpu_fraction, largest_configs, probe_step, trials_per_gpu
from raytune_app.spec.load import load_spec
from raytune_app.spec.space import parse_space
from raytune_app.trial.loop import train_epoch

from conftest import write_experiment
from user_code_files import write_trainable_experiment, write_user_code


@pytest.mark.parametrize("resources, line", [
    ({"workers_per_trial": 0}, "resources.workers_per_trial: input should be greater than or equal to 1"),
    ({"workers_per_trial": 2, "gpus_per_trial": 1}, "resources.gpus_per_trial: is for one-process trials; "
                                                    "with workers_per_trial > 1 set gpus_per_worker"),
    ({"workers_per_trial": 2, "gpus_per_trial": "auto"}, "resources.gpus_per_trial: is for one-process trials"),
    ({"gpus_per_worker": 1}, "resources.gpus_per_worker: needs workers_per_trial > 1"),
    ({"gpus_per_trial": "most"}, "resources.gpus_per_trial: must be a number of GPUs (0 or more, fractions "
                                 "allowed) or 'auto', got 'most'"),
])
def test_resource_keys_that_do_not_fit_the_kind_of_trial_are_one_line_each(tmp_path, resources, line):
    path = write_experiment(tmp_path / "dp.yaml", resources=resources)
    with pytest.raises(InputError) as exc:
        load_spec(path)
    (problem,) = exc.value.problems
    assert problem.startswith(f"{path}: {line}"), problem


def test_a_data_parallel_trial_counts_all_its_workers():
    gpu_nodes = [{"CPU": 8, "GPU": 1}, {"CPU": 8, "GPU": 1}]
    assert capacity(gpu_nodes, 1, 1, "f", workers=2) == 1  # one 2-GPU trial over the two nodes
    assert capacity(gpu_nodes, 1, 0.5, "f", workers=2) == 2  # or two of 2 x 0.5 GPU
    assert capacity([{"CPU": 1}] * 3, 1, 0, "f", workers=2) == 1
    with pytest.raises(InputError, match=r"^f: resources.workers_per_trial: 4 workers of 1 CPUs and 1 GPUs \(4 GPUs "
                                         r"per trial\), but the Ray cluster can never hold more than 2 such workers"):
        capacity(gpu_nodes, 1, 1, "f", workers=4)
    with pytest.raises(InputError, match="f: resources.gpus_per_worker: 1 GPUs per worker, but the Ray cluster has "
                                         "no GPUs"):
        capacity([{"CPU": 8}], 1, 1, "f", workers=2)


def _digits_like(rows: int) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(rows, 6, generator=gen)
    y = torch.randint(0, 3, (rows,), generator=gen)
    return Dataset(X.numpy(), y.numpy(), X.numpy(), y.numpy(), None, None, "classification", (6,), n_classes=3)


@pytest.mark.parametrize("rows, world", [(7, 2), (2, 3)])  # uneven shares; a worker with an empty share
def test_workers_shares_of_a_batch_average_to_one_workers_step(rows, world):
    """One SGD step per worker on its share: DDP's average of the gradients (here, of the updated weights, SGD
    being linear in the gradient) and the average of the returned losses are the one-worker step's."""
    data = _digits_like(rows)
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))

    def step(rank: int, n: int) -> tuple[nn.Module, float]:
        m = copy.deepcopy(model)
        loss = train_epoch(m, torch.optim.SGD(m.parameters(), lr=0.5), X, y, data, rows, torch.Generator(), rank, n)
        return m, loss

    one, one_loss = step(0, 1)
    shares = [step(rank, world) for rank in range(world)]
    assert sum(loss for _, loss in shares) / world == pytest.approx(one_loss, rel=1e-6)
    for name, weight in one.state_dict().items():
        averaged = sum(m.state_dict()[name] for m, _ in shares) / world
        assert torch.allclose(averaged, weight, atol=1e-6), name


def test_the_probe_measures_the_largest_models_the_space_can_produce():
    params, _ = parse_space({
        "lr": {"loguniform": [1e-4, 1e-1]}, "hidden_size": {"choice": [32, 256, 64]},
        "batch_size": {"int": [16, 128]}, "activation": {"choice": ["relu", "gelu"]}, "dropout": 0.1,
        "optimizer": {"choice": [{"name": "sgd", "momentum": {"uniform": [0.0, 0.9]}}, {"name": "adam"}]}})
    configs = largest_configs(params)
    assert len(configs) == 4  # 2 activations x 2 optimizer branches; every number at its largest
    assert all(c["hidden_size"] == 256 and c["batch_size"] == 128 and c["lr"] == 1e-1 and c["dropout"] == 0.1
               for c in configs)
    assert {c["activation"] for c in configs} == {"relu", "gelu"}
    assert {"name": "sgd", "momentum": 0.9} in [c["optimizer"] for c in configs]
    assert len(largest_configs(params, limit=3)) == 3


def test_trials_are_packed_by_memory_with_a_margin():
    assert trials_per_gpu(1 * GIB, 80 * GIB) == 57  # 72 GiB usable / 1.25 GiB per trial
    assert trials_per_gpu(70 * GIB, 80 * GIB) == 1  # most of a GPU: a whole GPU
    assert trials_per_gpu(81 * GIB, 80 * GIB) == 0  # does not fit at all
    for trials in (1, 3, 7, 57):
        fraction = gpu_fraction(trials)
        assert trials * fraction <= 1 and (trials + 1) * fraction > 1 - 1e-3, (trials, fraction)
    assert gpu_fraction(3) == 0.3333


def test_the_probe_trains_the_users_model_not_a_built_in_one(tmp_path):
    """`gpus_per_trial: auto` with `model: FILE.py:NAME`: one step of the user's model, built as trials build it
    (here on the CPU: the GPU around it is test_data_parallel_gpu_e2e's)."""
    log = tmp_path / "built.txt"
    (tmp_path / "wide.py").write_text(
        "from torch import nn\n\n\nclass Wide(nn.Module):\n"
        "    def __init__(self, input_shape, num_outputs, width):\n"
        "        super().__init__()\n"
        f"        open({str(log)!r}, 'a').write(f'{{width}}\\n')\n"
        "        self.net = nn.Sequential(nn.Flatten(), nn.Linear(6, width), nn.Linear(width, num_outputs))\n\n"
        "    def forward(self, x):\n"
        "        return self.net(x)\n")
    spec = load_spec(write_experiment(tmp_path / "auto.yaml", model="wide.py:Wide",
                                      resources={"gpus_per_trial": "auto"},
                                      space={"width": {"choice": [8, 512, 64]}, "batch_size": 4}))
    (config,) = largest_configs(spec.params)
    probe_step(spec.model, spec.code_dir, config, _digits_like(5), torch.device("cpu"))
    assert log.read_text() == "512\n"


def test_auto_is_refused_for_a_training_function_before_ray_starts(tmp_path, capsys):
    import ray

    from raytune_app.cli.main import main

    write_user_code(tmp_path)
    path = write_trainable_experiment(tmp_path / "fn.yaml", resources={"gpus_per_trial": "auto"})
    assert main(["tune", str(path), "--storage", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == (f"{path}: resources.gpus_per_trial: auto measures one training step of the "
                                       "built-in loop; a training function (trainable) trains its own way: give a "
                                       "number of GPUs\n")
    assert not ray.is_initialized() and not (tmp_path / "runs").exists()
