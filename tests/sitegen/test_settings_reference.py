"""The generated settings page documents every ``Settings`` field."""

from __future__ import annotations

import pytest
from pydantic import Field, create_model
from sitegen.settings_reference import env_name, settings_page

from sitegen import settings_reference
from storage_jobs.settings import Settings


def _rows() -> dict[str, str]:
    rows = {}
    for line in settings_page().splitlines():
        if line.startswith("| `STORAGE_JOBS_"):
            rows[line.split("`")[1]] = line
    return rows


def test_every_field_has_a_row_with_its_description() -> None:
    rows = _rows()
    assert set(rows) == {env_name(name) for name in Settings.model_fields}
    for name, info in Settings.model_fields.items():
        assert info.description, f"Settings.{name} has no description"
        assert info.description.replace("|", "\\|") in rows[env_name(name)], name


def test_env_names_are_what_pydantic_settings_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name("queue_name"), "from-the-env")
    monkeypatch.setenv(env_name("s3_max_attempts"), "7")
    settings = Settings()
    assert (settings.queue_name, settings.s3_max_attempts) == ("from-the-env", 7)


def test_defaults_are_shown() -> None:
    rows = _rows()
    assert "| `redis://127.0.0.1:6379/0` |" in rows["STORAGE_JOBS_REDIS_URL"]
    assert "| `16777216` (16 MiB) |" in rows["STORAGE_JOBS_S3_MULTIPART_THRESHOLD"]
    assert "| `false` |" in rows["STORAGE_JOBS_DASHBOARD_ACTIONS"]
    assert "| (unset) |" in rows["STORAGE_JOBS_METRICS_PORT"]
    assert "(>= 1, <= 1000)" in rows["STORAGE_JOBS_MAX_JOBS"]


def test_a_field_without_a_description_fails_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    bare = create_model("Bare", __base__=Settings, new_knob=(int, Field(default=1)))
    monkeypatch.setattr(settings_reference, "Settings", bare)
    with pytest.raises(ValueError, match=r"Settings\.new_knob has no description"):
        settings_page()
