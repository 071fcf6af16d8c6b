"""The filter and manifest options prefix-job commands share, and the fields they become."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

__all__ = ["filter_fields", "filter_options", "manifest_field", "manifest_options"]

F = TypeVar("F", bound=Callable[..., Any])


def filter_options(command: F) -> F:
    """Adds ``--include/--exclude/--min-size/--max-size/--modified-*/--storage-class``."""
    options = (
        click.option(
            "--include", multiple=True, help="rclone glob of keys (below the prefix) to select."
        ),
        click.option("--exclude", multiple=True, help="rclone glob of keys to leave out."),
        click.option("--min-size", type=click.IntRange(0), help="Smallest size in bytes."),
        click.option("--max-size", type=click.IntRange(0), help="Largest size in bytes."),
        click.option(
            "--modified-after", help="ISO 8601 time with zone: only objects modified since."
        ),
        click.option("--modified-before", help="ISO 8601 time with zone: only older objects."),
        click.option(
            "--storage-class", "storage_classes", multiple=True, help="Only this storage class."
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=name) from None


def filter_fields(options: dict[str, Any]) -> dict[str, Any]:
    """Pops the filter options from a command's arguments as job fields."""
    return {
        "include": list(options.pop("include")),
        "exclude": list(options.pop("exclude")),
        "min_size": options.pop("min_size"),
        "max_size": options.pop("max_size"),
        "modified_after": _time("--modified-after", options.pop("modified_after")),
        "modified_before": _time("--modified-before", options.pop("modified_before")),
        "storage_classes": list(options.pop("storage_classes")) or None,
    }


def manifest_options(command: F) -> F:
    """Adds ``--manifest s3://bucket/key`` and ``--manifest-format``."""
    command = click.option(
        "--manifest-format",
        type=click.Choice(["csv", "s3-inventory"]),
        default="csv",
        show_default=True,
        help="A bucket,key[,version_id] CSV, or an S3 Inventory manifest.json.",
    )(command)
    return click.option(
        "--manifest", metavar="s3://BUCKET/KEY", help="Read the keys from this manifest."
    )(command)


def manifest_field(options: dict[str, Any]) -> dict[str, Any] | None:
    """Pops the manifest options as a ``Manifest`` field (None without ``--manifest``)."""
    location, form = options.pop("manifest"), options.pop("manifest_format")
    if location is None:
        return None
    if not location.startswith("s3://"):
        raise click.BadParameter("expected s3://BUCKET/KEY", param_hint="--manifest")
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return {"bucket": bucket, "key": key, "format": form}
