"""Names an experiment file can choose from, importable without Ray or PyTorch (for the CLI's parser)."""

SCHEDULERS = ("asha", "hyperband", "median", "pbt", "fifo", "hb_bohb", "pareto_asha")
SEARCHERS = ("hyperopt", "random", "grid", "optuna", "bohb")
SPEC_FILE = "raytune_app_spec.json"  # the validated spec, saved in every experiment folder
