"""Key names: arq's own are spelled in the queue layer; they must stay arq's."""

from __future__ import annotations

from arq import constants

from storage_jobs.queue import QueueKeys, _keys, state_key


def test_arq_key_prefixes_match_arq() -> None:
    """Our copies of arq's prefixes equal arq's (a mismatch strands every queued job)."""
    assert _keys.job_key_prefix == constants.job_key_prefix
    assert _keys.result_key_prefix == constants.result_key_prefix
    assert _keys.in_progress_key_prefix == constants.in_progress_key_prefix
    assert _keys.retry_key_prefix == constants.retry_key_prefix
    assert _keys.abort_jobs_ss == constants.abort_jobs_ss


def test_job_keys_are_arqs_and_ours_are_namespaced() -> None:
    """Job state keys are arq's; queue-level and job-state keys carry our prefix."""
    keys = QueueKeys("q")
    assert keys.job("j") == "arq:job:j"
    assert keys.result("j") == "arq:result:j"
    assert keys.in_progress("j") == "arq:in-progress:j"
    assert {keys.dead_index, keys.dead_data, keys.workers, keys.wake} == {
        "storage-jobs:q:dead",
        "storage-jobs:q:dead:data",
        "storage-jobs:q:workers",
        "storage-jobs:q:wake",
    }
    assert state_key("j", "progress") == "storage-jobs:state:j:progress"
