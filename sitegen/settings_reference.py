"""The settings reference page, made from ``Settings``' fields so it cannot drift."""

from __future__ import annotations

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

This page is generated from `storage_jobs.settings.Settings` when the site is built.

| variable | default | type | meaning |
|---|---|---|---|
"""


def env_name(field: str) -> str:
    """The environment variable of one ``Settings`` field."""
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


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
        return " \\| ".join(f"`{a}`" for a in args)
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


def settings_page() -> str:
    """The page: one row per field, in the order ``Settings`` declares them."""
    rows = []
    for name, info in Settings.model_fields.items():
        if not info.description:
            raise ValueError(f"Settings.{name} has no description: give its Field one")
        rows.append(
            f"| `{env_name(name)}` | {_cell(_default(info))} | "
            f"{_cell(_type(info.annotation) + _bounds(info))} | {_cell(info.description)} |"
        )
    return INTRO + "\n".join(rows) + "\n"
