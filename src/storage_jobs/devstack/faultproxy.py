"""Fault-injecting reverse proxy in front of an S3 endpoint, for tests and benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from .delete_faults import DeleteFaults
from .fault_rules import FaultRules
from .s3_answers import S3_NS, delete_result, error_response, error_xml, reset_connection

__all__ = ["S3_NS", "STAT_KEYS", "FaultProxy", "FaultRules", "error_xml", "main", "max_window_rate"]

# Not forwarded: per-connection headers, plus Content-Length which aiohttp recomputes.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer"}
    | {"trailers", "transfer-encoding", "upgrade", "content-length", "expect"}
)
STAT_KEYS = (
    *("requests", "slowdown", "internal_error", "reset", "delete_requests", "delete_key_error"),
    *("delete_resign_skipped", "corrupted", "copy_denied"),
)


class FaultProxy:
    """Reverse proxy that forwards byte-exact and injects faults per ``rules``.

    Attributes:
        stats: Counts per fault type, see ``STAT_KEYS``.
        delete_batches: Keys of every DeleteObjects request seen, in arrival order.
        copies: How many CopyObject/UploadPartCopy requests each destination path received.
        arrivals: ``(time.monotonic(), bucket)`` of every request as it arrived (the bucket is
            the path's first segment: path-style addressing), for rate measurements.
    """

    def __init__(
        self,
        upstream: str,
        *,
        rules: FaultRules | None = None,
        credentials: tuple[str, str] | None = None,
        region: str = "us-east-1",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.host = host
        self.port = port
        self.stats: Counter[str] = Counter()
        self._deletes = DeleteFaults(self.stats, credentials, region)
        self.delete_batches = self._deletes.batches
        self.copies: Counter[str] = Counter()
        self.arrivals: list[tuple[float, str]] = []
        self._rules = rules or FaultRules()
        self.reset()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def rules(self) -> FaultRules:
        """Current rules; assigning new rules also resets counters and random state."""
        return self._rules

    @rules.setter
    def rules(self, rules: FaultRules) -> None:
        self._rules = rules
        self.reset()

    def reset(self) -> None:
        """Zero the stats, forget batches and per-key failure counts, reseed the RNGs."""
        self.stats.clear()
        self.stats.update(dict.fromkeys(STAT_KEYS, 0))
        self.copies.clear()
        self.arrivals.clear()
        self._rng = random.Random(self._rules.seed)  # noqa: S311 - repeatable test faults
        self._deletes.reset(seed=self._rules.seed)

    @property
    def credentials(self) -> tuple[str, str] | None:
        """The access and secret key DeleteObjects requests are re-signed with, if any."""
        return self._deletes.credentials

    @property
    def region(self) -> str:
        """The region re-signing uses when a request's credential scope names none."""
        return self._deletes.region

    @property
    def url(self) -> str:
        """Base URL clients should use as their S3 endpoint."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start serving on the current event loop."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300),
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        )
        app = web.Application(client_max_size=1 << 40)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving and close upstream connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def start_in_thread(self) -> None:
        """Run the proxy on a private event loop in a daemon thread; returns once listening."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="faultproxy", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=30)

    def stop_thread(self) -> None:
        """Stop a proxy started with ``start_in_thread``. Safe to call repeatedly."""
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rules = self._rules
        self.stats["requests"] += 1
        self.arrivals.append((time.monotonic(), request.path.lstrip("/").partition("/")[0]))
        if request.method == "PUT" and "x-amz-copy-source" in request.headers:
            self.copies[request.path] += 1
        fault = None
        if rules.matches(request.method, request.path):
            if rules.latency_s > 0:
                await asyncio.sleep(rules.latency_s)
            fault = rules.draw(self._rng)
        source = unquote(request.headers.get("x-amz-copy-source", "")).lstrip("/")
        if rules.deny_copy_sources and source.startswith(rules.deny_copy_sources):
            self.stats["copy_denied"] += 1
            return self._error(request, 403, "AccessDenied")
        if fault == "slowdown":
            return self._error(request, 503, "SlowDown")
        if fault == "internal_error":
            return self._error(request, 500, "InternalError")

        body = await request.read()
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP
        )
        failed: dict[str, str] = {}
        if request.method == "POST" and "delete" in request.query:
            body, failed = self._deletes.apply(rules, body, headers, request.raw_path)
            if failed and not body:
                return delete_result(ET.Element(f"{{{S3_NS}}}DeleteResult"), failed)

        assert self._session is not None
        async with self._session.request(
            request.method,
            URL(self.upstream + request.raw_path, encoded=True),
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as upstream:
            resp_body = await upstream.read()
            resp_headers = CIMultiDict(
                (k, v)
                for k, v in upstream.headers.items()
                if k.lower() not in _HOP_BY_HOP
                or (k.lower() == "content-length" and request.method == "HEAD")
            )
            status, reason = upstream.status, upstream.reason

        if rules.answer_delay_s > 0 and rules.matches(request.method, request.path):
            held_at = time.monotonic()
            # Re-read: setting answer_delay_s to 0 releases held answers (and lets stop() end).
            while time.monotonic() - held_at < self._rules.answer_delay_s:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        if failed and status == 200:
            root = ET.fromstring(resp_body)  # noqa: S314 - our own upstream's answer
            return delete_result(root, failed)
        if fault == "reset":
            self.stats["reset"] += 1
            return await reset_connection(request, status, resp_headers, resp_body)
        if (
            request.method == "GET"
            and status in (200, 206)
            and resp_body
            and request.path in rules.corrupt_get_paths
        ):
            self.stats["corrupted"] += 1
            resp_body = bytes([resp_body[0] ^ 0xFF]) + resp_body[1:]
            for name in [k for k in resp_headers if k.lower().startswith("x-amz-checksum-")]:
                del resp_headers[name]
        return web.Response(status=status, reason=reason, headers=resp_headers, body=resp_body)

    def _error(self, request: web.Request, status: int, code: str) -> web.Response:
        if code in ("SlowDown", "InternalError"):
            self.stats["slowdown" if code == "SlowDown" else "internal_error"] += 1
        return error_response(request, status, code, f"faultproxy-{self.stats['requests']}")


def max_window_rate(times: list[float], window: float) -> float:
    """The most requests per second over any ``window`` seconds (a sliding window).

    Args:
        times: Arrival times in seconds, any order.
        window: The window's length.
    """
    ordered = sorted(times)
    most, first = 0, 0
    for last, now in enumerate(ordered):
        while ordered[first] <= now - window:
            first += 1
        most = max(most, last - first + 1)
    return most / window


_CLI_RATES = {
    "--slowdown-rate": "slowdown_rate",
    "--internal-error-rate": "internal_error_rate",
    "--reset-rate": "reset_rate",
    "--latency": "latency_s",
    "--delete-error-rate": "delete_error_rate",
}


def main(argv: list[str] | None = None) -> None:
    """Run a FaultProxy until interrupted (``python -m storage_jobs.devstack.faultproxy``)."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--upstream", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    for flag, dest in _CLI_RATES.items():
        p.add_argument(flag, dest=dest, type=float, default=0.0)
    p.add_argument("--access-key")
    p.add_argument("--secret-key")
    p.add_argument("--region", default="us-east-1")
    args = p.parse_args(argv)
    rules = FaultRules(
        seed=args.seed, **{dest: getattr(args, dest) for dest in _CLI_RATES.values()}
    )
    creds = (args.access_key, args.secret_key) if args.access_key and args.secret_key else None
    proxy = FaultProxy(
        args.upstream,
        rules=rules,
        credentials=creds,
        region=args.region,
        host=args.host,
        port=args.port,
    )

    async def serve() -> None:
        stopped = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stopped.set)
        await proxy.start()
        print(f"faultproxy listening on {proxy.url} -> {proxy.upstream}", flush=True)
        try:
            await stopped.wait()
        finally:
            await proxy.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
