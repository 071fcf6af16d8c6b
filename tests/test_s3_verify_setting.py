"""STORAGE_JOBS_S3_VERIFY from the environment: booleans as words, anything else a CA bundle."""

from __future__ import annotations

import pytest

from storage_jobs.settings import Settings


@pytest.mark.parametrize(
    ("raw", "verify"),
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("true", True),
        ("1", True),
        ("/etc/ssl/private-ca.pem", "/etc/ssl/private-ca.pem"),
    ],
)
def test_s3_verify_from_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, verify: bool | str
) -> None:
    """``false`` turns certificate checks off instead of naming a CA file called "false"."""
    monkeypatch.setenv("STORAGE_JOBS_S3_VERIFY", raw)
    settings = Settings()
    assert settings.s3_verify == verify
    assert settings.storage_config().verify == verify


def test_s3_verify_unset_means_system_cas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset: None, which botocore reads as "verify against the system's CAs"."""
    monkeypatch.delenv("STORAGE_JOBS_S3_VERIFY", raising=False)
    assert Settings().s3_verify is None
