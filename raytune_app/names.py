"""Names an experiment file can choose from, importable without Ray or PyTorch (for the CLI's parser)."""

SCHEDULERS = ("asha", "hyperband", "median", "pbt", "fifo")
SEARCHERS = ("hyperopt", "random", "grid")
