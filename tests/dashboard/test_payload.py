"""Payloads as shown: inline data cut, lists and strings shortened, secret-looking fields masked."""

from __future__ import annotations

import base64
import json

from storage_jobs.dashboard._payload import MAX_ITEMS, shown_payload
from storage_jobs.jobs import DeleteJob, UploadJob
from storage_jobs.queue import build_envelope


def test_inline_upload_data_is_not_shown() -> None:
    job = UploadJob(bucket="media", key="k", data=b"private bytes " * 50)
    shown = shown_payload(job.model_dump_json())
    assert shown["key"] == "k"
    assert "private" not in json.dumps(shown)
    assert "inline data" in shown["data"]


def test_long_key_lists_are_cut_with_a_count() -> None:
    job = DeleteJob(bucket="media", keys=[f"k{i}" for i in range(MAX_ITEMS + 5)])
    shown = shown_payload(job.model_dump_json())
    assert len(shown["keys"]) == MAX_ITEMS + 1
    assert shown["keys"][-1] == "… 5 more"


def test_secret_looking_fields_are_masked_and_envelopes_opened() -> None:
    payload = json.dumps({"kind": "x", "secret_access_key": "hunter2", "nested": {"token": "t"}})
    envelope = build_envelope("storage_jobs.x", payload, 0).decode()
    for text in (payload, envelope):
        shown = shown_payload(text)
        assert shown["secret_access_key"] == "***" and shown["nested"]["token"] == "***"
        assert "hunter2" not in json.dumps(shown)


def test_binary_payloads_are_described_not_shown() -> None:
    shown = shown_payload(base64.b64encode(b"\x80\x04pickle").decode(), "base64")
    assert shown == "<binary payload, 8 bytes (a pickle or garbage), not shown>"
