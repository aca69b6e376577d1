"""Write reference/cli.md from the Typer app in tierwise.cli, so the page cannot drift from the commands.

Run by mkdocs-gen-files at build time: each command's usage, help and options, as ``tierwise COMMAND -h`` shows them.
"""

from __future__ import annotations

import inspect
from typing import Any

import griffe
import mkdocs_gen_files
import typer

from tierwise.cli import app
from tierwise.errors import ExitCode

try:  # typer >= 0.22 carries its own copy of click, whose Context builds the usage lines
    from typer._click import Context
except ImportError:  # older typer runs on click itself
    from click import Context

PAGE = "reference/cli.md"


def _escape(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, angle brackets shown rather than read as HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Text as code inside a Markdown table cell (HTML, since a backslash-escaped pipe in a code span stays visible)."""
    return "<code>" + _escape(text).replace("\\|", "&#124;") + "</code>"


def _options_table(command: Any, context: Any) -> list[str]:
    records = [param.get_help_record(context) for param in command.params]
    records = [record for record in records if record is not None]
    records.append(("-h, --help", "Show the help and exit."))
    lines = ["| option | meaning |", "| --- | --- |"]
    for declaration, help_text in records:
        lines.append(f"| {_code(declaration)} | {_escape(help_text)} |")
    return lines


def _document(command: Any, path: list[str], parent: Any | None, depth: int) -> list[str]:
    context = Context(command, info_name=path[-1], parent=parent)
    lines = [f"{'#' * depth} `{' '.join(path)}`", ""]
    if command.help:
        lines += [_escape_text(inspect.cleandoc(command.help)), ""]
    lines += ["```text", command.get_usage(context), "```", ""]
    lines += [*_options_table(command, context), ""]
    for name, subcommand in getattr(command, "commands", {}).items():
        if not subcommand.hidden:
            lines += _document(subcommand, [*path, name], context, min(depth + 1, 3))
    return lines


def _escape_text(text: str) -> str:
    """Help text as a Markdown paragraph: angle brackets shown rather than read as HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _exit_codes() -> list[str]:
    """A table of the exit codes: the numbers from the enum, the meanings from its numpydoc Attributes section."""
    sections = griffe.Docstring(inspect.cleandoc(ExitCode.__doc__ or "")).parse("numpy")
    meanings = {attribute.name: attribute.description for section in sections
                if section.kind is griffe.DocstringSectionKind.attributes for attribute in section.value}
    lines = ["## Exit codes", "",
             "Every command exits with one of these (`tierwise.errors.ExitCode`); a `TierwiseError` prints one line "
             "on stderr and exits with its code.", "",
             "| code | name | meaning |", "| --- | --- | --- |"]
    for code in ExitCode:
        lines.append(f"| {code.value} | `{code.name}` | {_escape(meanings.get(code.name, ''))} |")
    return [*lines, ""]


def render() -> str:
    """The whole page, as Markdown."""
    lines = [
        "# CLI reference",
        "",
        "Generated when the site is built from the Typer app in `src/tierwise/cli.py`: the same text as "
        "`tierwise COMMAND -h`. Options before the command (`--quiet`, `--log-format`, `--tracking-uri`) "
        "belong to `tierwise` itself: `tierwise --quiet score ...`.",
        "",
    ]
    lines += _document(typer.main.get_command(app), ["tierwise"], None, 2)
    lines += _exit_codes()
    return "\n".join(lines)


with mkdocs_gen_files.open(PAGE, "w") as page:
    page.write(render())
mkdocs_gen_files.set_edit_path(PAGE, "../src/tierwise/cli.py")
