"""An archived object's state as HeadObject tells it (AWS's x-amz-restore header, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from storage_jobs.storage._restores import restore_state

ONGOING = 'ongoing-request="true"'
DONE = 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"'


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({}, "active"),  # STANDARD: no class in the answer
        ({"StorageClass": "GLACIER_IR"}, "active"),  # instant retrieval reads at once
        ({"StorageClass": "STANDARD_IA", "Restore": DONE}, "active"),
        ({"StorageClass": "GLACIER"}, "archived"),
        ({"StorageClass": "DEEP_ARCHIVE", "Restore": ONGOING}, "restoring"),
        ({"StorageClass": "GLACIER", "Restore": DONE}, "restored"),
    ],
)
def test_restore_state(answer: dict[str, Any], state: str) -> None:
    found = restore_state({"ContentLength": 3, "ETag": '"e"', **answer})
    assert (found.state, found.size, found.etag) == (state, 3, "e")
