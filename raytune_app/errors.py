"""The errors a caller can catch: bad input (the CLI prints it, one line a problem, and exits 2) and a run that
failed or has nothing to show (exit 1)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One problem, as the CLI prints it: `FILE: KEY: MESSAGE` (file or key absent where there is none)."""

    file: str | None
    key: str | None
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.key, self.message) if part)


class InputError(Exception):
    """Bad input from the user (an experiment file or dict, a flag, a folder): every problem found, each one line
    naming the file and the key. `problems` are the lines the CLI prints; `details` the same as Problems."""

    def __init__(self, problems: Iterable[str], file: str | None = None):
        # one line each, even when a key or value the user wrote holds a line break
        self.problems = [str(p).replace("\r", "\\r").replace("\n", "\\n") for p in problems]
        self.file = file
        super().__init__("\n".join(self.problems))

    @property
    def details(self) -> list[Problem]:
        """Each problem as (file, key, message); the key is what follows the file, up to the next ': '."""
        found = []
        for line in self.problems:
            file, rest = (self.file, line[len(self.file) + 2:]) if self.file and line.startswith(f"{self.file}: ") \
                else (None, line)
            key, sep, message = rest.partition(": ")
            found.append(Problem(file, key, message) if sep and " " not in key else Problem(file, None, rest))
        return found


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint when a close option exists, else ''."""
    word, options = str(word), [str(o) for o in options]
    close = [o for o in options if o.startswith(word) or word.startswith(o)] if len(word) > 2 else []
    close = close or difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class RunFailed(Exception):
    """The run, or what a command needs from it, is not there: the CLI prints it and exits 1."""
