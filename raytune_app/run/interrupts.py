"""Ctrl-C while tuning: the first stops Ray Tune cleanly (state saved), the second raises KeyboardInterrupt at
once (the CLI then exits 130; a script or notebook sees Python's usual interrupt)."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

from raytune_app.ray_compat.interrupts import ask_tune_to_stop, leave_sigint_to_us

log = logging.getLogger(__name__)


@contextmanager
def graceful_interrupts() -> Iterator[threading.Event]:
    """Within the block, SIGINT/SIGTERM ask Ray Tune to stop and save (ray_compat/interrupts.py); a second one
    raises KeyboardInterrupt. The event tells whether a stop was asked. Signal handlers belong to the main
    thread: called from another thread, interrupts are left as they are."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.warning("\nStopping: saving the experiment's state (Ctrl-C again to quit at once) ...")
        ask_tune_to_stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with leave_sigint_to_us():  # ours replaces Ray's, which does the same once
            yield stop
    finally:  # Python's own handlers again: a Ctrl-C while the summary is written raises KeyboardInterrupt at once
        for sig, old in previous.items():
            signal.signal(sig, old)
