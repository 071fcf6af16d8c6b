"""Which objects a prefix job selects: rclone-style globs, size, age and storage class.

Pure functions and one pydantic mixin; no I/O. Globs follow rclone's filtering rules
(https://rclone.org/filtering/): a pattern is matched against the key below the job's prefix;
without a leading ``/`` it matches the end of the path at a segment boundary (``*.jpg`` selects
``a.jpg`` and ``d/e.jpg``), with one it matches from the start; ``*`` and ``?`` stay within a
segment, ``**`` crosses segments, ``[...]`` is a character class and ``{a,b}`` an alternation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["FilterFields", "ObjectFilter", "glob_to_regex"]


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compiles one rclone glob into a regex over a relative path.

    Raises:
        ValueError: For an empty pattern, a directory-only pattern (trailing ``/``), or
            unbalanced ``[``/``{``.
    """
    if not pattern:
        raise ValueError("empty glob")
    if pattern.endswith("/"):
        raise ValueError(f"{pattern!r} matches directories only; use {pattern + '**'!r}")
    anchored = pattern.startswith("/")
    body = pattern[1:] if anchored else pattern
    out: list[str] = ["^" if anchored else "(?:^|/)"]
    i, depth = 0, 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
            continue
        if c == "*":
            if body.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = body.find("]", i + 2 if body.startswith("[]", i) else i + 1)
            if end < 0:
                raise ValueError(f"{pattern!r}: unclosed '['")
            inner = body[i + 1 : end]
            negate = inner.startswith(("!", "^"))
            inner = inner[1:] if negate else inner
            out.append("[" + ("^/" if negate else "") + inner.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise ValueError(f"{pattern!r}: unclosed '{{'")
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


@lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(glob_to_regex(p) for p in patterns)


@dataclass(frozen=True)
class ObjectFilter:
    """A compiled filter: whether one object (by relative key and attributes) is selected.

    A key is selected when it matches some ``include`` glob (or there are none) and no
    ``exclude`` glob, and its size, modification time and storage class are within bounds.
    An attribute the filter needs but the object lacks (a manifest line without a size) is
    not guessed: ``needs_head`` says a HEAD must supply it first.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_size: int | None = None
    max_size: int | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    storage_classes: frozenset[str] | None = None

    @property
    def active(self) -> bool:
        """Whether the filter can reject anything."""
        return bool(
            self.include
            or self.exclude
            or self.min_size is not None
            or self.max_size is not None
            or self.modified_after
            or self.modified_before
            or self.storage_classes
        )

    @property
    def needs_attributes(self) -> bool:
        """Whether the filter looks at more than the key."""
        return bool(
            self.min_size is not None
            or self.max_size is not None
            or self.modified_after
            or self.modified_before
            or self.storage_classes
        )

    def key_selected(self, relative_key: str) -> bool:
        """Whether the globs select a key (relative to the job's prefix)."""
        if any(r.search(relative_key) for r in _compiled(self.exclude)):
            return False
        return not self.include or any(r.search(relative_key) for r in _compiled(self.include))

    def attributes_selected(
        self, size: int | None, last_modified: datetime | None, storage_class: str | None
    ) -> bool:
        """Whether size, time and class are within bounds (an unknown one fails its bound)."""
        if self.min_size is not None and (size is None or size < self.min_size):
            return False
        if self.max_size is not None and (size is None or size > self.max_size):
            return False
        if self.modified_after and (last_modified is None or last_modified < self.modified_after):
            return False
        if self.modified_before and (
            last_modified is None or last_modified >= self.modified_before
        ):
            return False
        # A listing leaves StorageClass out for STANDARD on some servers.
        return not self.storage_classes or (storage_class or "STANDARD") in self.storage_classes

    def selected(
        self,
        relative_key: str,
        size: int | None,
        last_modified: datetime | None,
        storage_class: str | None,
    ) -> bool:
        """Whether the filter selects an object."""
        return self.key_selected(relative_key) and self.attributes_selected(
            size, last_modified, storage_class
        )


class FilterFields(BaseModel):
    """The filter options of prefix jobs, validated at construction.

    Attributes:
        include: rclone globs; when given, only keys matching one are selected.
        exclude: rclone globs; keys matching one are never selected.
        min_size: Smallest selected size in bytes (inclusive).
        max_size: Largest selected size in bytes (inclusive).
        modified_after: Only objects last modified at or after this (timezone-aware).
        modified_before: Only objects last modified before this (timezone-aware).
        storage_classes: Only objects of these storage classes (``STANDARD``, ``GLACIER``...).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    include: list[str] = Field(default_factory=list, max_length=100)
    exclude: list[str] = Field(default_factory=list, max_length=100)
    min_size: int | None = Field(default=None, ge=0)
    max_size: int | None = Field(default=None, ge=0)
    modified_after: AwareDatetime | None = None
    modified_before: AwareDatetime | None = None
    storage_classes: list[str] | None = Field(default=None, min_length=1, max_length=20)

    @field_validator("include", "exclude")
    @classmethod
    def _globs_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            glob_to_regex(pattern)
        return patterns

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Self:
        sizes = (self.min_size, self.max_size)
        if sizes[0] is not None and sizes[1] is not None and sizes[0] > sizes[1]:
            raise ValueError("min_size: larger than max_size")
        times = (self.modified_after, self.modified_before)
        if times[0] and times[1] and times[0] >= times[1]:
            raise ValueError("modified_after: not before modified_before")
        return self

    def object_filter(self) -> ObjectFilter:
        """The compiled filter these options describe."""
        return ObjectFilter(
            include=tuple(self.include),
            exclude=tuple(self.exclude),
            min_size=self.min_size,
            max_size=self.max_size,
            modified_after=self.modified_after,
            modified_before=self.modified_before,
            storage_classes=frozenset(self.storage_classes) if self.storage_classes else None,
        )
