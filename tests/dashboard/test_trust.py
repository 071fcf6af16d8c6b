"""Issue 25's attacks on the dashboard, each tried again and refused.

DNS rebinding (a foreign Host), cross-site POSTs (a foreign or missing Origin), offline
guessing of the token from what ``GET /login`` gives away, online guessing (throttled per
client address), a short token, cookies without ``Secure`` behind a TLS proxy, and a copied
cookie that outlives its logout. Starlette's TestClient against real Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from typing import cast

import pytest
import redis
import structlog.testing
from click.testing import CliRunner
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import ValidationError
from starlette.testclient import TestClient

from storage_jobs.cli import cli
from storage_jobs.dashboard import create_app
from storage_jobs.dashboard._sessions import LOGIN_FAILURES_ALLOWED
from storage_jobs.queue import QueueKeys
from storage_jobs.settings import Settings

from .conftest import TOKEN

pytestmark = pytest.mark.integration

ORIGIN = "http://127.0.0.1:8080"
LOCAL = {"Host": "127.0.0.1:8080", "Origin": ORIGIN}
"""What a browser on the dashboard's own page at 127.0.0.1:8080 sends."""


@pytest.fixture
def served(e2e_redis_url: str, queue_name: str) -> Settings:
    """The dashboard's settings on this test's queue (no S3 needed)."""
    return Settings(redis_url=e2e_redis_url, queue_name=queue_name)


@pytest.fixture
def plain(e2e_redis_url: str) -> Iterator[redis.Redis]:
    """A plain Redis connection to look at what the dashboard keeps."""
    connection = redis.Redis.from_url(e2e_redis_url)
    yield connection
    connection.close()


def client(settings: Settings, peer: str = "127.0.0.1", **overrides: object) -> TestClient:
    app = create_app(Settings(**{**settings.model_dump(), **overrides}))
    return TestClient(app, base_url=ORIGIN, client=(peer, 50000), follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_a_rebound_host_gets_no_page_and_changes_nothing(
    served: Settings, plain: redis.Redis
) -> None:
    """``Host: rebind.attacker.example`` on a loopback dashboard with actions on (as dev runs)."""
    with client(served, dashboard_actions=True) as http:
        evil = {"Host": "rebind.attacker.example", "Origin": "http://rebind.attacker.example"}
        page = http.get("/", headers=evil)
        assert page.status_code == 400 and 'name="csrf"' not in page.text
        assert http.get("/api/overview", headers=evil).status_code == 400
        own = http.get("/", headers=LOCAL)
        posted = http.post(
            "/actions/queue",
            data={"csrf": csrf_of(own.text), "action": "pause_queue"},
            headers=evil,
        )
        assert posted.status_code == 400
        assert not plain.exists(QueueKeys(served.queue_name).paused)
        for name in ("localhost:8080", "127.0.0.1", "[::1]:8080", "LOCALHOST"):
            assert http.get("/", headers={"Host": name}).status_code == 200, name
    with client(served, dashboard_hosts=["jobs.example.com"]) as http:
        assert http.get("/", headers={"Host": "jobs.example.com"}).status_code == 200
        assert http.get("/", headers={"Host": "other.example.com"}).status_code == 400


def test_a_post_from_another_origin_or_none_is_refused(
    served: Settings, plain: redis.Redis
) -> None:
    paused = QueueKeys(served.queue_name).paused
    with client(served, dashboard_actions=True) as http:
        own = http.get("/", headers=LOCAL)
        form = {"csrf": csrf_of(own.text), "action": "pause_queue"}
        for headers in (
            {"Host": LOCAL["Host"], "Origin": "http://evil.example"},
            {"Host": LOCAL["Host"], "Origin": "null"},
            {"Host": LOCAL["Host"], "Origin": "http://127.0.0.1:9999"},  # another local site
            {"Host": LOCAL["Host"], "Referer": "http://evil.example/page"},
            {"Host": LOCAL["Host"]},  # neither Origin nor Referer
        ):
            answer = http.post("/actions/queue", data=form, headers=headers)
            assert answer.status_code == 403, headers
            assert not plain.exists(paused), headers
        referer = {"Host": LOCAL["Host"], "Referer": ORIGIN + "/"}
        done = http.post("/actions/queue", data=form, headers=referer)
        assert done.status_code == 303 and plain.exists(paused)


def test_what_get_login_gives_tests_no_token_guess_offline(
    served: Settings, plain: redis.Redis
) -> None:
    """The review's attack: check each word of a list against the cookie's signature."""
    with client(served, dashboard_token=TOKEN) as http:
        login = http.get("/login", headers=LOCAL)
    cookie, csrf = login.cookies["sj_dashboard"], csrf_of(login.text)
    words = ["password", "hunter2", TOKEN, TOKEN + "x"]
    for word in words:  # the key the cookie was signed with before: derived from the token
        key = hmac.new(word.encode(), b"storage-jobs-dashboard-cookie", hashlib.sha256).digest()
        with pytest.raises(BadSignature):
            URLSafeTimedSerializer(key, salt="session").loads(cookie)
        for guess in (key, word.encode()):
            sid = URLSafeTimedSerializer(b"x", salt="session").loads_unsafe(cookie)[1]["sid"]
            forged = hmac.new(guess, f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()
            assert forged != csrf
    # It is signed with the random secret kept in Redis (shared by the queue's dashboards).
    stored = cast(bytes | None, plain.get(QueueKeys(served.queue_name).dashboard_secret))
    assert stored is not None and TOKEN.encode() not in stored
    loaded = URLSafeTimedSerializer(bytes.fromhex(stored.decode()), salt="session").loads(cookie)
    assert set(loaded) == {"sid", "auth"}


def test_a_configured_secret_signs_instead_of_one_in_redis(
    served: Settings, plain: redis.Redis
) -> None:
    with client(served, dashboard_token=TOKEN, dashboard_secret="s" * 40) as http:
        assert http.get("/login", headers=LOCAL).status_code == 200
    assert not plain.exists(QueueKeys(served.queue_name).dashboard_secret)
    assert "s" * 40 not in repr(Settings(dashboard_secret="s" * 40))


def test_a_token_shorter_than_16_characters_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(dashboard_token="short-token")
    assert Settings(dashboard_token="").dashboard_token is not None  # empty: no token
    monkeypatch.setenv("STORAGE_JOBS_DASHBOARD_TOKEN", "fifteen-chars!!")
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 2 and "at least 16 characters" in result.output


def test_failed_logins_are_throttled_per_client_address(served: Settings) -> None:
    with (
        client(served, dashboard_token=TOKEN) as http,
        structlog.testing.capture_logs() as logs,
    ):
        form = {"csrf": csrf_of(http.get("/login", headers=LOCAL).text)}
        for _ in range(LOGIN_FAILURES_ALLOWED):
            wrong = http.post("/login", data={**form, "token": "x" * 20}, headers=LOCAL)
            assert wrong.status_code == 401
        for token in ("y" * 20, TOKEN):  # now not even the right token is looked at
            assert (
                http.post("/login", data={**form, "token": token}, headers=LOCAL).status_code == 429
            )
    failed = [e for e in logs if e["event"] == "dashboard.login_failed"]
    assert len(failed) == LOGIN_FAILURES_ALLOWED + 2
    assert {e["client"] for e in failed} == {"127.0.0.1"}
    with client(served, "127.0.0.2", dashboard_token=TOKEN) as other:  # another address
        form = {"csrf": csrf_of(other.get("/login", headers=LOCAL).text)}
        assert other.post("/login", data={**form, "token": TOKEN}, headers=LOCAL).status_code == 303


def test_forwarded_headers_count_only_from_trusted_proxies(served: Settings) -> None:
    """Behind a TLS proxy the cookie is Secure and the client is the forwarded one."""
    forwarded = {**LOCAL, "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    proxies = ["127.0.0.0/8"]
    with client(served, dashboard_token=TOKEN, dashboard_trusted_proxies=proxies) as http:
        answer = http.get("/login", headers=forwarded)  # plain HTTP from the proxy
        assert "secure" in answer.headers["set-cookie"].lower()
        http.cookies.clear()
        http.cookies.set("sj_dashboard", answer.cookies["sj_dashboard"])  # as the browser has it
        with structlog.testing.capture_logs() as logs:
            csrf = csrf_of(answer.text)
            http.post("/login", data={"csrf": csrf, "token": "z" * 20}, headers=forwarded)
        assert [e["client"] for e in logs if e["event"] == "dashboard.login_failed"] == [
            "198.51.100.7"
        ]
    with client(served, dashboard_token=TOKEN) as http:  # no trusted proxy: headers ignored
        answer = http.get("/login", headers=forwarded)
        assert "secure" not in answer.headers["set-cookie"].lower()
        with structlog.testing.capture_logs() as logs:
            csrf = csrf_of(answer.text)
            for n in range(LOGIN_FAILURES_ALLOWED + 1):  # rotating the header escapes nothing
                spoofed = {**forwarded, "X-Forwarded-For": f"203.0.113.{n}"}
                last = http.post("/login", data={"csrf": csrf, "token": "z" * 20}, headers=spoofed)
        assert last.status_code == 429
        assert {e["client"] for e in logs if e["event"] == "dashboard.login_failed"} == {
            "127.0.0.1"
        }


def test_logout_revokes_every_copy_of_the_cookie(served: Settings) -> None:
    with client(served, dashboard_token=TOKEN) as http:
        csrf = csrf_of(http.get("/login", headers=LOCAL).text)
        http.post("/login", data={"csrf": csrf, "token": TOKEN}, headers=LOCAL)
        copied = http.cookies["sj_dashboard"]
        page = http.get("/workers", headers=LOCAL)
        assert page.status_code == 200
        assert (
            http.post("/logout", data={"csrf": csrf_of(page.text)}, headers=LOCAL).status_code
            == 303
        )
    with client(served, dashboard_token=TOKEN) as thief:
        thief.cookies.set("sj_dashboard", copied)
        again = thief.get("/workers", headers=LOCAL)
        assert again.status_code == 303 and again.headers["location"] == "/login"
        api = thief.get("/api/overview", headers=LOCAL)
        assert api.status_code == 401
