"""A trial worker's end, without a traceback: Ray's SIGTERM, turned into SystemExit where Python cannot raise it.

Why: Ray Tune (2.60) frees a trial's placement group as soon as the trial has stopped, while the trial's actor
is still alive (its `stop`, not `__ray_terminate__`, is what Tune waits for); the raylet then ends that worker
with SIGTERM (raylet.out: "Disconnecting worker, graceful=false ... sending SIGTERM"), for every trial. Ray's
worker turns SIGTERM into `SystemExit(1)` in whatever Python code its main thread runs next. When that code
is a finalizer or a weakref callback, Python cannot raise it there and prints
"Exception ignored in: ... SystemExit: 1" with a traceback on the worker's stderr, which Ray forwards to the
driver's terminal, sometimes after the summary. Nothing went wrong: the worker was being ended (Ray's core
worker logs why, and the raylet kills it moments later). So a trial worker drops exactly those: an
unraisable SystemExit. Every other unraisable exception is shown as Python shows it.
"""

from __future__ import annotations

import sys


def quiet_unraisable_exit() -> None:
    """In this worker process, drop the traceback of a SystemExit that Python could not raise, and pass every
    other unraisable exception on to the hook there was (any thread may call this; each trial calls it as it
    starts, so every process that trains one has it, once)."""
    shown = sys.unraisablehook
    if getattr(shown, "quiet_exit", False):
        return

    def hook(unraisable) -> None:
        if not issubclass(unraisable.exc_type, SystemExit):
            shown(unraisable)

    hook.quiet_exit = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook
