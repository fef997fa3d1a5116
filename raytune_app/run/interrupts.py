"""Ctrl-C while tuning: the first stops Ray Tune cleanly (state saved), the second quits at once."""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from raytune_app.ray_compat.interrupts import ask_tune_to_stop, leave_sigint_to_us


@contextmanager
def graceful_interrupts() -> Iterator[threading.Event]:
    """Within the block, SIGINT/SIGTERM ask Ray Tune to stop and save (ray_compat/interrupts.py);
    a second one exits with 130 at once. The event tells whether a stop was asked."""
    stop = threading.Event()

    def handler(signum: int, frame) -> None:
        if stop.is_set():
            print("\nStopping at once; the last saved state stays resumable.", file=sys.stderr, flush=True)
            os._exit(130)
        stop.set()
        print("\nStopping: saving the experiment's state (Ctrl-C again to quit at once) ...",
              file=sys.stderr, flush=True)
        ask_tune_to_stop()

    leave_sigint_to_us()  # ours replaces Ray's, which does the same once
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        if not stop.is_set():  # once a stop was asked, a second Ctrl-C must still quit at once (even
            for sig, old in previous.items():  # while the summary is written), not raise KeyboardInterrupt
                signal.signal(sig, old)
