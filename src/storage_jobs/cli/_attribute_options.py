"""Options of what a write carries, and what a copy keeps of its source (``--preserve``).

Class, encryption, tags, headers and ACL; each becomes the job field of the same meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, get_args

import click

from ..jobs import CannedAcl, StorageClassName
from ..storage import ATTRIBUTES

__all__ = [
    "migrate_write_fields",
    "migrate_write_options",
    "preserve_option",
    "write_fields",
    "write_options",
]

F = TypeVar("F", bound=Callable[..., Any])

_SSE = click.Choice(["AES256", "aws:kms"])


def _sse_options(class_flag: str) -> tuple[Callable[[F], F], ...]:
    return (
        click.option(class_flag, type=click.Choice(get_args(StorageClassName))),
        click.option("--sse", type=_SSE, help="Server-side encryption: AES256 or aws:kms."),
        click.option("--sse-kms-key-id", help="The KMS key of --sse aws:kms."),
        click.option("--acl", type=click.Choice(get_args(CannedAcl)), help="A canned ACL."),
    )


def _apply(command: F, options: tuple[Callable[[F], F], ...]) -> F:
    for option in reversed(options):
        command = option(command)
    return command


def write_options(command: F) -> F:
    """Adds ``--storage-class/--sse/--sse-kms-key-id/--acl/--tag/--cache-control/...``."""
    return _apply(
        command,
        (
            *_sse_options("--storage-class"),
            click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag."),
            click.option("--cache-control", help="The object's Cache-Control."),
            click.option("--content-disposition", help="The object's Content-Disposition."),
            click.option("--content-encoding", help="The object's Content-Encoding."),
            click.option("--content-language", help="The object's Content-Language."),
            click.option("--expires", help="The object's Expires (ISO 8601 time with zone)."),
        ),
    )


def preserve_option(command: F) -> F:
    """Adds ``--preserve all|none|NAME,NAME...``."""
    return click.option(
        "--preserve",
        default="all",
        show_default=True,
        help="What a copy keeps of its source: all, none, or a comma-separated list of "
        f"{', '.join(ATTRIBUTES)}.",
    )(command)


def migrate_write_options(command: F) -> F:
    """Adds ``--dst-storage-class/--sse/--sse-kms-key-id/--acl/--preserve``."""
    return preserve_option(_apply(command, _sse_options("--dst-storage-class")))


def _preserve(value: str) -> bool | list[str]:
    if value == "all":
        return True
    if value == "none":
        return False
    return [name.strip() for name in value.split(",") if name.strip()]


def _tags(pairs: tuple[str, ...]) -> dict[str, str] | None:
    if not pairs:
        return None
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"not KEY=VALUE: {pair!r}", param_hint="--tag")
        tags[key] = value
    return tags


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"not an ISO 8601 time: {value!r}", param_hint="--expires"
        ) from None


def _sse_fields(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "sse": options.pop("sse"),
        "sse_kms_key_id": options.pop("sse_kms_key_id"),
        "acl": options.pop("acl"),
    }


def write_fields(options: dict[str, Any], *, preserve: bool) -> dict[str, Any]:
    """Pops the write options (and, for copies, ``--preserve``) as job fields."""
    fields = {
        "storage_class": options.pop("storage_class"),
        **_sse_fields(options),
        "tags": _tags(options.pop("tags")),
        "cache_control": options.pop("cache_control"),
        "content_disposition": options.pop("content_disposition"),
        "content_encoding": options.pop("content_encoding"),
        "content_language": options.pop("content_language"),
        "expires": _time(options.pop("expires")),
    }
    if preserve:
        fields["preserve"] = _preserve(options.pop("preserve"))
    return fields


def migrate_write_fields(options: dict[str, Any]) -> dict[str, Any]:
    """Pops a migration's write options and ``--preserve`` as job fields."""
    return {
        "dst_storage_class": options.pop("dst_storage_class"),
        **_sse_fields(options),
        "preserve": _preserve(options.pop("preserve")),
    }
