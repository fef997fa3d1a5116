"""Commands that read finished experiments (report, tensorboard, best, evaluate)."""

from __future__ import annotations

# name -> (function adding the command's arguments to its argparse parser, function(args) -> exit code)
REPORT_COMMANDS: dict = {}
