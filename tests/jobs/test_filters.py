"""Filters: rclone's documented glob semantics (rclone.org/filtering), sizes, times, classes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from storage_jobs.jobs import MigrateJob
from storage_jobs.jobs._filters import ObjectFilter, glob_to_regex


def matches(pattern: str, path: str) -> bool:
    return glob_to_regex(pattern).search(path) is not None


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        # Examples from rclone's filtering docs.
        ("*.jpg", "file.jpg", True),
        ("*.jpg", "directory/file.jpg", True),
        ("*.jpg", "afile.jpg.bak", False),
        ("/*.jpg", "file.jpg", True),
        ("/*.jpg", "directory/file.jpg", False),
        ("file.jpg", "file.jpg", True),
        ("file.jpg", "directory/file.jpg", True),
        ("file.jpg", "afile.jpg", False),
        ("dir/**", "dir/file.jpg", True),
        ("dir/**", "dir/sub/file.jpg", True),
        ("dir/**", "adir/file.jpg", False),
        ("dir/**", "top/dir/file.jpg", True),
        ("/dir/**", "top/dir/file.jpg", False),
        ("*", "a/b", True),  # unanchored: matches the last segment
        ("/*", "a/b", False),  # anchored: * stays within one segment
        ("/**", "a/b", True),
        ("l?ss", "less", True),
        ("l?ss", "l/ss", False),
        ("h[ae]llo", "hello", True),
        ("h[ae]llo", "hullo", False),
        ("h[!ae]llo", "hullo", True),
        ("h[!ae]llo", "hallo", False),
        ("*.{jpg,png}", "a/b.png", True),
        ("*.{jpg,png}", "a/b.gif", False),
        ("\\*.jpg", "*.jpg", True),
        ("\\*.jpg", "a.jpg", False),
    ],
)
def test_globs_match_as_rclone_documents(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


@pytest.mark.parametrize("bad", ["", "dir/", "[abc", "{a,b"])
def test_bad_globs_are_refused_at_construction(bad: str) -> None:
    with pytest.raises(ValidationError, match="include"):
        MigrateJob(src_bucket="src-b", dst_bucket="dst-b", include=[bad])


def test_include_then_exclude() -> None:
    keep = ObjectFilter(include=("*.jpg",), exclude=("private/**",))
    assert keep.key_selected("a.jpg") and keep.key_selected("d/e.jpg")
    assert not keep.key_selected("a.png")
    assert not keep.key_selected("private/a.jpg")


def test_sizes_times_and_classes_are_inclusive_bounds() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    t1 = datetime(2024, 6, 1, tzinfo=UTC)
    keep = ObjectFilter(
        min_size=10,
        max_size=20,
        modified_after=t0,
        modified_before=t1,
        storage_classes=frozenset({"STANDARD"}),
    )
    mid = datetime(2024, 3, 1, tzinfo=UTC)
    assert keep.attributes_selected(10, mid, None)  # None: a listing's STANDARD
    assert keep.attributes_selected(20, t0, "STANDARD")
    assert not keep.attributes_selected(9, mid, None)
    assert not keep.attributes_selected(21, mid, None)
    assert not keep.attributes_selected(15, t1, None)  # before is exclusive
    assert not keep.attributes_selected(15, mid, "GLACIER")
    assert not keep.attributes_selected(None, mid, None)  # unknown size is not guessed


def test_bounds_must_be_ordered_and_times_aware() -> None:
    with pytest.raises(ValidationError, match="min_size"):
        MigrateJob(src_bucket="src-b", dst_bucket="dst-b", min_size=5, max_size=4)
    with pytest.raises(ValidationError, match="modified_after"):
        MigrateJob(src_bucket="src-b", dst_bucket="dst-b", modified_after=datetime(2024, 1, 1))


def test_filters_survive_the_wire() -> None:
    job = MigrateJob(
        src_bucket="src-b",
        dst_bucket="dst-b",
        include=["*.jpg"],
        modified_after=datetime(2024, 1, 1, tzinfo=UTC),
    )
    again = MigrateJob.model_validate_json(job.model_dump_json())
    assert again == job
    assert again.object_filter().key_selected("x/y.jpg")
