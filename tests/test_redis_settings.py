"""Redis URL to connection settings: TLS query options and Sentinel, worker and producers alike."""

from __future__ import annotations

import os
from typing import Any

import pytest

from storage_jobs.queue import connect_redis
from storage_jobs.settings import Settings
from storage_jobs.worker import arq_redis_settings

TLS_URL = (
    "rediss://:s%40cret@redis.example:6380/4"
    "?ssl_ca_certs=/etc/ca.pem&ssl_certfile=/etc/client.pem&ssl_keyfile=/etc/client.key"
    "&ssl_cert_reqs=optional&ssl_check_hostname=true"
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No STORAGE_JOBS_* variable of the machine leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("STORAGE_JOBS_"):
            monkeypatch.delenv(name)


def _producer_kwargs(settings: Settings) -> dict[str, Any]:
    return dict(connect_redis(settings).connection_pool.connection_kwargs)


def test_tls_query_options_reach_the_worker() -> None:
    """A rediss:// URL's CA, client cert and verification options map onto arq's settings."""
    arq = arq_redis_settings(Settings(redis_url=TLS_URL))
    assert arq.ssl is True
    assert (arq.host, arq.port, arq.database, arq.password) == ("redis.example", 6380, 4, "s@cret")
    assert arq.ssl_ca_certs == "/etc/ca.pem"
    assert arq.ssl_certfile == "/etc/client.pem"
    assert arq.ssl_keyfile == "/etc/client.key"
    assert arq.ssl_cert_reqs == "optional"
    assert arq.ssl_check_hostname is True


def test_worker_and_producer_read_tls_options_alike() -> None:
    """The producer's redis-py connection gets the same TLS options as the worker."""
    settings = Settings(redis_url=TLS_URL)
    arq = arq_redis_settings(settings)
    kwargs = _producer_kwargs(settings)
    names = ["ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname"]
    assert {n: kwargs[n] for n in names} == {n: getattr(arq, n) for n in names}
    assert kwargs["password"] == arq.password


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("yes", True)])
def test_check_hostname_parsed_like_redis_py(value: str, expected: bool) -> None:
    """ssl_check_hostname reads as redis-py's to_bool does."""
    settings = Settings(redis_url=f"rediss://h:6379/0?ssl_check_hostname={value}")
    assert arq_redis_settings(settings).ssl_check_hostname is expected
    assert _producer_kwargs(settings)["ssl_check_hostname"] is expected


def test_tls_defaults_without_query() -> None:
    """Without query options the worker keeps arq's defaults: verify, the system CAs."""
    arq = arq_redis_settings(Settings(redis_url="rediss://redis.example:6380/0"))
    assert arq.ssl is True
    assert (arq.ssl_ca_certs, arq.ssl_cert_reqs, arq.ssl_check_hostname) == (
        None,
        "required",
        False,
    )
    plain = arq_redis_settings(Settings(redis_url="redis://redis.example/0"))
    assert plain.ssl is False


def test_sentinel_mode_takes_credentials_and_database_from_the_url() -> None:
    """With sentinels, the URL's host is ignored; its user, password, db and scheme are used."""
    settings = Settings(
        redis_url="rediss://app:p%2Fw@ignored-host:1/3",
        redis_sentinels=["10.0.0.1:26379", "sentinel-b"],
        redis_sentinel_master="prod",
    )
    arq = arq_redis_settings(settings)
    assert arq.sentinel is True
    assert arq.host == [("10.0.0.1", 26379), ("sentinel-b", 26379)]
    assert arq.sentinel_master == "prod"
    assert (arq.username, arq.password, arq.database, arq.ssl) == ("app", "p/w", 3, True)

    producer = connect_redis(settings)
    pool: Any = producer.connection_pool
    assert pool.service_name == "prod"
    kwargs = pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("app", "p/w", 3)
    sentinels = pool.sentinel_manager.sentinels
    hosts = [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in sentinels
    ]
    assert hosts == [("10.0.0.1", 26379), ("sentinel-b", 26379)]
