"""JobLimits: inline size cap, upload roots (symlinks included) and the delete key cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage_jobs.jobs import CopyJob, DeleteJob, JobLimits, JobRejectedError, UploadJob


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An upload root holding one regular file, ``inside.txt``."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "inside.txt").write_bytes(b"hello")
    return root.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A regular file outside the upload root."""
    path = tmp_path / "outside.txt"
    path.write_bytes(b"secret")
    return path.resolve()


def test_inline_data_over_cap_is_rejected_naming_data() -> None:
    """Inline data one byte over max_inline_bytes is rejected on ``data``; at the cap it passes."""
    limits = JobLimits(max_inline_bytes=10)
    limits.check(UploadJob(bucket="bkt", key="k", data=b"x" * 10))
    with pytest.raises(JobRejectedError, match="11 bytes, over the 10 byte cap") as info:
        limits.check(UploadJob(bucket="bkt", key="k", data=b"x" * 11))
    assert info.value.field == "data"
    assert str(info.value).startswith("data: ")


def test_a_payload_over_the_byte_cap_is_rejected_naming_payload() -> None:
    """The job's JSON (what Redis would store) is measured: at the cap it passes, above not."""
    job = DeleteJob(bucket="bkt", keys=[f"key-{n}" for n in range(200)])
    size = len(job.model_dump_json().encode())
    JobLimits(max_payload_bytes=size).check(job)
    with pytest.raises(JobRejectedError, match="STORAGE_JOBS_MAX_PAYLOAD_BYTES") as info:
        JobLimits(max_payload_bytes=size - 1).check(job)
    assert info.value.field == "payload" and f"{size} bytes" in str(info.value)
    JobLimits(max_payload_bytes=size - 1).check(job, payload_bytes=size - 1)  # as stored


def test_rejection_is_a_value_error() -> None:
    """JobRejectedError is a ValueError, so validation-style handlers catch it."""
    assert issubclass(JobRejectedError, ValueError)


def test_path_inside_root_resolves(root: Path) -> None:
    """A regular file inside a root is accepted and resolved."""
    limits = JobLimits(upload_roots=(root,))
    limits.check(UploadJob(bucket="bkt", key="k", path=str(root / "inside.txt")))
    assert limits.resolve_upload_path(str(root / "inside.txt")) == root / "inside.txt"


def test_path_outside_roots_is_rejected(root: Path, outside: Path) -> None:
    """A file outside every root is rejected on ``path``."""
    limits = JobLimits(upload_roots=(root,))
    with pytest.raises(JobRejectedError, match="outside the configured upload roots") as info:
        limits.check(UploadJob(bucket="bkt", key="k", path=str(outside)))
    assert info.value.field == "path"


def test_sibling_with_root_name_prefix_is_outside(root: Path) -> None:
    """``/x/root-evil/f`` is not inside ``/x/root`` (no string-prefix matching)."""
    evil = root.parent / (root.name + "-evil")
    evil.mkdir()
    (evil / "f").write_bytes(b"x")
    with pytest.raises(JobRejectedError, match="outside"):
        JobLimits(upload_roots=(root,)).resolve_upload_path(str(evil / "f"))


def test_symlink_escaping_the_root_is_rejected(root: Path, outside: Path) -> None:
    """A '..'-free path through a symlink that points outside the root is rejected."""
    (root / "escape").symlink_to(outside)
    (root / "dirlink").symlink_to(outside.parent, target_is_directory=True)
    limits = JobLimits(upload_roots=(root,))
    for path in (root / "escape", root / "dirlink" / "outside.txt"):
        with pytest.raises(JobRejectedError, match="outside") as info:
            limits.check(UploadJob(bucket="bkt", key="k", path=str(path)))
        assert info.value.field == "path"


def test_symlink_inside_root_to_inside_root_is_fine(root: Path) -> None:
    """A symlink inside the root pointing inside the root resolves to its target."""
    (root / "sub").mkdir()
    (root / "sub" / "link").symlink_to(root / "inside.txt")
    limits = JobLimits(upload_roots=(root,))
    assert limits.resolve_upload_path(str(root / "sub" / "link")) == root / "inside.txt"


def test_second_root_is_honoured(root: Path, outside: Path) -> None:
    """With several roots, a file inside any of them is accepted."""
    limits = JobLimits(upload_roots=(root, outside.parent))
    assert limits.resolve_upload_path(str(outside)) == outside


def test_non_regular_files_are_rejected(root: Path) -> None:
    """A directory, a FIFO or a missing file inside the root is not a regular file."""
    (root / "dir").mkdir()
    os.mkfifo(root / "fifo")
    limits = JobLimits(upload_roots=(root,))
    for name in ("dir", "fifo", "missing.txt"):
        with pytest.raises(JobRejectedError, match="not a regular file") as info:
            limits.resolve_upload_path(str(root / name))
        assert info.value.field == "path"


def test_no_roots_means_no_path_uploads(root: Path) -> None:
    """Without configured roots every path upload is refused, even an existing file."""
    with pytest.raises(JobRejectedError, match="STORAGE_JOBS_UPLOAD_ROOTS") as info:
        JobLimits().check(UploadJob(bucket="bkt", key="k", path=str(root / "inside.txt")))
    assert info.value.field == "path"


def test_inline_upload_needs_no_roots(root: Path) -> None:
    """Inline uploads do not depend on upload roots: the limits that refuse a path accept them."""
    limits = JobLimits()
    with pytest.raises(JobRejectedError, match="STORAGE_JOBS_UPLOAD_ROOTS"):
        limits.check(UploadJob(bucket="bkt", key="k", path=str(root / "inside.txt")))
    limits.check(UploadJob(bucket="bkt", key="k", data=b"abc"))  # raises if refused


def test_delete_key_cap() -> None:
    """A DeleteJob over max_delete_keys is rejected on ``keys``; at the cap it passes."""
    limits = JobLimits(max_delete_keys=3)
    limits.check(DeleteJob(bucket="bkt", keys=["a", "b", "c"]))
    with pytest.raises(JobRejectedError, match="4 keys, over the 3 key cap") as info:
        limits.check(DeleteJob(bucket="bkt", keys=["a", "b", "c", "d"]))
    assert info.value.field == "keys"


def test_copy_jobs_have_no_limits() -> None:
    """CopyJob passes limits so tight that they refuse any upload data or a two-key delete."""
    limits = JobLimits(max_inline_bytes=0, max_delete_keys=1)
    refused = [
        UploadJob(bucket="bkt", key="k", data=b"x"),
        DeleteJob(bucket="bkt", keys=["a", "b"]),
    ]
    for job in refused:
        with pytest.raises(JobRejectedError):
            limits.check(job)
    limits.check(CopyJob(src_bucket="src", src_key="a", dst_key="b"))  # raises if refused
