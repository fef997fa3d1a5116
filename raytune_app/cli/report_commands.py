"""Commands that read finished experiments (report, tensorboard, best, evaluate)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK = 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def report_arguments(p: argparse.ArgumentParser) -> None:
    from raytune_app.results.report import FORMATS

    p.description = ("Trials of one or more experiments ranked by the experiment's metric (its mode respected), "
                     "with status, epochs, best and last metric and their hyperparameters.")
    p.add_argument("experiments", nargs="+", metavar="EXP", help="experiment folders (STORAGE/NAME)")
    p.add_argument("--format", choices=FORMATS, default="table", help="how to print the ranked trials")
    p.add_argument("--top", type=_positive, metavar="N", help="the best N trials of each experiment")
    p.add_argument("--sort", metavar="METRIC", help="rank by another reported metric (e.g. val_loss)")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="also write a self-contained HTML page with plots to FILE")


def run_report(args: argparse.Namespace) -> int:
    from raytune_app.results.report import damage_warnings, load_experiments, ranked, render

    experiments = load_experiments(args.experiments)
    table = ranked(experiments, args.sort, args.top)
    for warning in damage_warnings(experiments):
        print(warning, file=sys.stderr)
    print(render(experiments, table, args.format), flush=True)
    if args.html:
        from raytune_app.results.html_report import write_html

        write_html(experiments, table, args.html)
        print(f"HTML report: {args.html.resolve()}", file=sys.stderr)
    return EXIT_OK


def tensorboard_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "TensorBoard over an experiment folder (or a folder of several), live while trials run."
    p.add_argument("experiment", metavar="EXP", help="experiment folder, or a folder holding experiments")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=6006, help="default 6006; 0 picks a free one")
    p.add_argument("--reload-interval", type=float, default=5.0, metavar="S",
                   help="seconds between reads of new results (default 5)")


def run_tensorboard(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (or SIGTERM)."""
    import signal
    import time

    from raytune_app.results.tensorboard_server import check_logdir, start

    logdir = check_logdir(args.experiment)
    _, url = start(logdir, args.host, args.port, args.reload_interval)
    print(f"TensorBoard at {url} serving {logdir}: scalars per trial, every trial in the HParams tab. "
          f"Ctrl-C to stop.", flush=True)
    # Ctrl-C stops it even when it was started from a script that ignores SIGINT (a background job of a
    # non-interactive shell: Python then installs no handler of its own); SIGTERM stops it the same way
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("TensorBoard stopped.", flush=True)
    return EXIT_OK


def best_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("The best trial: its score, config and checkpoint; with --export DIR its weights (model.pt), "
                     "what rebuilds and feeds the model (config.json) and its scores (scores.json).")
    p.add_argument("experiment", metavar="EXP", help="experiment folder (STORAGE/NAME)")
    p.add_argument("--export", type=Path, metavar="DIR", help="write model.pt, config.json, scores.json here")
    p.add_argument("--pareto", action="store_true",
                   help="several objectives: every trial of the Pareto front (with --export, one folder DIR/TRIAL_ID "
                        "each); without it the trial the experiment's `select:` rule picks")


def _show(best, heading: str, export_to: Path | None) -> None:
    from raytune_app.results.export import export

    objectives = {o.name for o in best.experiment.pareto.objectives} | {"front_rank"} \
        if best.experiment.multi_objective else set()
    scores = ", ".join(f"{k} = {v}" if k in objectives and isinstance(v, int) else f"{k} = {v:.4f}"
                       for k, v in best.scores.items()
                       if (k.startswith(("val_", "test_", "train_")) or k in objectives)
                       and isinstance(v, (int, float)))
    print(f"{heading} {best.trial_id} of {best.experiment.name} (epoch {best.epoch}): {scores}")
    print(f"Config: {json.dumps(best.config, sort_keys=True, default=str)}")
    print(f"Checkpoint: {best.checkpoint}")
    if export_to:
        written = export(best, export_to)
        print(f"Exported to {export_to.resolve()}: {', '.join(p.name for p in written)}")


def run_best(args: argparse.Namespace) -> int:
    from raytune_app.results.export import load_best, pareto_ids

    if not args.pareto:
        _show(load_best(args.experiment), "Best trial", args.export)  # RunFailed (exit 1) without a best trial
        return EXIT_OK
    ids = pareto_ids(args.experiment)
    if args.export:  # never over an earlier export: every folder is checked before any is written
        taken = [str(args.export / t) for t in ids if (args.export / t).exists()]
        if taken:
            from raytune_app.errors import InputError

            raise InputError([f"--export: {', '.join(taken)} already exist(s); pick another folder"])
    print(f"Pareto front: {len(ids)} trial(s)")
    for trial_id in ids:
        _show(load_best(args.experiment, trial_id=trial_id), "Pareto trial",
              args.export / trial_id if args.export else None)
    return EXIT_OK


def evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Score the experiment's best model on new data of the same shape, standardised as in "
                     "training: accuracy (classification) or rmse (regression).")
    p.add_argument("experiment", metavar="EXP", help="experiment folder (STORAGE/NAME)")
    p.add_argument("--data", required=True, metavar="FILE",
                   help=".npz with arrays X and y, or .csv with the experiment's label column")
    p.add_argument("--trial", metavar="ID", help="score this trial (at its best epoch) instead of the best one, "
                                                 "e.g. a point of the Pareto front")


def run_evaluate(args: argparse.Namespace) -> int:
    from raytune_app.results.export import evaluate_file, load_best

    best = load_best(args.experiment, trial_id=args.trial)  # RunFailed (exit 1) when there is no best trial yet
    name, value, rows = evaluate_file(best, args.data)
    print(f"{name} = {value:.4f} on {rows} rows of {args.data} ({'trial' if args.trial else 'best trial'} "
          f"{best.trial_id} of {best.experiment.name})")
    return EXIT_OK


# name -> (function adding the command's arguments to its argparse parser, function(args) -> exit code)
REPORT_COMMANDS: dict = {
    "report": (report_arguments, run_report),
    "tensorboard": (tensorboard_arguments, run_tensorboard),
    "best": (best_arguments, run_best),
    "evaluate": (evaluate_arguments, run_evaluate),
}
