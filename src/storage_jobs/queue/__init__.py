"""The queue protocol: the only code that knows the Redis layout and arq's wire format.

Producers (``client``), the worker, the CLI and the dashboard read and write the queue through
this package: key names (``QueueKeys``), the JSON codec and arq's envelope and result shapes
(``_wire``), the enqueue primitive, status and lease reads, dead letters, queue info and
heartbeats, and the Redis side of each job's crash-safe state. It imports no arq: producers
that import it load neither arq's worker nor an S3 stack.
"""

from ._connection import RedisTarget, connect_redis, redis_password
from ._deadletters import MAX_KEPT_PAYLOAD, DeadLetter, DeadLetterStore
from ._enqueue import Enqueuer, NewJob
from ._heartbeat import Heartbeat, read_heartbeats, remove_heartbeat, write_heartbeat
from ._info import (
    IN_PROGRESS_LIMIT,
    KIND_SAMPLE,
    UNREADABLE_KIND,
    QueueDepth,
    QueueInfo,
    WorkerInfo,
    job_kinds,
    live_workers,
    queue_depth,
    queue_info,
)
from ._job_state import RedisJobState
from ._keys import QueueKeys, state_key
from ._memory import (
    NOEVICTION,
    EvictionPolicy,
    is_redis_full,
    read_eviction_policy,
    redis_said,
)
from ._progress import RedisProgressStore
from ._status import JobStatus, lease_holder, read_outcome, read_status
from ._wire import (
    Envelope,
    ErrorRecord,
    JobFailure,
    ResultRecord,
    build_envelope,
    decode,
    describe_validation_error,
    encode,
    error_record,
    parse_envelope,
    parse_result,
    peek_function,
)

__all__ = [
    "IN_PROGRESS_LIMIT",
    "KIND_SAMPLE",
    "MAX_KEPT_PAYLOAD",
    "NOEVICTION",
    "UNREADABLE_KIND",
    "DeadLetter",
    "DeadLetterStore",
    "Enqueuer",
    "Envelope",
    "ErrorRecord",
    "EvictionPolicy",
    "Heartbeat",
    "JobFailure",
    "JobStatus",
    "NewJob",
    "QueueDepth",
    "QueueInfo",
    "QueueKeys",
    "RedisJobState",
    "RedisProgressStore",
    "RedisTarget",
    "ResultRecord",
    "WorkerInfo",
    "build_envelope",
    "connect_redis",
    "decode",
    "describe_validation_error",
    "encode",
    "error_record",
    "is_redis_full",
    "job_kinds",
    "lease_holder",
    "live_workers",
    "parse_envelope",
    "parse_result",
    "peek_function",
    "queue_depth",
    "queue_info",
    "read_eviction_policy",
    "read_heartbeats",
    "read_outcome",
    "read_status",
    "redis_password",
    "redis_said",
    "remove_heartbeat",
    "state_key",
    "write_heartbeat",
]
