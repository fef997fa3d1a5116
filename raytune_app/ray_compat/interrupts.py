"""Taking over Ctrl-C from Ray Tune, and asking a running `Tuner.fit` to stop and save.

- `TUNE_DISABLE_SIGINT_HANDLER=1` (public: documented among Ray Tune's environment variables) keeps Tune from
  installing its own SIGINT handler, so raytune-app's (run/interrupts.py) handles Ctrl-C and SIGTERM.
- SIGUSR1 (private behaviour: Ray 2.60's `tune.run` installs its stop handler on SIGUSR1 too, whatever that
  variable says, and documents only SIGINT): the handler sends it to its own process, and Tune ends the run
  as it does on Ctrl-C: its trials stop where they are and the final experiment state is saved, resumable.

Public alternatives checked: a `tune.Stopper` whose `stop_all()` turns true ends the experiment as finished
(its running trials saved TERMINATED, so a resume would not continue them); `TuneConfig(time_budget_s)` is
fixed before the run starts.
"""

from __future__ import annotations

import os
import signal
from contextlib import AbstractContextManager

from raytune_app.ray_compat.settings import scoped_environ

NO_SIGINT_HANDLER = "TUNE_DISABLE_SIGINT_HANDLER"
STOP_SIGNAL = signal.SIGUSR1


def leave_sigint_to_us() -> AbstractContextManager[None]:
    """Within the block, keep Ray Tune from installing its SIGINT handler in a `Tuner.fit`."""
    return scoped_environ({NO_SIGINT_HANDLER: "1"})


def ask_tune_to_stop() -> None:
    """Have the `Tuner.fit` running in this process end the run and save its state, as Ctrl-C would."""
    os.kill(os.getpid(), STOP_SIGNAL)
