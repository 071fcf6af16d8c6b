"""botocore's per-request work the client skips: endpoint resolution per key, the user agent."""

from __future__ import annotations

from typing import Any

from botocore.endpoint_provider import EndpointProvider

from storage_jobs.storage import StorageClient
from storage_jobs.storage._tuning import unread_params


def _misses() -> int:
    return int(EndpointProvider.resolve_endpoint.cache_info().misses)  # type: ignore[attr-defined]


async def test_requests_to_one_bucket_share_one_endpoint_resolution(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """New keys do not re-run the endpoint ruleset: at most one resolution per bucket and call."""
    await moto_client.put_bytes(bucket=moto_bucket, key="warm", data=b"x")
    before = _misses()
    for i in range(8):
        await moto_client.put_bytes(bucket=moto_bucket, key=f"k/{i}", data=b"x")
    keys = await moto_client.list_files(bucket=moto_bucket, prefix="k/")
    assert _misses() - before <= 1  # the listing's first resolution; every put was a hit
    assert len(keys) == 8
    # What was stored is where it was asked to be (the endpoint did not lose the bucket).
    assert await moto_client.fetch_file(bucket=moto_bucket, key="k/7") == b"x"


def test_only_parameters_no_rule_reads_are_dropped() -> None:
    """A parameter referenced as {"ref": ...} or in a template is kept; the others are dropped."""
    ruleset = {
        "parameters": {"Bucket": {}, "Key": {}, "Region": {}, "Prefix": {}},
        "rules": [
            {
                "conditions": [{"fn": "isSet", "argv": [{"ref": "Bucket"}]}],
                "endpoint": {"url": "https://{Region}.example"},
            }
        ],
    }
    assert unread_params(ruleset) == {"Key", "Prefix"}


def test_s3_ruleset_reads_neither_key_nor_prefix(moto_client: StorageClient) -> None:
    """The installed botocore's S3 ruleset: Key, Prefix and CopySource are the unread ones."""
    raw: Any = moto_client.s3._inner  # type: ignore[attr-defined]
    model = raw.meta.service_model
    ruleset = raw._loader.load_service_model(
        model.service_name, "endpoint-rule-set-1", api_version=model.api_version
    )
    assert unread_params(ruleset) == {"Key", "Prefix", "CopySource"}
    assert raw._ruleset_resolver._provider.unread == {"Key", "Prefix", "CopySource"}


async def test_requests_carry_the_fixed_user_agent(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """The User-Agent sent is the fixed one (built once), not botocore's per-request one."""
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request.headers["User-Agent"].decode())

    raw: Any = moto_client.s3._inner  # type: ignore[attr-defined]
    raw.meta.events.register("before-send.s3.PutObject", record)
    await moto_client.put_bytes(bucket=moto_bucket, key="ua", data=b"x")
    assert len(sent) == 1
    assert sent[0].startswith("storage-jobs/")
    assert " ua/2.1 " not in sent[0]  # botocore's own format
