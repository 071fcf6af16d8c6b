"""The settings reference page, made from ``Settings``' fields so it cannot drift."""

from __future__ import annotations

import inspect
import typing
from types import NoneType, UnionType
from typing import Any, Literal

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from storage_jobs.settings import Settings

__all__ = ["env_name", "settings_page"]

MiB = 1024 * 1024

INTRO = """\
# Settings

Every setting is read from its environment variable when `Settings()` is built (producers, workers,
the CLI and the dashboard alike); `Settings(field=value)` sets one in code. Values are checked then:
a bad one stops the process with the variable named. Lists take commas (`UPLOAD_ROOTS` also
`:`), mappings take JSON. Secrets are `SecretStr` and never logged.

This page is generated from the fields of `storage_jobs.settings.Settings` (and their
descriptions) when the site is built, in the order and sections the class declares them.
"""


def env_name(field: str) -> str:
    """The environment variable of one ``Settings`` field."""
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()  # a default is never a secret
    if value is None or value in ([], {}):
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value >= MiB and value % MiB == 0:
        return f"`{value}` ({value // MiB:,} MiB)"
    return f"`{value}`"


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not NoneType]
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, UnionType):
        return " or ".join(_type(a) for a in args)
    if origin is dict:
        return "JSON object"
    if origin is list:
        return "list"
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(info: FieldInfo) -> str:
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = [
        f"{words[name]} {getattr(item, name)}"
        for item in info.metadata
        for name in words
        if getattr(item, name, None) is not None
    ]
    return f" ({', '.join(found)})" if found else ""


def sections() -> dict[str, str]:
    """First field name -> section title, from the comment lines that open a section.

    In the body of ``Settings`` and of each class it takes fields from (``RedisFields``, ...) a
    section starts with a comment line after a blank line (``# The dashboard``); its first field
    follows. A comment right above a field is its note.
    """
    titles: dict[str, str] = {}
    for cls in Settings.__mro__:
        if not cls.__module__.startswith("storage_jobs."):
            continue
        try:
            body = inspect.getsourcelines(cls)[0]
        except (OSError, TypeError):  # a class made at run time: no sections
            continue
        title = None
        for before, line in zip(["", *body], body, strict=False):
            text = line.strip()
            if text.startswith("#") and not before.strip() and line.startswith("    #"):
                title = text.lstrip("# ").split(":")[0].split(" (")[0]
            elif title and (name := text.split(":")[0]) in Settings.model_fields:
                titles[name], title = title, None
    return titles


def _setting(name: str, info: FieldInfo) -> str:
    if not info.description:
        raise ValueError(f"Settings.{name} has no description: give its Field one")
    kind = _type(info.annotation) + _bounds(info)
    return (
        f"### `{env_name(name)}`\n\n"
        f"Default: {_default(info)} · type: {kind} · field: `{name}`\n\n"
        f"{info.description}\n"
    )


def settings_page() -> str:
    """The page: a section per setting, in the order and groups ``Settings`` declares them."""
    titles = sections()
    parts = [INTRO]
    for name, info in Settings.model_fields.items():
        if name in titles:
            parts.append(f"## {titles[name]}\n")
        parts.append(_setting(name, info))
    return "\n".join(parts)
