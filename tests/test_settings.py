"""Settings: environment parsing, redaction, the storage config it builds, hidden secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from storage_jobs.queue import connect_redis
from storage_jobs.settings import Settings, redact_url
from storage_jobs.storage import StorageConfig
from storage_jobs.worker import arq_redis_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No STORAGE_JOBS_* variable of the machine leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("STORAGE_JOBS_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "value",
    ["{a}:{b}", "{a},{b}", " {a} , {b} ", "{a}:{b}:", "{a},,{b}"],
    ids=["colon", "comma", "spaces", "trailing", "empty-part"],
)
def test_upload_roots_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    """STORAGE_JOBS_UPLOAD_ROOTS splits like PATH (':'), commas work too, blanks are dropped."""
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("STORAGE_JOBS_UPLOAD_ROOTS", value.format(a=a, b=b))
    assert Settings().upload_roots == [a.resolve(), b.resolve()]


def test_upload_roots_are_resolved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A root given through a symlink is stored resolved (what JobLimits compares with)."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    monkeypatch.setenv("STORAGE_JOBS_UPLOAD_ROOTS", str(tmp_path / "link"))
    assert Settings().upload_roots == [(tmp_path / "real").resolve()]


@pytest.mark.parametrize("value", ["relative/dir", "/ok:relative", "./x"])
def test_relative_upload_root_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Every root must be absolute."""
    monkeypatch.setenv("STORAGE_JOBS_UPLOAD_ROOTS", value)
    with pytest.raises(ValidationError, match="upload root must be an absolute path"):
        Settings()


def test_no_upload_roots_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the variable (or with it empty) no path uploads are allowed."""
    assert Settings().upload_roots == []
    monkeypatch.setenv("STORAGE_JOBS_UPLOAD_ROOTS", "")
    assert Settings().upload_roots == []


def test_other_fields_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Numbers, sentinel lists, JSON dicts and secrets are read from STORAGE_JOBS_*."""
    monkeypatch.setenv("STORAGE_JOBS_MAX_TRIES", "7")
    monkeypatch.setenv("STORAGE_JOBS_QUEUE_NAME", "jobs:eu-1")
    monkeypatch.setenv("STORAGE_JOBS_REDIS_SENTINELS", "s1:26380, s2 ,")
    monkeypatch.setenv("STORAGE_JOBS_S3_PUBLIC_URLS", '{"media": "https://cdn.example.com/"}')
    monkeypatch.setenv("STORAGE_JOBS_S3_SECRET_ACCESS_KEY", "env-secret-value")
    settings = Settings()
    assert settings.max_tries == 7
    assert settings.queue_name == "jobs:eu-1"
    assert settings.redis_sentinels == ["s1:26380", "s2"]
    assert settings.s3_public_urls == {"media": "https://cdn.example.com/"}
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == "env-secret-value"


@pytest.mark.parametrize(
    ("field", "value"),
    [("queue_name", "bad name"), ("max_tries", "0"), ("max_jobs", "1001"), ("log_level", "TRACE")],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, field: str, value: str) -> None:
    """Out-of-range or malformed values fail at startup, naming the field."""
    monkeypatch.setenv(f"STORAGE_JOBS_{field.upper()}", value)
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_explicit_arguments_beat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyword arguments override the environment."""
    monkeypatch.setenv("STORAGE_JOBS_MAX_TRIES", "7")
    assert Settings(max_tries=2).max_tries == 2


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://user:pw@host:6380/2", "redis://user:***@host:6380/2"),
        ("redis://:hunter22@host/0", "redis://:***@host/0"),
        (
            "rediss://default:p%40ss@cache.example.com:6379",
            "rediss://default:***@cache.example.com:6379",
        ),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://user@host:6379/0", "redis://user@host:6379/0"),
    ],
)
def test_redacted_redis_url(url: str, redacted: str) -> None:
    """redis_url_redacted replaces the password only."""
    assert redact_url(url) == redacted
    assert Settings(redis_url=url).redis_url_redacted == redacted


def test_redacted_ipv6_url_stays_valid() -> None:
    """An IPv6 host keeps its brackets, so the redacted URL still names the right host."""
    assert redact_url("redis://:pw@[::1]:6379/0") == "redis://:***@[::1]:6379/0"


def test_worker_and_producer_use_the_same_redis_database() -> None:
    """The worker's arq settings and the producer's connection read one URL alike."""
    settings = Settings(redis_url="redis://user:pw@10.1.2.3:6390/5")
    arq = arq_redis_settings(settings)
    kwargs = connect_redis(settings).connection_pool.connection_kwargs
    assert (arq.host, arq.port, arq.database, arq.username, arq.password) == (
        kwargs["host"],
        kwargs["port"],
        kwargs["db"],
        kwargs["username"],
        kwargs["password"],
    )


def test_worker_and_producer_agree_on_an_escaped_password() -> None:
    """A password with URL-reserved characters is decoded for the worker as for producers."""
    settings = Settings(redis_url="redis://:p%40ss%3Aw%2Frd@127.0.0.1:6379/3")
    producer = connect_redis(settings).connection_pool.connection_kwargs["password"]
    assert producer == "p@ss:w/rd"
    assert arq_redis_settings(settings).password == producer


def test_storage_config_maps_fields() -> None:
    """storage_config() carries every S3 setting over, secrets included."""
    settings = Settings(
        s3_endpoint_url="http://minio.local:9000/",
        s3_access_key_id="AKIAEXAMPLE",
        s3_secret_access_key="s3-secret",
        s3_session_token="s3-token",
        s3_region="eu-west-3",
        s3_addressing_style="virtual",
        s3_max_attempts=7,
        s3_retry_mode="adaptive",
        s3_connect_timeout=1.5,
        s3_read_timeout=9.0,
        s3_verify="/etc/ca.pem",
        s3_public_urls={"media": "https://cdn.example.com"},
        s3_multipart_threshold=6 * 1024 * 1024,
        s3_multipart_chunksize=7 * 1024 * 1024,
        s3_copy_multipart_threshold=123,
    )
    config = settings.storage_config()
    assert config.endpoint_url == "http://minio.local:9000"
    assert config.access_key_id == "AKIAEXAMPLE"
    assert config.secret_access_key is not None
    assert config.secret_access_key.get_secret_value() == "s3-secret"
    assert config.session_token is not None
    assert config.session_token.get_secret_value() == "s3-token"
    assert (config.region, config.addressing_style, config.retry_mode) == (
        "eu-west-3",
        "virtual",
        "adaptive",
    )
    assert (config.max_attempts, config.connect_timeout, config.read_timeout) == (7, 1.5, 9.0)
    assert (config.verify, config.use_ssl) == ("/etc/ca.pem", False)
    assert config.public_urls == {"media": "https://cdn.example.com"}
    assert (config.multipart_threshold, config.multipart_chunksize) == (6 * 2**20, 7 * 2**20)
    assert config.copy_multipart_threshold == 123


def test_parts_in_flight_default_is_the_same_for_worker_and_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """4 parts in flight (bench large_upload); the worker's setting and the client's agree."""
    monkeypatch.delenv("STORAGE_JOBS_S3_MULTIPART_CONCURRENCY", raising=False)
    assert Settings().storage_config().multipart_concurrency == 4
    assert StorageConfig().multipart_concurrency == 4


@pytest.mark.parametrize(
    ("endpoint", "use_ssl"),
    [(None, True), ("https://s3.example.com", True), ("http://127.0.0.1:9000", False)],
)
def test_storage_config_ssl_follows_endpoint(endpoint: str | None, use_ssl: bool) -> None:
    """TLS is on for https and for AWS's default endpoint, off for plain http."""
    assert Settings(s3_endpoint_url=endpoint).storage_config().use_ssl is use_ssl


@pytest.mark.parametrize(("max_jobs", "pool"), [(1, 10), (2, 10), (3, 12), (16, 64), (100, 400)])
def test_pool_is_sized_to_max_jobs(max_jobs: int, pool: int) -> None:
    """The HTTP pool holds four connections per concurrent job, at least ten."""
    assert Settings(max_jobs=max_jobs).storage_config().max_pool_connections == pool


def test_secrets_are_absent_from_repr() -> None:
    """repr/str of Settings and its storage config never show a secret."""
    settings = Settings(
        redis_url="redis://user:redis-pass-123@host:6379/0",
        s3_secret_access_key="s3-secret-456",
        s3_session_token="s3-token-789",
    )
    for text in (repr(settings), str(settings), repr(settings.storage_config())):
        for secret in ("redis-pass-123", "s3-secret-456", "s3-token-789"):
            assert secret not in text
    assert "redis-pass-123" not in settings.model_dump_json()


def test_rate_limits_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """STORAGE_JOBS_S3_RATE_LIMITS: JSON bucket -> requests/s; "*" is the default."""
    monkeypatch.setenv("STORAGE_JOBS_S3_RATE_LIMITS", '{"*": 100, "hot": 2.5}')
    limits = Settings().rate_limits()
    assert dict(limits.rates) == {"*": 100.0, "hot": 2.5}
    assert (limits.rate_for("hot"), limits.rate_for("cold")) == (2.5, 100.0)
    monkeypatch.delenv("STORAGE_JOBS_S3_RATE_LIMITS")
    assert not Settings().rate_limits()  # no limit by default


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{bucket: 5}", "not valid JSON"),
        ("[5]", "must be a JSON object"),
        ('{"b": 0}', "must be above 0"),
        ('{"b": -3}', "must be above 0"),
        ('{"b": "5"}', "must be a number"),
        ('{"b": true}', "must be a number"),
        ('{"": 5}', "non-empty strings"),
    ],
)
def test_bad_rate_limits_are_refused_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    """Bad JSON, rates <= 0, non-numbers and empty names fail at load, naming the variable."""
    monkeypatch.setenv("STORAGE_JOBS_S3_RATE_LIMITS", value)
    with pytest.raises(ValidationError, match=f"STORAGE_JOBS_S3_RATE_LIMITS.*{says}"):
        Settings()


def test_rate_limit_keys_must_be_strings() -> None:
    """Passed in code, a key that is not a string is refused too (JSON keys always are)."""
    with pytest.raises(ValidationError, match="bucket names must be non-empty strings"):
        Settings(s3_rate_limits={1: 5.0})
    with pytest.raises(ValidationError, match="must be above 0"):
        Settings(s3_rate_limits={"b": float("inf")})
