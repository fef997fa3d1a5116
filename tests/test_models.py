import torch
from torch import nn

from raytune_app.trial.models import Hyperparams, apply_hyperparams, build_model, build_optimizer


def linear_shapes(model):
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def test_default_mlp_is_the_classic_neuralnet():
    hp = Hyperparams.from_config({})
    model = build_model("mlp", hp, (128,), 10)
    assert linear_shapes(model) == [(128, 256), (256, 128), (128, 10)]
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 2
    assert isinstance(build_optimizer(hp, model.parameters()), torch.optim.Adam)


def test_layers_width_activation_and_dropout_follow_the_config():
    hp = Hyperparams.from_config({"hidden_layers": 3, "hidden_size": 64, "activation": "gelu", "dropout": 0.2})
    model = build_model("mlp", hp, (1, 8, 8), 10)
    assert linear_shapes(model) == [(64, 64), (64, 64), (64, 64), (64, 10)]
    assert sum(isinstance(m, nn.GELU) for m in model.modules()) == 3
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == 3


def test_explicit_hidden_sizes_win():
    model = build_model("mlp", Hyperparams.from_config({"hidden_sizes": [32, 16]}), (5,), 1)
    assert linear_shapes(model) == [(5, 32), (32, 16), (16, 1)]


def test_cnn_runs_on_image_batches():
    hp = Hyperparams.from_config({"channels": 8, "kernel_size": 5})
    model = build_model("cnn", hp, (1, 8, 8), 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16] and convs[0].kernel_size == (5, 5)
    assert model(torch.zeros(4, 1, 8, 8)).shape == (4, 10)


def test_optimizers_and_conditional_branch():
    hp = Hyperparams.from_config({"optimizer": {"name": "sgd", "lr": 0.5, "momentum": 0.8, "nesterov": True}})
    opt = build_optimizer(hp, build_model("mlp", hp, (4,), 2).parameters())
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["nesterov"] is True
    apply_hyperparams(opt, Hyperparams.from_config({"lr": 0.01, "momentum": 0.1}))
    assert (opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]) == (0.01, 0.1)


def test_every_activation_name_the_spec_accepts_builds_a_layer():
    from raytune_app.spec import hyperparams
    from raytune_app.trial import models

    assert tuple(models.ACTIVATIONS) == hyperparams.ACTIVATIONS
