"""Webhooks: every completion event POSTed, signed, to ``STORAGE_JOBS_WEBHOOK_URL``.

A background task of the worker (never in a job's path: a finish only adds the event to the
stream) reads each shard's events stream through the webhooks' consumer group
(``queue.EventGroup``), so each event goes to one worker of the queue:

- **At least once.** An event is acknowledged (``XACK``) only once the receiver answered 2xx;
  until then it is retried with backoff (0.5 s doubling up to ``webhook_max_backoff``), and the
  worker holding it keeps it (``XCLAIM`` resets its idle time). A worker that dies holding
  events leaves them pending; another worker (or this one restarted) takes them over once they
  sat ``webhook_claim_idle`` seconds untouched (``XAUTOCLAIM``). So a delivery may arrive more
  than once: ``X-Storage-Jobs-Delivery`` is stable per event, for the receiver to drop repeats.
- **In order per shard**, one at a time: a receiver that is down holds the rest back, and gets
  them all when it returns, as long as the stream still keeps them (``events_maxlen`` entries
  per shard). Events trimmed before any worker delivered them are detected (the stream's
  ``max-deleted-entry-id`` is past the group's last delivered id) and logged
  (``webhook.events_trimmed``), never delivered.
- **Signed**: ``X-Storage-Jobs-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with
  STORAGE_JOBS_WEBHOOK_SECRET>``. The secret and the URL are never logged.

The body is the event's JSON (``queue.JobEvent`` without its reader's cursor): ``job_id``,
``kind``, ``status``, ``attempt``, timings, and ``result`` (a summary) or ``error`` (``type``,
``code``, ``message``). The HTTP client is aiohttp (it comes with aiobotocore).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from ..metrics import WorkerMetrics
    from ..queue import EventGroup, JobEvent, Queue
    from ..settings import Settings

__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "Webhooks", "signature", "start_webhooks"]

SIGNATURE_HEADER = "X-Storage-Jobs-Signature"
DELIVERY_HEADER = "X-Storage-Jobs-Delivery"

_BATCH = 32  # events read per call
_BLOCK_S = 5.0  # seconds one read blocks for new events
_TRIM_CHECK_S = 60.0  # seconds between checks for events trimmed before delivery
_FIRST_DELAY_S = 0.5
_REDIS_TROUBLE = (RedisError, OSError, TimeoutError)  # the task backs off and carries on


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Storage-Jobs-Signature`` value of a body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class Webhooks:
    """Delivers a queue's completion events to the webhook URL (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        queue: Queue,
        consumer: str,
        event: Callable[..., None],
        metrics: WorkerMetrics | None = None,
    ) -> None:
        """Builds it (``run`` delivers).

        Args:
            settings: ``webhook_url`` and ``webhook_secret`` (both set), timeouts and backoff.
            queue: The worker's queue.
            consumer: This worker's name in the consumer group (its id).
            event: Logs a structured event: ``event(level, name, **fields)``.
            metrics: Counts each POST by outcome (None: no metrics port).
        """
        assert settings.webhook_url is not None
        assert settings.webhook_secret is not None
        self._url = settings.webhook_url
        self._secret = settings.webhook_secret
        self.timeout = settings.webhook_timeout
        self.max_backoff = settings.webhook_max_backoff
        self.idle = settings.webhook_claim_idle
        self.queue = queue
        self.consumer = consumer
        self._event = event
        self._metrics = metrics
        self.delivered = 0
        self.refused = 0  # attempts the receiver refused or did not answer
        self.trimmed: set[str] = set()  # shard/last delivered id of each loss logged

    async def run(self) -> None:
        """Delivers until cancelled: one task per shard's stream."""
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            groups = self.queue.event_groups(self.consumer)
            names = [shard.name for shard in self.queue.shards]
            await asyncio.gather(
                *(
                    self._shard(session, group, name)
                    for group, name in zip(groups, names, strict=True)
                )
            )

    async def _shard(self, session: aiohttp.ClientSession, group: EventGroup, name: str) -> None:
        """Delivers one shard's events for ever; Redis trouble (or a bug) backs off, never ends."""
        backoff = _FIRST_DELAY_S
        state = {"created": 0.0, "taken_over": 0.0, "checked": 0.0}
        while True:
            try:
                await self._round(session, group, name, state)
                backoff = _FIRST_DELAY_S
            except _REDIS_TROUBLE as exc:
                self._event("warning", "webhook.redis_unavailable", error=type(exc).__name__)
            except Exception as exc:  # a bug: logged, and the deliveries go on after a pause
                self._event("error", "webhook.failed", error=f"{type(exc).__name__}: {exc}"[:300])
            else:
                continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _round(
        self,
        session: aiohttp.ClientSession,
        group: EventGroup,
        name: str,
        state: dict[str, float],
    ) -> None:
        """One batch: held ones first (after a restart), then taken over, then new ones."""
        entries = []
        if not state["created"]:
            await group.create()
            state["created"] = 1.0
            entries = await group.mine(_BATCH)  # held under this name before a restart
        now = time.monotonic()
        if not entries and now - state["taken_over"] >= self.idle / 2:
            entries = await group.take_over(self.idle, _BATCH)
            # A full batch: more may wait, so look again next round.
            state["taken_over"] = 0.0 if len(entries) == _BATCH else now
        if now - state["checked"] >= _TRIM_CHECK_S:
            state["checked"] = now
            await self._check_trimmed(group, name)
        if not entries:
            entries = await asyncio.wait_for(group.read(_BATCH, _BLOCK_S), _BLOCK_S + self.timeout)
        done: list[str] = []
        for n, (entry_id, job_event) in enumerate(entries):
            if job_event is not None:
                held = [i for i, _ in entries[n:]]  # kept ours while this one is retried
                await self._deliver(session, group, f"{name}/{entry_id}", held, job_event)
            done.append(entry_id)
        with contextlib.suppress(*_REDIS_TROUBLE):  # not acknowledged: delivered again
            await group.ack(done)

    async def _deliver(
        self,
        session: aiohttp.ClientSession,
        group: EventGroup,
        delivery: str,
        held: list[str],
        job_event: JobEvent,
    ) -> None:
        """POSTs one event until the receiver takes it (2xx); ``held``: the batch not sent yet."""
        body = job_event.model_dump_json(exclude={"id"}, exclude_none=True).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self._secret.get_secret_value().encode(), body),
            DELIVERY_HEADER: delivery,
        }
        delay = _FIRST_DELAY_S
        touched = time.monotonic()
        while True:
            said = await self._post(session, body, headers)
            if self._metrics is not None:
                self._metrics.webhook_attempt(said is None)
            if said is None:
                self.delivered += 1
                return
            self.refused += 1
            self._event(
                "warning", "webhook.retry", delivery=delivery, job_id=job_event.job_id,
                answer=said, retry_in=delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
            if time.monotonic() - touched >= self.idle / 2:
                # Still ours: another worker must not take it over while this one retries.
                with contextlib.suppress(*_REDIS_TROUBLE):
                    await group.touch(held)
                touched = time.monotonic()

    async def _post(
        self, session: aiohttp.ClientSession, body: bytes, headers: dict[str, str]
    ) -> str | None:
        """One attempt: None if the receiver took it, else what went wrong (no URL in it)."""
        try:
            async with session.post(self._url, data=body, headers=headers) as answer:
                if 200 <= answer.status < 300:
                    return None
                return f"HTTP {answer.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return type(exc).__name__

    async def _check_trimmed(self, group: EventGroup, name: str) -> None:
        found = await group.trimmed()
        if found is None or f"{name}/{found[0]}" in self.trimmed:
            return
        delivered, lost = found
        self.trimmed.add(f"{name}/{delivered}")
        self._event(
            "error", "webhook.events_trimmed", shard=name, after=delivered,
            lost="unknown" if lost is None else lost,
            hint="events were trimmed (STORAGE_JOBS_EVENTS_MAXLEN) before any worker "
            "delivered them: they are lost to the webhook",
        )  # fmt: skip


def start_webhooks(
    settings: Settings,
    queue: Queue,
    consumer: str,
    event: Callable[..., None],
    metrics: WorkerMetrics | None = None,
) -> asyncio.Task[Any] | None:
    """The webhooks' task, when a webhook URL is set and events are on; else None."""
    if settings.webhook_url is None or settings.events_maxlen == 0:
        return None
    return asyncio.create_task(Webhooks(settings, queue, consumer, event, metrics).run())
