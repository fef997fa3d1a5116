"""What `tune`, `resume` and `extend` print when a run ends: the summary, and what to do next."""

from __future__ import annotations

import json
import sys

from raytune_app.run.driver import resume_hint


def print_summary(summary: dict) -> None:
    best = summary["best"]
    counts = ", ".join(f"{n} {s}" for s, n in summary["trials_by_status"].items())
    took = f"{summary['wall_time_s']:.1f} s"
    if abs(summary["wall_time_s"] - summary["this_run_wall_time_s"]) > 0.05:
        took += f" over all runs ({summary['this_run_wall_time_s']:.1f} s this one)"
    print(f"\n{summary['num_trials']} trials ({counts}), {summary['total_epochs']} epochs in {took}")
    if best:
        test = {k: v for k, v in best.items() if k.startswith("test_")}
        epoch = f" (epoch {best['epoch']})" if best.get("epoch") is not None else ""
        print(f"Best trial {best['trial_id']}: {summary['metric']} = {best[summary['metric']]:.4f}{epoch}"
              + "".join(f", {k} = {v:.4f}" for k, v in test.items() if v is not None))
        print(f"Best config: {json.dumps(best['config'], sort_keys=True, default=str)}")
    if summary.get("gpu_packing"):
        packing = summary["gpu_packing"]
        print(f"GPU packing (gpus_per_trial auto): {packing['gpus_per_trial']:g} GPU per trial; {packing['reason']}")
    print(f"Results: {summary['path']} (summary.json, trials.csv)")
    print(f"TensorBoard: tensorboard --logdir {summary['path']} --host 127.0.0.1")


def print_ending(results, address: str | None) -> None:
    """The summary of the run that just ended (Results of raytune_app.tune and its kin), then why it failed or
    how to continue it."""
    print_summary(results.summary)
    hint = resume_hint(results.path, address)
    if results.status == "interrupted":
        print(f"\nInterrupted; the experiment's state is saved. Resume it with:\n  {hint}", flush=True)
    elif results.status == "failed":
        print(results.problem, file=sys.stderr, flush=True)
        if results.summary["trials_by_status"].get("error"):
            print(f"Retry them from their checkpoints with:\n  {hint}\nor start them over with:\n  {hint} "
                  "--restart-errored", file=sys.stderr, flush=True)
    sys.stdout.flush()
