"""docs/reference/cli.md: every command and argument, rendered from the CLI's own argparse parser.

argparse has no public way to walk a parser's subcommands and arguments; `_actions`, `_action_groups`,
`_choices_actions` and `_SubParsersAction` are the standard library's own attributes, which help formatters
(and every argparse-to-docs tool) read as well.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from docs.gen import BANNER, REPO
from raytune_app.cli.main import build_parser

PAGE = REPO / "docs" / "reference" / "cli.md"
WIDTH = "100"  # argparse wraps usage to the terminal's width: fixed, so the page is the same everywhere
INTRO = """\
# Command line

`raytune-app COMMAND ...` (or `python -m raytune_app COMMAND ...`). Bad input, in a file, on the command line or
in the data, is one line per problem (`FILE: key: message`), exit code 2, before Ray starts.
"""


@contextlib.contextmanager
def _columns() -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        yield
    finally:
        os.environ.pop("COLUMNS") if old is None else os.environ.update(COLUMNS=old)


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _argument(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    value = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
    value += " ..." if action.nargs in ("+", "*") else ""
    return ", ".join(f"`{flag}{value}`" for flag in action.option_strings)


def _what(action: argparse.Action) -> str:
    parts = [action.help or ""]
    if action.choices:
        parts.append(f"one of {', '.join(f'`{c}`' for c in action.choices)}")
    if action.required and action.option_strings:
        parts.append("required")
    if action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0 and "default" not in parts[0]:
        parts.append(f"default `{action.default}`")
    return _cell("; ".join(p for p in parts if p))


def _command(name: str, summary: str, parser: argparse.ArgumentParser) -> list[str]:
    summary = _cell(summary[:1].upper() + summary[1:])
    lines = [f"## {name}", "", summary + ("." if summary and not summary.endswith(".") else "")]
    if parser.description and _cell(parser.description) != summary:
        lines += ["", _cell(parser.description)]
    lines += ["", "```text", parser.format_usage().strip(), "```"]
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if not isinstance(a, argparse._HelpAction)]
        if actions:
            lines += ["", f"**{group.title}**", "", "| argument | what |", "|---|---|"]
            lines += [f"| {_argument(a)} | {_what(a)} |" for a in actions]
    return lines + [""]


def page() -> str:
    parser = build_parser()
    sub = _subcommands(parser)
    helps = {a.dest: a.help for a in sub._choices_actions}
    lines = [BANNER.format(source="the parser in raytune_app/cli/main.py"), "", INTRO]
    with _columns():
        for name, command in sub.choices.items():
            lines += _command(name, helps.get(name) or command.description or "", command)
    return "\n".join(lines).rstrip("\n") + "\n"


def pages() -> dict:
    return {PAGE: page()}
