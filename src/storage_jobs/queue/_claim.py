"""Claims and leases: one worker's batched claim of due jobs, and the renewal of their leases.

arq marks a job in progress for its whole timeout (+10 s), so a job held by a SIGKILLed worker
waits that long. A lease lasts ``lease_seconds`` and is renewed while the job runs, so a dead
worker's job is picked up by another within one lease. A worker that finds its lease taken (it
stalled past the lease and another worker took the job) cancels its run and leaves the job to
the new holder.

**Claims come in batches** (``lua/claim.lua``). One script call takes up to the worker's free
slots' worth of due jobs (``SET NX PX`` of each lease: check and set in one command), bumps
arq's attempt counter of each and returns their payloads (one ``MGET``). A taken job's score
moves to its lease's deadline (renewals move it on): a running job is not due, so the next claim
reads past none of them, and when its worker dies the job becomes due again exactly when its
lease lapses. A retry puts the score back where arq would (``_finish``).

**Every key comes from here.** The script reads the due ids from the lanes, but the keys of
each job it may take (lease, payload, attempt counter, and while the control flag is set its
markers and its prefix job's) are declared by Python, for the ids it expects: the *lookahead*,
the due ids the previous claim saw and left. So a claim stays one round trip while the lanes
hold what the last one saw. Meeting an id it was not given (another worker took the lookahead,
a new job came first in a higher lane, the first claim) stops the script there: it returns what
it took and the due ids it read, and the claim calls again with those (a second round trip).
While an enqueue is still writing, its ids can come first on every call (one ``enqueue_many``
gives its jobs one score, so they sort by id): after ``MAX_CALLS`` the claim returns what it
took, saying it was cut short (``Claim.missed``), and the worker claims again at once rather
than wait as if the lanes held nothing more.

**Lanes.** Jobs wait in three sorted sets (``QueueKeys.lane``): ``high``, ``normal`` (arq's
queue) and ``bulk``. A claim fills its slots from ``high``, then ``normal``, then ``bulk``. So that
no lane starves, of every ``SHARE_EVERY`` (8) claim calls of a worker, the 4th gives its first
slot to the oldest due ``normal`` job and the 8th to the oldest due ``bulk`` job (when that lane
has none due, the slot goes in the usual order). Each taken job carries its lane, so renewals,
its finish and a retry address that lane's sorted set.

**Reserved slots.** The worker passes how many bulk jobs it may start (``bulk``); the claim takes
no more and says when due bulk jobs were left for that cap (``bulk_capped``), so the worker
wakes itself when a job ends and frees a slot for them.

The claim also obeys the operator (``_control``): nothing is taken while the queue is paused; a
job whose cancel marker (or its prefix job's) is set is taken only to be finished as cancelled;
a batch of a paused prefix job is parked off the queue. Those checks run only while the queue's
control flag is set, so a claim otherwise costs no command per job for them.

**Expiry.** A job enqueued with ``expires`` carries its deadline in its envelope's first bytes
(``"x"``); the claim reads it off each job it takes for a first attempt (its payload is read
anyway: no command more) and hands a job past it back as ``expired``, never to run: the worker
finishes it as such (status ``expired``, its completion event, no dead letter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._control import control_keys
from ._keys import ATTEMPTS_TTL_S, LANES, PARKED_LANE_TTL_S, Priority, QueueKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._scripts import Scripts

__all__ = [
    "MAX_CLAIM",
    "MAX_LOOKAHEAD",
    "SHARE_EVERY",
    "Claim",
    "Claimed",
    "LeaseHolder",
    "reserved_lane",
]

MAX_CLAIM = 256
"""Jobs one claim takes at most."""

SHARE_EVERY = 8
"""Of every ``SHARE_EVERY`` claim calls a worker makes, one gives its first slot to ``normal``
and one to ``bulk`` (see the module docstring)."""

MAX_LOOKAHEAD = 400
"""Candidate ids one claim call declares at most: 8 keys and 1 argument each while the control
flag is set, so a call stays under the 3,999 arguments ElastiCache Serverless allows (3,620).
An id past them is met undeclared, which costs a second call, never a wrong answer."""

MAX_CALLS = 4
"""Script calls one claim makes at most: the lanes changing under it between calls (other
workers taking what it was told of) end it with what it took so far."""

_PAUSED, _MISSED = 1, 2


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
        expired: Jobs taken only to be finished as expired (never started before their expiry).
        bulk_capped: Due bulk jobs were left because the worker's bulk slots are full.
        next_due_ms: When nothing was taken: the soonest score over the lanes (a deferred
            job, a retry, a running job's lease deadline), or None if they are empty.
        calls: Script calls the claim made (1 while the lookahead held).
        missed: Its last call met an id it was not told of: due jobs may be left (and
            ``next_due_ms`` says nothing).
    """

    paused: bool = False
    run: list[Claimed] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    expired: list[Claimed] = field(default_factory=list)
    bulk_capped: bool = False
    next_due_ms: int | None = None
    calls: int = 1
    missed: bool = False

    def __len__(self) -> int:
        return len(self.run) + len(self.cancelled) + len(self.expired)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class LeaseHolder:
    """The leases one worker holds on one queue, and what its claims saw (the lookahead)."""

    def __init__(self, queue_name: str, worker_id: str, lease_seconds: float) -> None:
        self.keys = QueueKeys(queue_name)
        self.worker_id = worker_id
        self.lease_ms = int(lease_seconds * 1000)
        self.lost: set[str] = set()
        self.lanes: dict[str, Priority] = {}  # held job -> its lane
        self.calls = 0  # claim calls made: which one reserves a slot (``reserved_lane``)
        self.lookahead: list[str] = []  # due ids the last claim saw: the next one's candidates
        self.control = False  # the control flag was set at the last claim

    def _candidate_keys(self, ids: list[str]) -> list[str]:
        keys: list[str] = []
        for job_id in ids:
            keys += [QueueKeys.in_progress(job_id), QueueKeys.job(job_id), QueueKeys.retry(job_id)]
            if self.control:
                keys += control_keys(job_id)
        return keys

    async def claim(
        self, scripts: Scripts, want: int, now_ms: int, *, scan: int = 0, bulk: int | None = None
    ) -> Claim:
        """Takes up to ``want`` due, unheld jobs (one round trip while the lookahead holds).

        Args:
            scripts: The queue's scripts on the connection to use.
            want: Free slots: how many jobs to take at most (capped at ``MAX_CLAIM``).
            now_ms: The time; jobs scored up to it are due.
            scan: Due ids read at most per lane (default ``2 * want + 16``): ids held by a
                worker that does not move scores (plain arq) are read past, costing a command
                each; the ids read and left are the next claim's lookahead.
            bulk: Bulk jobs to take at most (free bulk slots); None: any number.
        """
        want = max(0, min(want, MAX_CLAIM))
        if want == 0:
            return Claim()
        first = reserved_lane(self.calls)
        self.calls += 1
        scan = max(scan, 2 * want + 16)
        bulk_left = -1 if bulk is None else max(0, bulk)
        run: list[Claimed] = []
        cancelled: list[str] = []
        expired: list[Claimed] = []
        capped = False
        soonest = -1
        calls = 0
        while calls < MAX_CALLS and len(run) + len(cancelled) + len(expired) < want:
            calls += 1
            ids = self.lookahead
            flags = [self.keys.paused, self.keys.control]
            answer = await scripts.claim(
                keys=[*self.keys.lanes, *flags, *self._candidate_keys(ids)],
                args=[
                    now_ms,
                    want - len(run) - len(cancelled) - len(expired),
                    self.lease_ms,
                    self.worker_id,
                    scan,
                    now_ms + self.lease_ms,
                    ATTEMPTS_TTL_S,
                    first,
                    bulk_left,
                    PARKED_LANE_TTL_S,
                    8 if self.control else 3,
                    *ids,
                ],
            )
            status = int(answer[0])
            if status == _PAUSED:
                self.lookahead = []
                taken = bool(run or cancelled or expired)
                return Claim(paused=not taken, run=run, cancelled=cancelled, expired=expired)
            took_run, took_cancelled = self._took(answer[1], answer[2])
            took_expired = self._claimed(answer[7])
            run += took_run
            cancelled += took_cancelled
            expired += took_expired
            if bulk_left >= 0:
                bulk_left -= sum(c.lane == "bulk" for c in (*took_run, *took_expired))
                bulk_left -= sum(self.lanes[j] == "bulk" for j in took_cancelled)
                bulk_left = max(0, bulk_left)
            capped = capped or int(answer[3]) == 1
            soonest = int(float(answer[4]))
            self.lookahead = list(dict.fromkeys(_text(i) for i in answer[5]))[:MAX_LOOKAHEAD]
            self.control = int(answer[6]) == 1
            if status != _MISSED:
                break
            if took_run or took_cancelled or took_expired:
                first = 0  # the reserved slot went to this claim's first call
        took = len(run) + len(cancelled) + len(expired)
        return Claim(
            run=run,
            cancelled=cancelled,
            expired=expired,
            bulk_capped=capped,
            next_due_ms=soonest if soonest >= 0 and not took else None,
            calls=calls,
            missed=status == _MISSED and took < want,
        )

    def _took(self, flat: list[Any], cancelled: list[Any]) -> tuple[list[Claimed], list[str]]:
        run = self._claimed(flat)
        ids = [_text(cancelled[i]) for i in range(0, len(cancelled), 2)]
        for i, job_id in enumerate(ids):
            self.lanes[job_id] = LANES[int(cancelled[2 * i + 1]) - 1]
        return run, ids

    def _claimed(self, flat: list[Any]) -> list[Claimed]:
        """Taken jobs (``{id, score, payload, try, lane, ...}``), their lanes remembered."""
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
        return run

    async def renew(
        self, redis: Redis, scripts: Scripts, running: Iterable[str], now_ms: int
    ) -> list[str]:
        """Renews the leases of running jobs, their scores with them (one round trip).

        Returns:
            The jobs whose lease was newly found taken: their runs must be cancelled.
        """
        running = list(running)
        # A job that ended without a finish (arq fails expired, undecodable or over-tried
        # jobs through finish_failed_job) is never forgotten: keep only jobs still running.
        self.lost.intersection_update(running)
        if not running:
            return []
        deadline = now_ms + self.lease_ms
        answers = await scripts.run_many(
            [
                (
                    "renew",
                    [self.keys.in_progress(job_id), self.lane_key(job_id)],
                    [self.worker_id, self.lease_ms, deadline, job_id],
                )
                for job_id in running
            ]
        )
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
