"""Bulk delete: any number of keys, batched, concurrent, every per-key failure accounted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, TypeVar

from ._errors import StorageBucketNotFoundError, map_backend_error

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["DELETE_BATCH_SIZE", "delete_in_batches", "gather_or_cancel"]

T = TypeVar("T")

DELETE_BATCH_SIZE = 1000
"""S3 refuses DeleteObjects requests with more keys than this."""


async def delete_in_batches(
    s3: S3Client, *, bucket: str, keys: Iterable[str], concurrency: int
) -> tuple[list[str], list[dict[str, str]]]:
    """Deletes de-duplicated keys in batches of at most 1,000, ``concurrency`` at a time.

    Returns:
        The keys deleted, and one ``{"key", "code", "message"}`` dict per key that was not.

    Raises:
        StorageBucketNotFoundError: If the bucket does not exist.
    """
    unique = list(dict.fromkeys(keys))
    batches = [unique[i : i + DELETE_BATCH_SIZE] for i in range(0, len(unique), DELETE_BATCH_SIZE)]
    slots = asyncio.Semaphore(concurrency)

    async def run(batch: list[str]) -> tuple[list[str], list[dict[str, str]]]:
        async with slots:
            return await _delete_batch(s3, bucket, batch)

    outcomes = await gather_or_cancel([run(b) for b in batches])
    deleted = [key for ok, _ in outcomes for key in ok]
    errors = [error for _, failed in outcomes for error in failed]
    return deleted, errors


async def _delete_batch(
    s3: S3Client, bucket: str, batch: list[str]
) -> tuple[list[str], list[dict[str, str]]]:
    try:
        answer = await s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
        )
    except Exception as exc:
        error = map_backend_error(exc, bucket=bucket)
        if isinstance(error, StorageBucketNotFoundError):
            raise error from exc
        # A batch that failed as a whole is reported key by key, so no key goes unaccounted.
        return [], [{"key": k, "code": error.code, "message": error.message} for k in batch]
    failed = [
        {
            "key": str(e.get("Key", "")),
            "code": str(e.get("Code", "Unknown")),
            "message": str(e.get("Message", "")),
        }
        for e in answer.get("Errors", [])
    ]
    failed_keys = {e["key"] for e in failed}
    return [key for key in batch if key not in failed_keys], failed


async def gather_or_cancel(coros: list[Awaitable[T]]) -> list[T]:
    """Gathers; if one fails, cancels the rest (and waits for them) before raising."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
