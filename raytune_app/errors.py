"""Errors that mean "bad input": the CLI prints them one line each and exits 2."""

from __future__ import annotations

import difflib
from typing import Iterable


class InputError(Exception):
    """Bad input from the user: every problem found, each as one line naming file and key."""

    def __init__(self, problems: Iterable[str]):
        # one line each, even when a key or value the user wrote holds a line break
        self.problems = [p.replace("\r", "\\r").replace("\n", "\\n") for p in problems]
        super().__init__("\n".join(self.problems))


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint when a close option exists, else ''."""
    word, options = str(word), [str(o) for o in options]
    close = [o for o in options if o.startswith(word) or word.startswith(o)] if len(word) > 2 else []
    close = close or difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class RunFailed(Exception):
    """The run, or what a command needs from it, is not there: the CLI prints it and exits 1."""
