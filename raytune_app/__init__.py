"""raytune-app: distributed hyperparameter tuning for PyTorch, built on Ray Tune."""

__version__ = "0.1.0"
