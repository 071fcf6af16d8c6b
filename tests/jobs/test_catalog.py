"""The catalog: one entry per job kind, stable queue names, matching result models."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from storage_jobs.jobs import (
    CATALOG,
    CopyJob,
    CopyResult,
    DeleteJob,
    DeleteResult,
    Job,
    JobResult,
    UploadJob,
    UploadResult,
    spec_for_job,
    spec_for_name,
)


def union_members(annotated: object) -> tuple[type[BaseModel], ...]:
    """The model classes of an ``Annotated[A | B | C, ...]`` union."""
    (union, *_) = typing.get_args(annotated)
    return typing.get_args(union)


def test_every_job_kind_has_exactly_one_entry() -> None:
    """Each model of the Job union appears once in CATALOG, and nothing else does."""
    models = union_members(Job)
    assert sorted(m.__name__ for m in models) == sorted(s.model.__name__ for s in CATALOG)
    for model in models:
        assert [s for s in CATALOG if s.model is model] != []
        assert len([s for s in CATALOG if s.model is model]) == 1


def test_kinds_match_the_models_discriminator() -> None:
    """A spec's kind is its model's ``kind`` default."""
    for spec in CATALOG:
        assert spec.model.model_fields["kind"].default == spec.kind


def test_function_names_are_stable_and_unique() -> None:
    """Queue names are part of the wire format: renaming one strands queued jobs."""
    names = {spec.kind: spec.function_name for spec in CATALOG}
    assert names == {
        "upload": "storage_jobs.upload",
        "copy": "storage_jobs.copy",
        "delete": "storage_jobs.delete",
        "migrate": "storage_jobs.migrate",
        "delete_prefix": "storage_jobs.delete_prefix",
        "migrate_batch": "storage_jobs.migrate_batch",
        "delete_prefix_batch": "storage_jobs.delete_prefix_batch",
        "verify": "storage_jobs.verify",
        "verify_batch": "storage_jobs.verify_batch",
    }
    assert len(set(names.values())) == len(CATALOG)
    assert len({spec.kind for spec in CATALOG}) == len(CATALOG)


@pytest.mark.parametrize(
    ("job", "result_model"),
    [
        (UploadJob(bucket="bkt", key="k", data=b""), UploadResult),
        (CopyJob(src_bucket="bkt", src_key="a", dst_key="b"), CopyResult),
        (DeleteJob(bucket="bkt", keys=["a"]), DeleteResult),
    ],
)
def test_spec_for_job_and_name_agree(job: BaseModel, result_model: type[BaseModel]) -> None:
    """spec_for_job finds the spec whose name spec_for_name maps back to it."""
    spec = spec_for_job(job)
    assert spec.model is type(job)
    assert spec.result_model is result_model
    assert spec_for_name(spec.function_name) is spec


class NotAJob(BaseModel):
    """A model that is not registered."""

    kind: str = "upload"


@pytest.mark.parametrize(
    "thing", [UploadResult(bucket="b", key="k", size=0, etag=""), NotAJob(), object(), None]
)
def test_spec_for_job_refuses_non_jobs(thing: object) -> None:
    """Anything but a registered job model raises TypeError naming its type."""
    with pytest.raises(TypeError, match=f"not a storage job: {type(thing).__name__}"):
        spec_for_job(thing)  # type: ignore[arg-type]


def test_unknown_function_name_has_no_spec() -> None:
    """spec_for_name answers None for a name nobody registered."""
    assert spec_for_name("storage_jobs.move") is None
    assert spec_for_name("upload") is None


def test_result_models_kind_matches_spec() -> None:
    """Each result's ``kind`` is its spec's (batches share one), and the union covers them."""
    for spec in CATALOG:
        expected = "batch" if spec.kind.endswith("_batch") else spec.kind
        assert spec.result_model.model_fields["kind"].default == expected
    assert set(union_members(JobResult)) == {spec.result_model for spec in CATALOG}
