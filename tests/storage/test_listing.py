"""Listings of a bucket that is not there fail as storage errors, not as botocore's."""

from __future__ import annotations

import pytest

from storage_jobs.storage import StorageBucketNotFoundError, StorageClient


async def test_a_listing_of_a_missing_bucket_raises_bucket_not_found(
    moto_client: StorageClient,
) -> None:
    with pytest.raises(StorageBucketNotFoundError) as listing:
        _ = [page async for page in moto_client.iter_pages(bucket="no-such-bucket-l")]
    assert listing.value.bucket == "no-such-bucket-l"
    with pytest.raises(StorageBucketNotFoundError) as versions:
        _ = [p async for p in moto_client.iter_version_pages(bucket="no-such-bucket-v")]
    assert versions.value.bucket == "no-such-bucket-v"
