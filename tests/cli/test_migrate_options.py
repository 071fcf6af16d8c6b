"""Prefix-job options refused at the boundary, before anything touches Redis."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from storage_jobs.cli import cli


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["migrate", "src-b/p/", "dst-b/", "--include", "[abc"], "include"),
        (["migrate", "src-b/p/", "dst-b/", "--modified-after", "yesterday"], "ISO 8601"),
        (["migrate", "src-b/p/", "dst-b/", "--modified-after", "2024-01-01T00:00:00"], "timezone"),
        (["migrate", "src-b/p/", "dst-b/", "--manifest", "src-b/m.csv"], "s3://"),
        (["migrate", "src-b/p/", "dst-b/", "--max-delete", "3"], "max_delete"),
        (["migrate", "src-b/", "dst-b/", "--all-versions", "--verify"], "all_versions"),
        (["migrate", "src-b/", "dst-b/", "--all-versions", "--checksum", "crc32c"], "not with"),
        (["migrate", "src-b/", "dst-b/", "--checksum", "md5"], "crc32c"),
        (["verify", "src-b/", "dst-b/", "--checksum", "crc32"], "crc32c"),
        (["migrate", "src-b/", "dst-b/", "--max-failure-ratio", "1.5"], "max-failure-ratio"),
        (["verify", "src-b/", "dst-b/", "--min-size", "9", "--max-size", "3"], "min_size"),
        (["verify", "src-b/", "dst-b/", "--no-wait", "--watch"], "exclude each other"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(cli, args, env={"STORAGE_JOBS_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.exit_code == 2, result.output
    assert needle in result.output
