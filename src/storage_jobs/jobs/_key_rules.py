"""S3's naming rules, checked before anything is enqueued."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["BucketName", "KeyPrefix", "ObjectKey", "check_bucket_name", "check_key", "check_prefix"]

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# XML 1.0 cannot carry these, so S3 can neither list nor bulk-delete such keys.
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_KEY_BYTES = 1024


def check_bucket_name(name: str) -> str:
    """Checks S3's bucket naming rules (3-63 chars of a-z, 0-9, '.', '-').

    Raises:
        ValueError: Saying which rule the name breaks.
    """
    if not 3 <= len(name) <= 63:
        raise ValueError(f"bucket name must be 3-63 characters, got {len(name)}")
    if not _BUCKET.match(name):
        raise ValueError(
            "bucket name may hold only lowercase letters, digits, '.' and '-', "
            "and must start and end with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        raise ValueError("bucket name must not have '..', '.-' or '-.'")
    if _IP.match(name):
        raise ValueError("bucket name must not look like an IP address")
    return name


def check_key(key: str) -> str:
    """Checks an object key: 1-1024 bytes of UTF-8 that XML can carry.

    Raises:
        ValueError: Saying which rule the key breaks.
    """
    if not key:
        raise ValueError("key must not be empty")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError("key must be valid UTF-8 (it holds a lone surrogate)") from exc
    if size > MAX_KEY_BYTES:
        raise ValueError(f"key must be at most {MAX_KEY_BYTES} UTF-8 bytes, got {size}")
    bad = _XML_FORBIDDEN.search(key)
    if bad:
        raise ValueError(f"key must not contain control character {bad.group()!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Checks a key prefix: empty, or a valid key (same bytes, encoding and characters).

    Raises:
        ValueError: Saying which rule the prefix breaks.
    """
    return prefix if prefix == "" else check_key(prefix)


BucketName = Annotated[str, AfterValidator(check_bucket_name)]
ObjectKey = Annotated[str, AfterValidator(check_key)]
KeyPrefix = Annotated[str, AfterValidator(check_prefix)]
