"""Leases: a short, renewed claim on a running job, fenced by the holder's worker id.

arq marks a job in progress for its whole timeout (+10 s), so a job held by a SIGKILLed worker
waits that long. A lease lasts ``lease_seconds`` and is renewed while the job runs, so a dead
worker's job is picked up by another within one lease. A worker that finds its lease taken (it
stalled past the lease and another worker took the job) cancels its run and leaves the job to
the new holder.

**Claims come in batches.** One script call per poll reads the due jobs, takes up to the
worker's free slots' worth of them (``SET NX PX`` of each lease: check and set in one
command), bumps arq's attempt counter of each and returns their payloads (one ``MGET``), so
arq's per-job claim, start pipeline and payload read are one call per batch. A taken job's queue
score moves to its lease's deadline (renewals move it on): a running job is not due, so the
next claim reads past none of them, and when its worker dies the job becomes due again exactly
when its lease lapses. A retry puts the score back where arq would (``_finisher``).

**Lanes.** Jobs wait in three sorted sets (``QueueKeys.lane``): ``high``, ``normal`` (arq's
queue) and ``bulk``. A claim fills its slots from ``high``, then ``normal``, then ``bulk``. So that
no lane starves, of every ``SHARE_EVERY`` (8) claim calls of a worker, the 4th gives its first
slot to the oldest due ``normal`` job and the 8th to the oldest due ``bulk`` job (when that lane
has none due, the slot goes in the usual order); the call's other slots go in the usual order.
A worker under a ``high`` backlog taking one job per call thus gives ``normal`` and ``bulk`` one
claim in 8 each. Each taken job carries its lane, so renewals, its finish and a retry address
that lane's sorted set.

**Reserved slots.** A lane ranks the jobs that take free slots; it frees none, so a worker
whose every slot runs a migration's batch would keep a new upload waiting for a batch to end
(seconds at 1,000 objects a batch). The worker therefore passes how many bulk jobs it may start
(``bulk``: its free slots less the reserved ones, one while it runs none), and the claim takes
no more; it says when due bulk jobs were left for that cap (``bulk_capped``), so the worker wakes
itself when a job ends and frees a slot for them.

The claim also obeys the operator (``queue._control``): nothing is taken while the queue is
paused; a job whose cancel marker (or its prefix job's) is set is taken only to be finished as
cancelled, never run; a batch of a paused prefix job is parked off the queue. Those per-job
checks run only while the queue's control flag is set (every marker writer extends it past the
marker's lifetime), so a claim costs no command per job for them otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..queue import LANES, STATE_PREFIX, Priority, QueueKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["MAX_CLAIM", "SHARE_EVERY", "Claim", "Claimed", "Leases", "reserved_lane"]

MAX_CLAIM = 256
"""Jobs one claim takes at most."""

RETRY_TTL_S = 88_400
"""Lifetime of arq's attempt counter, as arq sets it."""

# Renew a lease only while it is still ours (and keep the job's score at the lease's deadline,
# in the job's lane); 0 tells the holder it lost the job.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    -- A full Redis (noeviction) refuses ZADD but not PEXPIRE: the lease must outlive it. A
    -- score left behind only makes the held job look due, and the claim reads past it.
    redis.pcall('zadd', KEYS[2], 'XX', ARGV[3], ARGV[4])
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: the high, normal (arq's queue) and bulk lanes, queue pause flag, control flag.
# ARGV: now ms, jobs wanted, lease ms, worker id, ids to read at most per lane, lease deadline
# ms, attempt counter ttl s, then the key prefixes of leases, jobs, attempt counters, job state,
# then the lane (1-3) that gets this call's first slot, or 0, then how many bulk jobs it may take
# (-1: any number).
# Returns {1} while paused, else {0, {id, score, payload, try, lane, ...}, {cancelled id, lane,
# ...}, 1 if due bulk jobs were left for the bulk cap else 0, the lanes' soonest score if nothing
# was taken else -1 (-1 too when the lanes are empty)}.
_CLAIM = """
local flags = redis.call('mget', KEYS[4], KEYS[5])
if flags[1] then return {1} end
local want, deadline = tonumber(ARGV[2]), ARGV[6]
local lease_p, job_p, retry_p, state_p = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local names = {'high', 'normal', 'bulk'}
local taken, scores, lanes, cancelled = {}, {}, {}, {}
local count, bulk_left, capped = 0, tonumber(ARGV[13]), 0
local function take(lane, limit)
    if lane == 3 and bulk_left >= 0 then
        if bulk_left < limit then limit = bulk_left end
        if limit == 0 then
            -- Reads one id only to tell the worker a bulk job waits for a bulk slot.
            if #redis.call('zrangebyscore', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, 1) > 0 then
                capped = 1
            end
            return
        end
    end
    local got, moved = 0, {}
    local due = redis.call('zrangebyscore', KEYS[lane], '-inf', ARGV[1], 'WITHSCORES',
                           'LIMIT', 0, ARGV[5])
    for i = 1, #due, 2 do
        if count >= want then break end
        if got >= limit then
            if lane == 3 and bulk_left == 0 then capped = 1 end
            break
        end
        local id, score = due[i], due[i + 1]
        local state = 'run'
        if flags[2] then
            -- Some marker may exist: check this job's (rare: only while an operator acts). The
            -- names are QueueKeys.cancel/job_paused/parked/parked_lane; a batch's owner is
            -- parent_job_id's.
            local owner = string.match(id, '^(.+):batch:%d+$') or id
            if redis.call('exists', lease_p .. id) == 1 then
                state = 'held'
            elseif redis.call('exists', state_p .. id .. ':cancel',
                              state_p .. owner .. ':cancel') > 0 then
                state = 'cancel'
            elseif redis.call('exists', state_p .. owner .. ':paused') == 1 then
                redis.call('zrem', KEYS[lane], id)
                redis.call('zadd', state_p .. owner .. ':parked', score, id)
                redis.call('set', state_p .. owner .. ':parked-lane', names[lane], 'EX', 2592000)
                state = 'parked'
            end
        end
        if (state == 'run' or state == 'cancel')
            and redis.call('set', lease_p .. id, ARGV[4], 'PX', ARGV[3], 'NX') then
            moved[#moved + 1] = deadline
            moved[#moved + 1] = id
            got, count = got + 1, count + 1
            if lane == 3 and bulk_left >= 0 then bulk_left = bulk_left - 1 end
            if state == 'run' then
                taken[#taken + 1] = id
                scores[#scores + 1] = score
                lanes[#lanes + 1] = lane
            else
                cancelled[#cancelled + 1] = id
                cancelled[#cancelled + 1] = lane
            end
        end
    end
    -- Moved now, so a later pass over the same lane reads past none of them.
    if #moved > 0 then redis.call('zadd', KEYS[lane], 'XX', unpack(moved)) end
end
local first = tonumber(ARGV[12])
if first > 0 then take(first, 1) end
for lane = 1, 3 do
    if count >= want then break end
    take(lane, want)
end
if count == 0 then
    -- Nothing taken: say when the soonest job is due (deferred, retrying, or a lease that
    -- lapses), so an idle worker blocks until then instead of polling.
    local soonest = -1
    for lane = 1, 3 do
        local head = redis.call('zrange', KEYS[lane], 0, 0, 'WITHSCORES')
        if #head > 0 then
            local score = tonumber(head[2])
            if soonest < 0 or score < soonest then soonest = score end
        end
    end
    return {0, {}, {}, capped, soonest}
end
if #taken == 0 then return {0, {}, cancelled, capped, -1} end
local keys = {}
for i, id in ipairs(taken) do
    keys[2 * i - 1] = job_p .. id
    keys[2 * i] = retry_p .. id
end
local got = redis.call('mget', unpack(keys))
local out = {}
for i, id in ipairs(taken) do
    local try = tonumber(got[2 * i] or '0') + 1
    redis.call('set', retry_p .. id, try, 'EX', ARGV[7])
    out[#out + 1] = id
    out[#out + 1] = scores[i]
    out[#out + 1] = got[2 * i - 1]
    out[#out + 1] = try
    out[#out + 1] = lanes[i]
end
return {0, out, cancelled, capped, -1}
"""

SHARE_EVERY = 8
"""Of every ``SHARE_EVERY`` claim calls a worker makes, one gives its first slot to ``normal``
and one to ``bulk`` (see the module docstring)."""


def reserved_lane(call: int) -> int:
    """The lane (1 high, 2 normal, 3 bulk) whose due job a claim call takes first; 0: none."""
    step = call % SHARE_EVERY
    if step == SHARE_EVERY - 1:
        return 3
    if step == SHARE_EVERY // 2 - 1:
        return 2
    return 0


@dataclass(frozen=True)
class Claimed:
    """One job a claim took to run.

    Attributes:
        job_id: The job.
        score: Its queue score when it was taken (its run-at time, ms).
        payload: The serialized job; None if it had expired.
        job_try: Its attempt number (arq's counter, this attempt included).
        lane: The lane it was taken from (renewals and its finish address that sorted set).
    """

    job_id: str
    score: int
    payload: bytes | None
    job_try: int
    lane: Priority = "normal"


@dataclass(frozen=True)
class Claim:
    """What one claim took.

    Attributes:
        paused: The queue is paused: nothing was taken.
        run: Jobs to run.
        cancelled: Jobs taken only to be finished as cancelled.
        bulk_capped: Due bulk jobs were left because the worker's bulk slots are full.
        next_due_ms: When nothing was taken: the soonest score over the lanes (a deferred
            job, a retry, a running job's lease deadline), or None if they are empty.
    """

    paused: bool = False
    run: list[Claimed] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    bulk_capped: bool = False
    next_due_ms: int | None = None

    def __len__(self) -> int:
        return len(self.run) + len(self.cancelled)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Leases:
    """The leases one worker holds on one queue."""

    def __init__(self, queue_name: str, worker_id: str, lease_seconds: float) -> None:
        self.keys = QueueKeys(queue_name)
        self.worker_id = worker_id
        self.lease_ms = int(lease_seconds * 1000)
        self.lost: set[str] = set()
        self.lanes: dict[str, Priority] = {}  # held job -> its lane
        self.calls = 0  # claim calls made: which one reserves a slot (``reserved_lane``)
        self._renew: AsyncScript | None = None
        self._claim: AsyncScript | None = None

    async def claim(
        self, redis: Redis, want: int, now_ms: int, *, scan: int = 0, bulk: int | None = None
    ) -> Claim:
        """Takes up to ``want`` due, unheld jobs (one round trip).

        Args:
            redis: The connection.
            want: Free slots: how many jobs to take at most (capped at ``MAX_CLAIM``).
            now_ms: The time; jobs scored up to it are due.
            scan: Due ids read at most (default ``2 * want + 16``): ids held by a worker
                that does not move scores (plain arq) are read past, costing a command each.
            bulk: Bulk jobs to take at most (free bulk slots); None: any number.
        """
        want = max(0, min(want, MAX_CLAIM))
        if want == 0:
            return Claim()
        if self._claim is None:
            self._claim = redis.register_script(_CLAIM)
        first = reserved_lane(self.calls)
        self.calls += 1
        answer = await self._claim(
            keys=[*self.keys.lanes, self.keys.paused, self.keys.control],
            args=[
                now_ms,
                want,
                self.lease_ms,
                self.worker_id,
                max(scan, 2 * want + 16),
                now_ms + self.lease_ms,
                RETRY_TTL_S,
                QueueKeys.in_progress(""),
                QueueKeys.job(""),
                QueueKeys.retry(""),
                STATE_PREFIX,
                first,
                -1 if bulk is None else max(0, bulk),
            ],
        )
        if int(answer[0]) == 1:
            return Claim(paused=True)
        flat, cancelled = answer[1], answer[2]
        run = [
            Claimed(
                job_id=_text(flat[i]),
                score=int(float(flat[i + 1])),
                payload=flat[i + 2] or None,
                job_try=int(flat[i + 3]),
                lane=LANES[int(flat[i + 4]) - 1],
            )
            for i in range(0, len(flat), 5)
        ]
        for claimed in run:
            self.lanes[claimed.job_id] = claimed.lane
        ids = [_text(cancelled[i]) for i in range(0, len(cancelled), 2)]
        for i, job_id in enumerate(ids):
            self.lanes[job_id] = LANES[int(cancelled[2 * i + 1]) - 1]
        soonest = int(float(answer[4]))
        return Claim(
            run=run,
            cancelled=ids,
            bulk_capped=int(answer[3]) == 1,
            next_due_ms=soonest if soonest >= 0 and not run and not ids else None,
        )

    async def renew(self, redis: Redis, running: Iterable[str], now_ms: int) -> list[str]:
        """Renews the leases of running jobs, their scores with them (one round trip).

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
        deadline = now_ms + self.lease_ms
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in running:
                await renew(
                    keys=[self.keys.in_progress(job_id), self.lane_key(job_id)],
                    args=[self.worker_id, self.lease_ms, deadline, job_id],
                    client=pipe,
                )
            answers = await pipe.execute()
        newly_lost = [j for j, kept in zip(running, answers, strict=True) if not kept]
        newly_lost = [j for j in newly_lost if j not in self.lost]
        self.lost.update(newly_lost)
        return newly_lost

    def lane_of(self, job_id: str) -> Priority:
        """The lane a held job was taken from (``normal`` for one this worker did not claim)."""
        return self.lanes.get(job_id, "normal")

    def lane_key(self, job_id: str) -> str:
        """The sorted set of a held job's lane."""
        return self.keys.lane(self.lane_of(job_id))

    def forget(self, job_id: str) -> bool:
        """Forgets a finished job; True if its lease had been lost."""
        lost = job_id in self.lost
        self.lost.discard(job_id)
        self.lanes.pop(job_id, None)
        return lost
