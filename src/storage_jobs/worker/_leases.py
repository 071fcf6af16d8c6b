"""Leases: a short, renewed claim on a running job, fenced by the holder's worker id.

arq marks a job in progress for its whole timeout (+10 s), so a job held by a SIGKILLed worker
waits that long. A lease lasts ``lease_seconds`` and is renewed while the job runs, so a dead
worker's job is picked up by another within one lease. A worker that finds its lease taken (it
stalled past the lease and another worker took the job) cancels its run and leaves the job to
the new holder.

The claim also obeys the operator (``queue._control``): a job whose cancel marker (or its
prefix job's) is set is taken only to be finished as cancelled, never run; nothing is taken
while the queue is paused; a batch of a paused prefix job is parked off the queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..queue import QueueKeys, control_keys

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["CANCELLED", "Leases"]

CANCELLED = -1
"""``Leases.claim``'s answer for a job taken only to be finished as cancelled."""

# Renew a lease only while it is still ours; 0 tells the holder it lost the job.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

# Take a job that is due and not held by anyone: the lease is the in-progress key.
# KEYS: lease, queue, queue pause flag, cancel marker, parent's cancel marker, prefix job's
# pause flag, its parked set. A cancelled job is taken (so one worker finishes it) and flagged.
_CLAIM = """
if redis.call('exists', KEYS[1]) == 1 then return false end
local score = redis.call('zscore', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
-- One EXISTS over every control key: none is set for nearly every claim.
if redis.call('exists', KEYS[3], KEYS[4], KEYS[5], KEYS[6]) == 0 then
    redis.call('psetex', KEYS[1], ARGV[3], ARGV[4])
    return score
end
if redis.call('exists', KEYS[4], KEYS[5]) > 0 then
    redis.call('psetex', KEYS[1], ARGV[3], ARGV[4])
    return {score}
end
if redis.call('exists', KEYS[3]) == 1 then return false end
if redis.call('exists', KEYS[6]) == 1 then
    redis.call('zrem', KEYS[2], ARGV[1])
    redis.call('zadd', KEYS[7], score, ARGV[1])
    return false
end
redis.call('psetex', KEYS[1], ARGV[3], ARGV[4])
return score
"""


class Leases:
    """The leases one worker holds on one queue."""

    def __init__(self, queue_name: str, worker_id: str, lease_seconds: float) -> None:
        self.keys = QueueKeys(queue_name)
        self.worker_id = worker_id
        self.lease_ms = int(lease_seconds * 1000)
        self.lost: set[str] = set()
        self._renew: AsyncScript | None = None
        self._claim: AsyncScript | None = None

    async def claim(self, redis: Redis, job_id: str, now_ms: int) -> int | None:
        """Takes a due, unheld job (one round trip).

        arq's claim (WATCH, EXISTS, ZSCORE, MULTI/EXEC) is five round trips; the same
        check-and-set as one script is one, with the lease holding this worker's id.

        Returns:
            Its queue score; ``CANCELLED`` if it was taken only to be finished as cancelled;
            None if not taken (held, not due, queue paused, or parked as its job is paused).
        """
        if self._claim is None:
            self._claim = redis.register_script(_CLAIM)
        cancel, parent_cancel, paused, parked = control_keys(job_id)
        score = await self._claim(
            keys=[
                self.keys.in_progress(job_id),
                self.keys.queue,
                self.keys.paused,
                cancel,
                parent_cancel,
                paused,
                parked,
            ],
            args=[job_id, now_ms, self.lease_ms, self.worker_id],
        )
        if isinstance(score, list):
            return CANCELLED
        return None if score is None else int(float(score))

    async def renew(self, redis: Redis, running: Iterable[str]) -> list[str]:
        """Renews the leases of running jobs (one round trip).

        Returns:
            The jobs whose lease was newly found taken: their runs must be cancelled.
        """
        running = list(running)
        # A job that ended without finish_job (arq fails expired, undecodable or over-tried
        # jobs through finish_failed_job) is never forgotten: keep only jobs still running.
        self.lost.intersection_update(running)
        if not running:
            return []
        if self._renew is None:
            self._renew = redis.register_script(_RENEW)
        renew = self._renew
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in running:
                await renew(
                    keys=[self.keys.in_progress(job_id)],
                    args=[self.worker_id, self.lease_ms],
                    client=pipe,
                )
            answers = await pipe.execute()
        newly_lost = [j for j, kept in zip(running, answers, strict=True) if not kept]
        newly_lost = [j for j in newly_lost if j not in self.lost]
        self.lost.update(newly_lost)
        return newly_lost

    def forget(self, job_id: str) -> bool:
        """Forgets a finished job; True if its lease had been lost."""
        lost = job_id in self.lost
        self.lost.discard(job_id)
        return lost
