"""Command output: tables for people, JSON for scripts (``--json``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

__all__ = ["Output", "dump", "fields_table", "json_option"]

F = TypeVar("F", bound=Callable[..., Any])

json_option: Callable[[F], F] = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print machine-readable JSON on stdout instead of tables.",
)


class Output:
    """Tables for people, JSON for scripts (always on stdout; errors go to stderr)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False, soft_wrap=False)

    def json(self, data: Any) -> None:
        """Prints one JSON document."""
        click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))

    def line(self, text: str) -> None:
        """Prints a line of plain text (no markup interpretation)."""
        self.console.print(text, markup=False, soft_wrap=True)

    def table(self, table: Table) -> None:
        """Prints a rich table."""
        self.console.print(table)

    def error(self, text: str) -> None:
        """Prints a one-line message on stderr."""
        click.echo(text, err=True)


def fields_table(title: str | None, data: dict[str, Any]) -> Table:
    """A two-column ``field | value`` table."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in data.items():
        table.add_row(name, "" if value is None else str(value))
    return table


def dump(value: Any) -> Any:
    """JSON-ready data of a result model (or whatever it already is)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
