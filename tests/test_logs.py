"""Log scrubbing: known secrets never reach a rendered log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from storage_jobs.logs import SecretScrubber, configure_logging, secrets_of
from storage_jobs.settings import Settings


def test_scrubber_replaces_secrets_in_nested_values() -> None:
    """Secrets inside strings, nested dicts, lists and tuples are replaced by ***."""
    scrub = SecretScrubber(["hunter22", "s3cr3t-key"])
    event: dict[str, Any] = {
        "event": "job.failed",
        "message": "auth failed for hunter22 at redis://:hunter22@host",
        "context": {"creds": {"secret": "s3cr3t-key"}, "list": ["a", "xx s3cr3t-key yy"]},
        "tuple": ("hunter22", 3),
        "count": 7,
        "none": None,
    }
    out = scrub(None, "error", event)
    assert out == {
        "event": "job.failed",
        "message": "auth failed for *** at redis://:***@host",
        "context": {"creds": {"secret": "***"}, "list": ["a", "xx *** yy"]},
        "tuple": ["***", 3],
        "count": 7,
        "none": None,
    }
    assert "hunter22" not in repr(out)


def test_longer_secrets_are_replaced_first() -> None:
    """A secret containing another one is scrubbed whole, leaving no fragment."""
    scrub = SecretScrubber(["abcd", "abcdefgh"])
    assert scrub(None, "info", {"v": "x abcdefgh y"}) == {"v": "x *** y"}


def test_scrubber_without_secrets_changes_nothing() -> None:
    """With no secrets the event passes through untouched."""
    event = {"event": "e", "v": ["a", {"b": ("c",)}]}
    assert SecretScrubber([])(None, "info", dict(event)) == event


def test_secrets_of_settings() -> None:
    """secrets_of finds the S3 secret, the session token and the Redis password."""
    settings = Settings(
        redis_url="redis://user:redis-pass@host:6379/0",
        s3_secret_access_key="s3-secret",
        s3_session_token="s3-token",
    )
    assert sorted(secrets_of(settings)) == ["redis-pass", "s3-secret", "s3-token"]


def test_too_short_secrets_are_not_scrubbed() -> None:
    """Secrets under 4 characters would shred every log line; they are skipped."""
    settings = Settings(redis_url="redis://:abc@host:6379/0", s3_secret_access_key="xyz")
    assert secrets_of(settings) == []


def test_percent_encoded_redis_password_is_scrubbed_decoded() -> None:
    """The password Redis actually receives (decoded from the URL) is among the secrets."""
    settings = Settings(redis_url="redis://:p%40ss%3Aw%2Frd@host:6379/0")
    assert "p@ss:w/rd" in secrets_of(settings)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Puts structlog and stdlib logging back the way they were."""
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    names = ("botocore", "aiobotocore", "urllib3", "arq.worker")
    saved_levels = {name: logging.getLogger(name).level for name in names}
    saved_filters = logging.getLogger("arq.worker").filters[:]
    yield
    structlog.configure(**saved_structlog)
    root.handlers[:], level = saved_root
    root.setLevel(level)
    for name, lvl in saved_levels.items():
        logging.getLogger(name).setLevel(lvl)
    logging.getLogger("arq.worker").filters[:] = saved_filters


@pytest.mark.usefixtures("restore_logging")
def test_configured_logging_scrubs_rendered_json(capsys: pytest.CaptureFixture[str]) -> None:
    """configure_logging wires the scrubber before the JSON renderer (structlog and stdlib)."""
    settings = Settings(
        redis_url="redis://:redis-pass-1@host:6379/0",
        s3_secret_access_key="s3-secret-2",
        log_format="json",
        log_level="INFO",
    )
    configure_logging(settings)
    structlog.get_logger("test").warning("leak", detail={"k": ["s3-secret-2"]}, url="redis-pass-1")
    logging.getLogger("arq.worker").warning("arq says s3-secret-2")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [line["event"] for line in lines] == ["leak", "arq says ***"]
    assert lines[0]["detail"] == {"k": ["***"]}
    assert lines[0]["url"] == "***"
    assert lines[0]["level"] == "warning"


@pytest.mark.usefixtures("restore_logging")
def test_lines_below_the_level_are_not_rendered(capsys: pytest.CaptureFixture[str]) -> None:
    """Below the level a call renders nothing; above it orjson writes what json.dumps would."""
    settings = Settings(s3_secret_access_key="s3-secret-3", log_format="json", log_level="INFO")
    configure_logging(settings)
    log = structlog.get_logger("test")
    rendered: list[Any] = []

    class Spy:
        def __repr__(self) -> str:
            rendered.append(self)
            return "Spy()"

    log.debug("quiet", spy=Spy())
    log.info("loud", n=2**70, keys={1: "s3-secret-3"}, where=Spy(), text="é")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [line["event"] for line in lines] == ["loud"]
    assert len(rendered) == 1  # the debug call's field was never rendered
    assert lines[0]["n"] == 2**70  # past orjson's 64 bits: the stdlib wrote it
    assert lines[0]["keys"] == {"1": "***"}
    assert (lines[0]["where"], lines[0]["text"], lines[0]["level"]) == ("Spy()", "é", "info")
    assert set(lines[0]) == {"event", "level", "timestamp", "n", "keys", "where", "text"}
