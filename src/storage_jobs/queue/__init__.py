"""The queue protocol: the only code that knows the Redis layout and arq's wire format.

Producers (``client``), the worker, the CLI and the dashboard read and write the queue through
this package. ``Queue`` holds the whole protocol as methods (enqueue, claim, renew, finish,
retry, dead letters, cancel, pause and resume, status and result, wake-ups) and owns every Lua
script (``lua/*.lua``, each opening with its KEYS and ARGV; ``_scripts``). Beside it: key names
(``QueueKeys``), the JSON codec and arq's envelope and result shapes (``_wire``), queue info and
heartbeats, and the Redis side of each job's crash-safe state. It imports no arq: producers
that import it load neither arq's worker nor an S3 stack.
"""

from ._acl import ACL_ROLES, ARQ_HEALTH_SUFFIX, acl_user, acl_users
from ._cadence import MIN_EVERY_S, Cadence, check_schedule_name, tick_job_id
from ._cancelled import CANCEL_MESSAGE, finish_cancelled
from ._claim import MAX_CLAIM, SHARE_EVERY, Claim, Claimed, LeaseHolder, reserved_lane
from ._cluster import AnyRedis, ClusterDatabaseError, atomic, connect_detected, is_cluster
from ._connection import RedisTarget, connect_redis, open_redis, redis_password
from ._control import PAUSABLE_KINDS, Control, RedisJobControl, control_keys
from ._dead_letters import MAX_KEPT_PAYLOAD, DeadLetter, DeadLetterStore
from ._enqueue import Enqueuer, NewJob
from ._event_stream import EventGroup, EventReader
from ._events import EVENTS_MAXLEN, EventError, JobEvent, event_data
from ._finish import FINISH_CALL_JOBS, Finish
from ._heartbeat import Heartbeat, read_heartbeats, remove_heartbeat, write_heartbeat
from ._history import (
    FINISHED_KEPT,
    HISTORY_TTL,
    MinuteCounts,
    Outcome,
    finished_index,
    history_field,
    read_history,
    record_outcome,
)
from ._index import (
    PREFIX_JOBS_KEPT,
    ListedState,
    index_prefix_job,
    list_ids,
    peek_functions,
    prefix_job_ids,
)
from ._info import (
    IN_PROGRESS_LIMIT,
    KIND_SAMPLE,
    UNREADABLE_KIND,
    QueueDepth,
    QueueInfo,
    ShardInfo,
    WorkerInfo,
    job_kinds,
    live_workers,
    queue_depth,
    queue_info,
)
from ._job_record import JobRecord, read_job
from ._job_state import RedisJobState
from ._keys import (
    ATTEMPTS_TTL_S,
    LANES,
    STATE_PREFIX,
    Priority,
    QueueKeys,
    check_priority,
    state_key,
)
from ._memory import (
    NOEVICTION,
    EvictionPolicy,
    is_redis_full,
    read_eviction_policy,
    redis_said,
)
from ._opener import ShardCountError, check_shard_count, open_queue, queue_on
from ._progress import RedisProgressStore
from ._queue import RESULT_TTL_S, Queue
from ._rate_limit import RedisRateLimiter
from ._running import LEASES_CHECKED
from ._schedule_records import Overlap, ScheduleDefinition, ScheduleRecord
from ._schedules import ScheduleKeys, ScheduleStore
from ._scripts import SCRIPT_NAMES, Scripts
from ._shard import Shard
from ._shards import (
    MAX_SHARDS,
    ShardLayout,
    SlotRange,
    shard_nodes,
    shard_of,
    shard_tags,
    slot_ranges,
)
from ._status import JobStatus, lease_holder, read_outcome, read_status
from ._ticks import Tick, TickRound
from ._waiter import ResultWaiter
from ._wake import IDLE_WAIT_MAX_S, idle_wait, push_wake, wait_for_wake
from ._wire import (
    CANCELLED,
    EXPIRED,
    Envelope,
    ErrorRecord,
    JobFailure,
    ResultRecord,
    build_envelope,
    build_result,
    decode,
    describe_validation_error,
    encode,
    error_record,
    parse_envelope,
    parse_result,
    peek_function,
    peek_priority,
)

__all__ = [
    "ACL_ROLES",
    "ARQ_HEALTH_SUFFIX",
    "ATTEMPTS_TTL_S",
    "CANCELLED",
    "CANCEL_MESSAGE",
    "EVENTS_MAXLEN",
    "EXPIRED",
    "FINISHED_KEPT",
    "FINISH_CALL_JOBS",
    "HISTORY_TTL",
    "IDLE_WAIT_MAX_S",
    "IN_PROGRESS_LIMIT",
    "KIND_SAMPLE",
    "LANES",
    "LEASES_CHECKED",
    "MAX_CLAIM",
    "MAX_KEPT_PAYLOAD",
    "MAX_SHARDS",
    "MIN_EVERY_S",
    "NOEVICTION",
    "PAUSABLE_KINDS",
    "PREFIX_JOBS_KEPT",
    "RESULT_TTL_S",
    "SCRIPT_NAMES",
    "SHARE_EVERY",
    "STATE_PREFIX",
    "UNREADABLE_KIND",
    "AnyRedis",
    "Cadence",
    "Claim",
    "Claimed",
    "ClusterDatabaseError",
    "Control",
    "DeadLetter",
    "DeadLetterStore",
    "Enqueuer",
    "Envelope",
    "ErrorRecord",
    "EventError",
    "EventGroup",
    "EventReader",
    "EvictionPolicy",
    "Finish",
    "Heartbeat",
    "JobEvent",
    "JobFailure",
    "JobRecord",
    "JobStatus",
    "LeaseHolder",
    "ListedState",
    "MinuteCounts",
    "NewJob",
    "Outcome",
    "Overlap",
    "Priority",
    "Queue",
    "QueueDepth",
    "QueueInfo",
    "QueueKeys",
    "RedisJobControl",
    "RedisJobState",
    "RedisProgressStore",
    "RedisRateLimiter",
    "RedisTarget",
    "ResultRecord",
    "ResultWaiter",
    "ScheduleDefinition",
    "ScheduleKeys",
    "ScheduleRecord",
    "ScheduleStore",
    "Scripts",
    "Shard",
    "ShardCountError",
    "ShardInfo",
    "ShardLayout",
    "SlotRange",
    "Tick",
    "TickRound",
    "WorkerInfo",
    "acl_user",
    "acl_users",
    "atomic",
    "build_envelope",
    "build_result",
    "check_priority",
    "check_schedule_name",
    "check_shard_count",
    "connect_detected",
    "connect_redis",
    "control_keys",
    "decode",
    "describe_validation_error",
    "encode",
    "error_record",
    "event_data",
    "finish_cancelled",
    "finished_index",
    "history_field",
    "idle_wait",
    "index_prefix_job",
    "is_cluster",
    "is_redis_full",
    "job_kinds",
    "lease_holder",
    "list_ids",
    "live_workers",
    "open_queue",
    "open_redis",
    "parse_envelope",
    "parse_result",
    "peek_function",
    "peek_functions",
    "peek_priority",
    "prefix_job_ids",
    "push_wake",
    "queue_depth",
    "queue_info",
    "queue_on",
    "read_eviction_policy",
    "read_heartbeats",
    "read_history",
    "read_job",
    "read_outcome",
    "read_status",
    "record_outcome",
    "redis_password",
    "redis_said",
    "remove_heartbeat",
    "reserved_lane",
    "shard_nodes",
    "shard_of",
    "shard_tags",
    "slot_ranges",
    "state_key",
    "tick_job_id",
    "wait_for_wake",
    "write_heartbeat",
]
