"""Where raytune-app's messages go. Below the command line nothing prints: the driver, the callbacks and the
checks log to the `raytune_app` logger; the CLI shows that logger's messages for the whole command, the API for
the length of a call unless the caller set up logging of its own."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Iterator


class _Below(logging.Filter):
    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def show_messages() -> None:
    """raytune_app's messages as plain lines: information on stdout, warnings and errors on stderr. What the
    CLI does once; `tune()` and its kin for the length of a call, where nothing else shows them."""
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(_Below(logging.WARNING))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    for handler in (out, err):
        handler.setFormatter(logging.Formatter("%(message)s"))
    library = logging.getLogger("raytune_app")
    library.handlers = [out, err]
    library.setLevel(logging.INFO)


@contextmanager
def messages(verbose: int) -> Iterator[None]:
    """For one call: verbose 0 keeps only warnings; otherwise our messages show, through the caller's logging
    if it set up any, else as plain lines."""
    library = logging.getLogger("raytune_app")
    saved = (list(library.handlers), library.level)
    if verbose <= 0:
        library.setLevel(logging.WARNING)
    elif not library.hasHandlers():
        show_messages()
    try:
        yield
    finally:
        library.handlers, library.level = saved
