"""`raytune-app`: tune experiments, resume or extend them, check files, run a local cluster, compare trials.

Exit codes: 0 done, 1 the run failed, 2 bad input, 130 interrupted (state saved, resumable).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from .errors import InputError, RunFailed

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _tune_flags(p: argparse.ArgumentParser) -> None:
    from .names import SCHEDULERS, SEARCHERS

    g = p.add_argument_group("overrides of the experiment file")
    g.add_argument("--scheduler", choices=SCHEDULERS)
    g.add_argument("--search", choices=SEARCHERS)
    g.add_argument("--cpus-per-trial", type=float, dest="resources.cpus_per_trial")
    g.add_argument("--gpus-per-trial", type=float, dest="resources.gpus_per_trial", help="fractions allowed")
    g.add_argument("--max-concurrent", type=int, help="trials running at once (default: all that fit)")
    g.add_argument("--num-samples", type=int, help="number of trials")
    g.add_argument("--max-epochs", type=int, help="epochs per trial at most")
    g.add_argument("--time-budget", type=float, dest="time_budget_s", help="seconds for the whole search")
    g.add_argument("--max-failures", type=int, help="retries of a failed trial from its checkpoint")
    g.add_argument("--seed", type=int)
    g.add_argument("--storage", help="results folder or URI (default ./runs)")
    g.add_argument("--name", help="experiment name (default: from the file)")


def _ray_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="join a running Ray cluster (auto or HOST:PORT); default: start one")
    p.add_argument("--dashboard", action="store_true", help="start Ray's dashboard (on 127.0.0.1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raytune-app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tune_p = sub.add_parser("tune", help="run the experiment a file describes")
    tune_p.add_argument("file", type=Path)
    tune_p.add_argument("--resume", action="store_true", help="continue the experiment if it already exists")
    tune_p.add_argument("--warm-start", nargs="+", metavar="EXP",
                        help="start HyperOpt from earlier experiments' finished trials (folders or names)")
    _tune_flags(tune_p)
    _ray_flags(tune_p)
    resume_p = sub.add_parser("resume", help="finish an interrupted experiment: raytune-app resume STORAGE/NAME")
    resume_p.add_argument("path")
    resume_p.add_argument("--restart-errored", action="store_true", help="start errored trials over")
    _ray_flags(resume_p)
    extend_p = sub.add_parser("extend", help="more trials for a finished experiment, warm-started from it")
    extend_p.add_argument("path")
    extend_p.add_argument("--num-samples", type=int, required=True, help="how many more trials")
    extend_p.add_argument("--name", help="the new experiment's name (default: NAME-extK)")
    _ray_flags(extend_p)
    validate_p = sub.add_parser("validate", help="check experiment files without starting Ray")
    validate_p.add_argument("files", type=Path, nargs="+")
    local_p = sub.add_parser("cluster-local", help="a multi-node Ray cluster on this machine (127.0.0.x)")
    local_p.add_argument("action", choices=["up", "down", "status"])
    local_p.add_argument("--nodes", type=int, default=3)
    local_p.add_argument("--cpus-per-node", type=float, default=1)
    local_p.add_argument("--port", type=int, default=6379, help="the head's GCS port")
    local_p.add_argument("--dashboard-port", type=int, default=8265, help="dashboard and job server (127.0.0.1)")
    for name, (add_parser, _) in EXTRA_COMMANDS.items():
        add_parser(sub.add_parser(name))
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    keys = ["scheduler", "search", "resources.cpus_per_trial", "resources.gpus_per_trial", "max_concurrent",
            "num_samples", "max_epochs", "time_budget_s", "max_failures", "seed", "storage", "name"]
    return {k: getattr(args, k) for k in keys}


def _check_metric(spec, task: str, source: str) -> None:
    from .data import METRICS

    if spec.metric not in METRICS[task]:
        raise InputError([f"{source}: metric: {spec.metric!r} is not reported for {task} data; "
                          f"one of {', '.join(METRICS[task])}"])


def _dataset(spec, source: str):
    """The experiment's data, checked against its metric; InputError naming `source` on any problem."""
    from . import data as data_mod

    try:
        dataset = data_mod.load_dataset(spec.data)
    except InputError as exc:
        raise InputError(f"{source}: {p}" for p in exc.problems) from None
    _check_metric(spec, dataset.task, source)
    return dataset


def _load(file: Path, overrides: dict):
    """Spec and data, both validated; InputError on any problem."""
    from .spec import load_spec

    spec = load_spec(file, overrides)
    return spec, _dataset(spec, str(file))


def _prepare_while_ray_starts(spec, source: str) -> Future:
    """The data, ready by the time Ray is. A data file is read at once, so that its problems stop the
    command before Ray starts. A built-in data set cannot fail: it is generated in a thread while the main
    thread starts Ray, PyTorch imported beside it; together they take as long as Ray's start."""
    from .data import BUILTIN, task_of

    if spec.data.dataset not in BUILTIN:
        future: Future = Future()
        future.set_result(_dataset(spec, source))
        return future
    _check_metric(spec, task_of(spec.data), source)

    def prepare():
        import tensorboard.plugins.hparams.summary_v2  # noqa: F401 -- for the callbacks, like torch
        import torch  # noqa: F401 -- for the trainable and the summary, imported next

        return _dataset(spec, source)

    pool = ThreadPoolExecutor(1, thread_name_prefix="raytune-app-data")
    future = pool.submit(prepare)
    pool.shutdown(wait=False)
    return future


def _describe(spec) -> str:
    params = spec.params
    sampled = [n for n, p in params.items() if p.kind != "constant"]
    return (f"{spec.trial_count} trials x {spec.max_epochs} epochs, {spec.scheduler.name} + {spec.search.name}, "
            f"{spec.model} on {Path(spec.data.dataset).name}, optimising {spec.metric} ({spec.mode}); "
            f"searching {', '.join(sampled) or 'nothing'}")


def cmd_validate(args: argparse.Namespace) -> int:
    """Check every file; print `ok` with a summary or every problem. Never starts Ray."""
    code = EXIT_OK
    for file in args.files:
        try:
            spec, _ = _load(file, {})
            print(f"{file}: ok: {_describe(spec)}")
        except InputError as exc:
            print("\n".join(exc.problems), file=sys.stderr)
            code = EXIT_BAD_INPUT
    return code


def _resume_hint(path: str, address: str | None) -> str:
    return f"raytune-app resume {shlex.quote(path)}" + (f" --address {shlex.quote(address)}" if address else "")


def _run(tuner, spec, dataset, path: str, address: str | None) -> int:
    from .interrupts import graceful_interrupts
    from .summary import summarize

    started = time.monotonic()
    with graceful_interrupts() as stopped:
        results = tuner.fit()
    summary = summarize(results, spec, dataset, path, time.monotonic() - started)
    if spec.scheduler.name != "pbt":  # PBT hands checkpoints from trial to trial: all of them stay
        from .retention import prune

        prune(path, spec.metric, spec.mode, spec.keep_checkpoints)
    _print_summary(summary)
    if stopped.is_set():
        print(f"\nInterrupted; the experiment's state is saved. Resume it with:\n  {_resume_hint(path, address)}",
              flush=True)
        return EXIT_INTERRUPTED
    errored = summary["trials_by_status"].get("error", 0)
    if errored:
        print(f"\n{errored} trial(s) failed after {spec.max_failures} retries; their errors are in Ray's "
              f"error.txt files. Retry them from their checkpoints with:\n  {_resume_hint(path, address)}",
              file=sys.stderr, flush=True)
    return EXIT_OK if summary["best"] and not errored else EXIT_FAILED


def _print_summary(summary: dict) -> None:
    best = summary["best"]
    counts = ", ".join(f"{n} {s}" for s, n in summary["trials_by_status"].items())
    print(f"\n{summary['num_trials']} trials ({counts}), {summary['total_epochs']} epochs "
          f"in {summary['wall_time_s']:.1f} s")
    if best:
        test = {k: v for k, v in best.items() if k.startswith("test_")}
        print(f"Best trial {best['trial_id']}: {summary['metric']} = {best[summary['metric']]:.4f}"
              + "".join(f", {k} = {v:.4f}" for k, v in test.items() if v is not None))
        print(f"Best config: {json.dumps(best['config'], sort_keys=True, default=str)}")
    else:
        print("No trial reported a usable metric.", file=sys.stderr)
    print(f"Results: {summary['path']} (summary.json, trials.csv)")
    print(f"TensorBoard: tensorboard --logdir {summary['path']} --host 127.0.0.1")


def _warm_start_paths(names: list[str], storage_root: str) -> list[str]:
    """Each --warm-start EXP as a folder: a path as given, or a name under the storage path."""
    from . import storage

    return [name if storage.exists(name) else storage.join(storage.resolve(storage_root), name) for name in names]


def _start(spec, source: str, args: argparse.Namespace, warm: list[str], resume: bool) -> int:
    """Check, connect, then run a fresh experiment (or continue an existing one with `resume`)."""
    from . import storage
    from .saved import experiment_path, save_spec
    from .ray_session import check_storage_shared, connect, trial_capacity

    path = experiment_path(spec)
    resuming = storage.exists(path)
    if resuming and not resume:
        raise InputError([f"{source}: name: experiment {spec.name!r} already exists at {path}; "
                          f"continue it with `{_resume_hint(path, args.address)}` or pick another --name"])
    if warm and spec.search.name != "hyperopt":
        raise InputError([f"{source}: search: a warm start needs `search: hyperopt` "
                          f"(random and grid search do not learn from earlier trials)"])
    prepared = _prepare_while_ray_starts(spec, source)
    problem = storage.check_writable(spec.storage)
    if problem:
        raise InputError([f"{source}: storage: {problem}"])
    print(f"{spec.name}: {_describe(spec)}", flush=True)
    connect(args.address, args.dashboard)
    capacity = trial_capacity(spec.resources.cpus_per_trial, spec.resources.gpus_per_trial, source)
    check_storage_shared(spec.storage, source)
    dataset = prepared.result()
    from .experiment import build_tuner, restore_tuner

    if resuming:
        return _run(restore_tuner(path, spec, dataset, restart_errored=False), spec, dataset, path, args.address)
    history = None
    if warm:
        from .spec import WarmStartSpec
        from .warm_start import load_history

        history = load_history(warm, spec.params, spec.metric, source)
        spec = spec.model_copy(update={"warm_start": WarmStartSpec(
            sources=list(history.sources), points=len(history.points), skipped=history.skipped)})
        print(f"warm start: {len(history.points)} earlier trial(s) from {len(warm)} experiment(s)"
              f"{f', {history.skipped} outside the new space skipped' if history.skipped else ''}", flush=True)
    save_spec(spec)
    # synchronous HyperBand pauses trials until their bracket is full: a searcher limited to what fits at
    # once would then wait for them forever (seen as a spinning driver); Ray's placement limits them anyway
    default_concurrency = spec.trial_count if spec.scheduler.name == "hyperband" else capacity
    return _run(build_tuner(spec, dataset, spec.max_concurrent or default_concurrency, history), spec, dataset,
                path, args.address)


def cmd_tune(args: argparse.Namespace) -> int:
    from .spec import load_spec

    spec = load_spec(args.file, _overrides(args))
    warm = _warm_start_paths(args.warm_start or [], spec.storage)
    return _start(spec, str(args.file), args, warm, resume=args.resume)


def _saved(path_arg: str):
    """(folder, spec) of an existing experiment, from the spec it saved; InputError if it is none."""
    from . import storage
    from .saved import load_saved_spec
    from .names import SPEC_FILE

    path = storage.resolve(path_arg).rstrip("/")
    if not storage.exists(storage.join(path, SPEC_FILE)):
        raise InputError([f"{path_arg}: not a raytune-app experiment folder (no {SPEC_FILE})"])
    return path, load_saved_spec(path)


def cmd_extend(args: argparse.Namespace) -> int:
    """N more trials for a finished experiment: a new experiment beside it, warm-started from it."""
    from . import storage

    if args.num_samples < 1:
        raise InputError([f"{args.path}: --num-samples: must be at least 1, got {args.num_samples}"])
    path, old = _saved(args.path)
    parent, old_name = path.rsplit("/", 1)
    name = args.name or next(f"{old_name}-ext{k}" for k in range(1, 1000)
                             if not storage.exists(storage.join(parent, f"{old_name}-ext{k}")))
    spec = old.model_copy(update={"name": name, "num_samples": args.num_samples, "storage": parent,
                                  "extends": path, "warm_start": None})
    return _start(spec, args.path, args, [path], resume=False)


def cmd_resume(args: argparse.Namespace) -> int:
    from .ray_session import connect

    path, spec = _saved(args.path)
    prepared = _prepare_while_ray_starts(spec, args.path)
    connect(args.address, args.dashboard)
    dataset = prepared.result()
    from .experiment import restore_tuner

    return _run(restore_tuner(path, spec, dataset, args.restart_errored), spec, dataset, path, args.address)


def cmd_cluster_local(args: argparse.Namespace) -> int:
    from . import local_cluster

    if args.action == "down":
        print(f"stopped {local_cluster.down()} node(s)")
        return EXIT_OK
    state = local_cluster.read_state() if args.action == "status" else local_cluster.up(
        args.nodes, args.cpus_per_node, args.port, args.dashboard_port)
    if not state:
        print("no local cluster is up")
        return EXIT_FAILED
    print(f"{len(state['nodes'])} node(s): {', '.join(n['ip'] for n in state['nodes'])}\n"
          f"address:   {state['address']}\n"
          f"dashboard: {state['dashboard']}\n"
          f"tune:      raytune-app tune FILE --address {state['address']}\n"
          f"submit:    ray job submit --address {state['dashboard']} --working-dir . -- "
          f"raytune-app tune FILE --address auto --storage $PWD/runs\n"
          f"stop:      raytune-app cluster-local down")
    return EXIT_OK


def _extra_commands() -> dict:
    """Commands that live in modules of their own: name -> (add arguments to parser, run)."""
    from .report_commands import REPORT_COMMANDS

    return dict(REPORT_COMMANDS)


EXTRA_COMMANDS = _extra_commands()
COMMANDS = {"tune": cmd_tune, "resume": cmd_resume, "extend": cmd_extend, "validate": cmd_validate,
            "cluster-local": cmd_cluster_local,
            **{name: run for name, (_, run) in EXTRA_COMMANDS.items()}}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `raytune-app` console script."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return EXIT_BAD_INPUT
    except RunFailed as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED


def run() -> None:
    """The `raytune-app` command: main(), then a quick exit. Everything is written and flushed by then;
    Python's own teardown of PyTorch, Ray and scikit-learn would add about a second to every command."""
    code = main()
    if "ray" in sys.modules:
        from .ray_session import leave

        leave()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    run()
