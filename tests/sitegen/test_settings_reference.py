"""The generated settings page documents every ``Settings`` field."""

from __future__ import annotations

import pytest
from pydantic import Field, create_model
from sitegen.settings_reference import env_name, settings_page

from sitegen import settings_reference
from storage_jobs.settings import Settings


def _sections() -> dict[str, str]:
    """Environment variable -> its section of the page."""
    parts = settings_page().split("\n### `")[1:]
    return {part.split("`")[0]: part for part in parts}


def test_every_field_has_a_row_with_its_description() -> None:
    found = _sections()
    assert list(found) == [env_name(name) for name in Settings.model_fields]
    for name, info in Settings.model_fields.items():
        assert info.description, f"Settings.{name} has no description"
        assert info.description in found[env_name(name)], name
        assert f"field: `{name}`" in found[env_name(name)], name


def test_env_names_are_what_pydantic_settings_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name("queue_name"), "from-the-env")
    monkeypatch.setenv(env_name("s3_max_attempts"), "7")
    settings = Settings()
    assert (settings.queue_name, settings.s3_max_attempts) == ("from-the-env", 7)


def test_defaults_types_and_sections_are_shown() -> None:
    found = _sections()
    assert "Default: `redis://127.0.0.1:6379/0` · type: secret" in found["STORAGE_JOBS_REDIS_URL"]
    assert "Default: `16777216` (16 MiB)" in found["STORAGE_JOBS_S3_MULTIPART_THRESHOLD"]
    assert "Default: `false` · type: bool" in found["STORAGE_JOBS_DASHBOARD_ACTIONS"]
    assert "Default: (unset)" in found["STORAGE_JOBS_METRICS_PORT"]
    assert "type: int (>= 1, <= 1000)" in found["STORAGE_JOBS_MAX_JOBS"]
    assert "type: one of `auto`, `json`, `console`" in found["STORAGE_JOBS_LOG_FORMAT"]
    page = settings_page()
    assert page.index("## The worker\n") < page.index("### `STORAGE_JOBS_MAX_JOBS`")
    assert page.index("## S3\n") < page.index("### `STORAGE_JOBS_S3_ENDPOINT_URL`")


def test_a_field_without_a_description_fails_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    bare = create_model("Bare", __base__=Settings, new_knob=(int, Field(default=1)))
    monkeypatch.setattr(settings_reference, "Settings", bare)
    with pytest.raises(ValueError, match=r"Settings\.new_knob has no description"):
        settings_page()
