"""The connection: one pooled aiobotocore client, opened and closed explicitly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from ._config import StorageConfig
from ._errors import (
    StorageBucketNotFoundError,
    StorageError,
    StorageNotConnectedError,
    map_backend_error,
)
from ._limiter import RequestLimiter, limit_hook
from ._request_spans import trace_requests
from ._throttle import BucketThrottle, ThrottledClient
from ._tuning import skip_unread_endpoint_params, user_agent

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["Connection", "SourceError"]

T = TypeVar("T")


class SourceError(Exception):
    """Carries an exception raised by the caller's stream through the storage error mapping."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


class Connection:
    """Owns the pooled client and the mapping of its failures; StorageClient builds on it."""

    def __init__(self, config: StorageConfig, *, limiter: RequestLimiter | None = None) -> None:
        """Initialize the client; nothing connects until ``connect()``.

        Args:
            config: Storage configuration.
            limiter: Awaited before every request to a bucket (retries included); None for
                no rate limit.
        """
        self.config = config
        self.limiter = limiter
        self.throttle = BucketThrottle(ceiling=config.max_pool_connections)
        self._stack: AsyncExitStack | None = None
        self._s3: S3Client | None = None
        self._connect_lock = asyncio.Lock()

    def __repr__(self) -> str:
        state = "connected" if self._s3 is not None else "disconnected"
        return f"StorageClient(endpoint_url={self.config.endpoint_url!r}, {state})"

    # -- connection -----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Opens the connection pool; calling it again while connected does nothing."""
        async with self._connect_lock:
            if self._s3 is not None:
                return
            cfg = self.config
            botocore_config = AioConfig(
                signature_version="s3v4",
                max_pool_connections=cfg.max_pool_connections,
                connect_timeout=cfg.connect_timeout,
                read_timeout=cfg.read_timeout,
                retries={"mode": cfg.retry_mode, "total_max_attempts": cfg.max_attempts},
                s3={"addressing_style": cfg.addressing_style},
                # botocore >= 1.36 adds CRC32 checksums to every upload and DeleteObjects; several
                # S3-compatible servers reject them. Only send checksums an operation requires.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                # A fixed string: botocore's own is rebuilt twice per request (see _tuning).
                user_agent=user_agent(),
            )
            stack = AsyncExitStack()
            client = await stack.enter_async_context(
                get_session().create_client(
                    cfg.service_name,
                    endpoint_url=cfg.endpoint_url,
                    region_name=cfg.region,
                    aws_access_key_id=cfg.access_key_id,
                    aws_secret_access_key=_reveal(cfg.secret_access_key),
                    aws_session_token=_reveal(cfg.session_token),
                    use_ssl=cfg.use_ssl,
                    verify=cfg.verify,
                    config=botocore_config,
                )
            )
            skip_unread_endpoint_params(client)
            if self.limiter is not None:
                client.meta.events.register("before-send", limit_hook(self.limiter))
            if cfg.tracing:
                trace_requests(client)
            # Duck-typed: every call of the raw client, with per-bucket backpressure.
            self._stack, self._s3 = stack, cast("S3Client", ThrottledClient(client, self.throttle))

    async def disconnect(self) -> None:
        """Closes the connection pool; later calls raise ``StorageNotConnectedError``."""
        async with self._connect_lock:
            stack, self._stack, self._s3 = self._stack, None, None
            if stack is not None:
                await stack.aclose()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    @property
    def s3(self) -> S3Client:
        """The raw aiobotocore client, for what this API does not cover."""
        if self._s3 is None:
            raise StorageNotConnectedError("storage client is not connected; call connect() first")
        return self._s3

    async def _raise_if_bucket_missing(self, bucket: str) -> None:
        try:
            await self.s3.head_bucket(Bucket=bucket)
        except Exception as exc:
            error = map_backend_error(exc, bucket=bucket)
            if isinstance(error, StorageBucketNotFoundError):
                raise error from exc
            # Any other answer (denied, flaky) says nothing about existence; keep the first error.

    async def _call(
        self, awaitable: Awaitable[T], *, bucket: str | None = None, key: str | None = None
    ) -> T:
        try:
            return await awaitable
        except (StorageError, SourceError):
            raise
        except Exception as exc:
            raise map_backend_error(exc, bucket=bucket, key=key) from exc

    async def _pages(self, pages: AsyncIterator[T], *, bucket: str) -> AsyncIterator[T]:
        """Yields a raw listing's pages, its failures mapped like ``_call``'s."""
        while True:
            try:
                page = await anext(pages, None)
            except Exception as exc:
                raise map_backend_error(exc, bucket=bucket) from exc
            if page is None:
                return
            yield page


def _reveal(secret: Any) -> str | None:
    return None if secret is None else str(secret.get_secret_value())
