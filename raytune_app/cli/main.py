"""`raytune-app`: tune experiments, resume or extend them, check files, run a local cluster, compare trials.

Exit codes: 0 done, 1 the run failed, 2 bad input, 130 interrupted (state saved, resumable).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from raytune_app.errors import InputError, RunFailed

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _gpus(text: str) -> float | str:
    """--gpus-per-trial: a number, or `auto` (the experiment file's validation judges either)."""
    try:
        return float(text)
    except ValueError:
        return text


def _tune_flags(p: argparse.ArgumentParser) -> None:
    from raytune_app.spec.names import SCHEDULERS, SEARCHERS

    g = p.add_argument_group("overrides of the experiment file")
    g.add_argument("--scheduler", choices=SCHEDULERS, help="Ray Tune's trial scheduler (the file's options are kept "
                                                           "for the same name)")
    g.add_argument("--search", choices=SEARCHERS, help="Ray Tune's searcher (the file's options are kept for the "
                                                       "same name)")
    g.add_argument("--cpus-per-trial", type=float, dest="cpus_per_trial", metavar="N",
                   help="CPUs each one-process trial holds (fractions allowed)")
    g.add_argument("--gpus-per-trial", type=_gpus, dest="gpus_per_trial", metavar="F",
                   help="fractions allowed; auto: packed by measured memory")
    g.add_argument("--workers-per-trial", type=int, dest="workers_per_trial", metavar="N",
                   help="data-parallel trials: DDP over this many Ray Train workers")
    g.add_argument("--cpus-per-worker", type=float, dest="cpus_per_worker", metavar="N",
                   help="CPUs each data-parallel worker holds")
    g.add_argument("--gpus-per-worker", type=float, dest="gpus_per_worker", metavar="F",
                   help="GPUs each data-parallel worker holds (fractions allowed)")
    g.add_argument("--max-concurrent", type=int, help="trials running at once (default: all that fit)")
    g.add_argument("--num-samples", type=int, help="number of trials")
    g.add_argument("--max-epochs", type=int, help="epochs per trial at most")
    g.add_argument("--time-budget", type=float, dest="time_budget", metavar="S",
                   help="seconds for the whole search")
    g.add_argument("--max-failures", type=int, help="retries of a failed trial from its checkpoint")
    g.add_argument("--seed", type=int, help="seeds the searcher and every trial's training")
    g.add_argument("--storage", help="results folder or URI (default ./runs)")
    g.add_argument("--name", help="experiment name (default: from the file)")
    g.add_argument("--mlflow", metavar="URI", dest="mlflow",
                   help="log each trial as an MLflow run at this tracking URI (needs raytune-app[mlflow])")


def _ray_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="join a running Ray cluster (auto or HOST:PORT); default: the one RAY_ADDRESS "
                                     "names or `ray start --head` started on this machine, else start one")
    p.add_argument("--dashboard", action="store_true", help="start Ray's dashboard (on 127.0.0.1) with a Ray it starts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raytune-app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tune_p = sub.add_parser("tune", help="run the experiment a file describes")
    tune_p.add_argument("file", type=Path, help="the experiment file (YAML)")
    tune_p.add_argument("--resume", action="store_true", help="continue the experiment if it already exists")
    tune_p.add_argument("--warm-start", nargs="+", metavar="EXP",
                        help="start HyperOpt from earlier experiments' finished trials (folders or names)")
    _tune_flags(tune_p)
    _ray_flags(tune_p)
    resume_p = sub.add_parser("resume", help="finish an interrupted experiment: raytune-app resume STORAGE/NAME")
    resume_p.add_argument("path", help="the experiment's folder, STORAGE/NAME")
    resume_p.add_argument("--restart-errored", action="store_true", help="start errored trials over")
    _ray_flags(resume_p)
    extend_p = sub.add_parser("extend", help="more trials for a finished experiment, warm-started from it")
    extend_p.add_argument("path", help="the finished experiment's folder, STORAGE/NAME")
    extend_p.add_argument("--num-samples", type=int, required=True, help="how many more trials")
    extend_p.add_argument("--name", help="the new experiment's name (default: NAME-extK)")
    _ray_flags(extend_p)
    validate_p = sub.add_parser("validate", help="check experiment files without starting Ray")
    validate_p.add_argument("files", type=Path, nargs="+", help="experiment files (YAML)")
    local_p = sub.add_parser("cluster-local", help="a multi-node Ray cluster on this machine (127.0.0.x)")
    local_p.add_argument("action", choices=["up", "down", "status"], help="start the nodes, stop them or show them")
    local_p.add_argument("--nodes", type=int, default=3, help="nodes, on 127.0.0.1, 127.0.0.2, ...")
    local_p.add_argument("--cpus-per-node", type=float, default=1, help="CPUs each node offers")
    local_p.add_argument("--port", type=int, default=6379, help="the head's GCS port")
    local_p.add_argument("--dashboard-port", type=int, default=8265, help="dashboard and job server (127.0.0.1)")
    sub.add_parser("schema", help="print the JSON Schema of experiment files (editors complete and check keys "
                                  "with it; the package ships it as raytune_app/spec/experiment.schema.json)")
    for name, (add_parser, _) in EXTRA_COMMANDS.items():
        add_parser(sub.add_parser(name))
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    """The tune flags as `raytune_app.tune()`'s overrides (the same names)."""
    from raytune_app.spec.load import OVERRIDES

    return {name: getattr(args, name) for name in OVERRIDES if getattr(args, name) is not None}


def _ray(args: argparse.Namespace) -> dict:
    return {"address": args.address, "dashboard": args.dashboard}


def cmd_validate(args: argparse.Namespace) -> int:
    """Check every file; print `ok` with a summary or every problem. Never starts Ray."""
    from raytune_app.api import validate
    from raytune_app.run.driver import describe

    code = EXIT_OK
    for file in args.files:
        try:
            print(f"{file}: ok: {describe(validate(file))}")
        except InputError as exc:
            print("\n".join(exc.problems), file=sys.stderr)
            code = EXIT_BAD_INPUT
    return code


def cmd_tune(args: argparse.Namespace) -> int:
    from raytune_app.api import tune

    return _ended(tune(args.file, resume=args.resume, warm_start=args.warm_start or [], **_ray(args),
                       **_overrides(args)), args.address)


def cmd_extend(args: argparse.Namespace) -> int:
    """N more trials for a finished experiment: a new experiment beside it, warm-started from it."""
    from raytune_app.api import extend

    return _ended(extend(args.path, args.num_samples, name=args.name, **_ray(args)), args.address)


def cmd_resume(args: argparse.Namespace) -> int:
    from raytune_app.api import resume

    return _ended(resume(args.path, restart_errored=args.restart_errored, **_ray(args)), args.address)


def _ended(results, address: str | None) -> int:
    """What every command that runs an experiment prints when it ends, and its exit code."""
    from raytune_app.cli.summary import print_ending

    print_ending(results, address)
    return {"finished": EXIT_OK, "interrupted": EXIT_INTERRUPTED}.get(results.status, EXIT_FAILED)


def cmd_cluster_local(args: argparse.Namespace) -> int:
    from raytune_app.cluster import local as local_cluster

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


def cmd_schema(args: argparse.Namespace) -> int:
    """The experiment file's JSON Schema, generated from the models that validate files."""
    from raytune_app.spec.schema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def _extra_commands() -> dict:
    """Commands that live in modules of their own: name -> (add arguments to parser, run)."""
    from raytune_app.cli.report_commands import REPORT_COMMANDS

    return dict(REPORT_COMMANDS)


EXTRA_COMMANDS = _extra_commands()
COMMANDS = {"tune": cmd_tune, "resume": cmd_resume, "extend": cmd_extend, "validate": cmd_validate,
            "cluster-local": cmd_cluster_local, "schema": cmd_schema,
            **{name: run for name, (_, run) in EXTRA_COMMANDS.items()}}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `raytune-app` console script."""
    from raytune_app.messages import show_messages

    args = build_parser().parse_args(argv)
    show_messages()  # what raytune_app's modules log: information on stdout, warnings on stderr
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return EXIT_BAD_INPUT
    except RunFailed as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:  # a second Ctrl-C while tuning: quit now, Ray's processes and all
        print("\nStopping at once; the last saved state stays resumable.", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)


def run() -> None:
    """The `raytune-app` command: main(), then a quick exit. Everything is written and flushed by then;
    Python's own teardown of PyTorch, Ray and scikit-learn would add about a second to every command."""
    code = main()
    if "ray" in sys.modules:
        from raytune_app.cluster.ray_session import leave

        leave()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    run()
