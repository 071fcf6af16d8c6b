"""Fault-injecting reverse proxy in front of an S3 endpoint, for tests and benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import random
import signal
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict
from yarl import URL

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
# Not forwarded: per-connection headers, plus Content-Length which aiohttp recomputes.
_HOP_BY_HOP = frozenset(
    [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
    ]
)
_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "AccessDenied": "Access Denied",
}
STAT_KEYS = tuple(
    [
        "requests",
        "slowdown",
        "internal_error",
        "reset",
        "delete_requests",
        "delete_key_error",
        "delete_resign_skipped",
        "corrupted",
        "copy_denied",
    ]
)


@dataclass
class FaultRules:
    """What to break; mutable so a test can change it while the proxy runs.

    Request-level faults (latency, 503, 500, reset) apply to requests matching ``methods``
    (empty = all) and ``path_prefix``. Rates are drawn from ``random.Random(seed)``, one draw
    per matching request, so the same request sequence gets the same faults.
    """

    seed: int = 0
    slowdown_rate: float = 0.0
    internal_error_rate: float = 0.0
    reset_rate: float = 0.0
    latency_s: float = 0.0
    answer_delay_s: float = 0.0
    """Seconds a matching request's answer is held after the upstream did the work (a client
    that dies meanwhile did the S3 work without seeing it done); 0 releases held answers."""
    delete_errors: dict[str, str] = field(default_factory=dict)
    delete_error_times: dict[str, int] = field(default_factory=dict)
    delete_error_rate: float = 0.0
    delete_error_codes: tuple[str, ...] = ("InternalError",)
    methods: frozenset[str] = frozenset()
    path_prefix: str = ""
    corrupt_get_paths: frozenset[str] = frozenset()
    """Paths (``/bucket/key``, as aiohttp decodes them) whose GET bodies come back with their first
    byte flipped: a destination that reads back wrong, for verification tests."""
    deny_copy_sources: str = ""
    """A ``bucket/key`` prefix: copies from sources under it are answered 403 AccessDenied."""

    def matches(self, method: str, path: str) -> bool:
        """Return whether request-level faults apply to this request."""
        return (not self.methods or method in self.methods) and path.startswith(self.path_prefix)


def error_xml(code: str, message: str, resource: str, request_id: str) -> bytes:
    """Return an S3-style ``<Error>`` document."""
    root = ET.Element("Error")
    fields = {"Code": code, "Message": message, "Resource": resource, "RequestId": request_id}
    for tag, text in fields.items():
        ET.SubElement(root, tag).text = text
    return _to_xml(root)


def _to_xml(root: ET.Element) -> bytes:
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _checksum(name: str, body: bytes) -> str | None:
    digest: bytes
    if name == "content-md5":
        digest = hashlib.md5(body).digest()  # noqa: S324 - protocol checksum, not security
    elif name == "x-amz-checksum-crc32":
        digest = zlib.crc32(body).to_bytes(4, "big")
    elif name == "x-amz-checksum-sha1":
        digest = hashlib.sha1(body).digest()  # noqa: S324 - protocol checksum
    elif name == "x-amz-checksum-sha256":
        digest = hashlib.sha256(body).digest()
    else:
        return None
    return base64.b64encode(digest).decode()


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
        self.credentials = credentials
        self.region = region
        self.host = host
        self.port = port
        self.stats: Counter[str] = Counter()
        self.delete_batches: list[list[str]] = []
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
        self.delete_batches.clear()
        self.copies.clear()
        self.arrivals.clear()
        self._delete_failures: Counter[str] = Counter()
        self._rng = random.Random(self._rules.seed)  # noqa: S311 - repeatable test faults
        self._delete_rng = random.Random(self._rules.seed + 1)  # noqa: S311

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
            draw = self._rng.random()
            if draw < rules.slowdown_rate:
                fault = "slowdown"
            elif draw < rules.slowdown_rate + rules.internal_error_rate:
                fault = "internal_error"
            elif draw < rules.slowdown_rate + rules.internal_error_rate + rules.reset_rate:
                fault = "reset"
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
            body, failed = self._apply_delete_errors(body, headers, request.raw_path)
            if failed and not body:
                return self._delete_result(ET.Element(f"{{{S3_NS}}}DeleteResult"), failed)

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
            return self._delete_result(root, failed)
        if fault == "reset":
            return await self._reset(request, status, resp_headers, resp_body)
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
        rid = f"faultproxy-{self.stats['requests']}"
        body = error_xml(code, _MESSAGES[code], request.path, rid)
        headers = {"Content-Type": "application/xml", "x-amz-request-id": rid}
        return web.Response(
            status=status, headers=headers, body=None if request.method == "HEAD" else body
        )

    async def _reset(
        self, request: web.Request, status: int, headers: CIMultiDict[str], body: bytes
    ) -> web.StreamResponse:
        # The upstream already did the work; the client just never sees the full answer.
        self.stats["reset"] += 1
        transport = request.transport
        if body and request.method != "HEAD":
            headers["Content-Length"] = str(len(body))
            resp = web.StreamResponse(status=status, headers=headers)
            await resp.prepare(request)
            await resp.write(body[: max(1, len(body) // 2)])
            await asyncio.sleep(0.05)  # let the partial body reach the client first
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # nothing more can be sent on this connection

    def _apply_delete_errors(
        self, body: bytes, headers: CIMultiDict[str], raw_path: str
    ) -> tuple[bytes, dict[str, str]]:
        """Record the batch, pick failing keys and drop them from a re-signed request body."""
        self.stats["delete_requests"] += 1
        try:
            root = ET.fromstring(body)  # noqa: S314 - test client's request
        except ET.ParseError:
            return body, {}  # let upstream answer MalformedXML
        objects = root.findall(f"{{{S3_NS}}}Object") or root.findall("Object")
        keys = [_text(obj, "Key") for obj in objects]
        self.delete_batches.append(keys)
        failed = self._pick_failures(keys)
        if not failed:
            return body, failed
        if not self._can_resign(headers):
            self.stats["delete_resign_skipped"] += 1
            return body, {}
        for obj, key in zip(objects, keys, strict=True):
            if key in failed:
                root.remove(obj)
        self.stats["delete_key_error"] += len(failed)
        if len(failed) == len(keys):
            return b"", failed
        new_body = _to_xml(root)
        self._resign(headers, new_body, raw_path)
        return new_body, failed

    def _pick_failures(self, keys: list[str]) -> dict[str, str]:
        rules = self._rules
        failed: dict[str, str] = {}
        for key in keys:
            if key in rules.delete_errors:
                limit = rules.delete_error_times.get(key)
                if limit is None or self._delete_failures[key] < limit:
                    self._delete_failures[key] += 1
                    failed[key] = rules.delete_errors[key]
            elif (
                rules.delete_error_rate > 0 and self._delete_rng.random() < rules.delete_error_rate
            ):
                failed[key] = self._delete_rng.choice(rules.delete_error_codes)
        return failed

    def _can_resign(self, headers: CIMultiDict[str]) -> bool:
        auth = headers.get("Authorization", "")
        return self.credentials is not None and f"Credential={self.credentials[0]}/" in auth

    def _resign(self, headers: CIMultiDict[str], body: bytes, raw_path: str) -> None:
        """Replace checksums and the SigV4 signature in ``headers`` for a new ``body``."""
        assert self.credentials is not None
        auth = headers["Authorization"]
        signed = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        region = scope[2] if len(scope) >= 5 else self.region
        for name in [
            h for h in headers if h.lower().startswith(("content-md5", "x-amz-checksum-"))
        ]:
            value = _checksum(name.lower(), body)
            if value is None:  # e.g. crc32c without awscrt: drop it rather than send a wrong one
                headers.popall(name)
                headers.popall("x-amz-sdk-checksum-algorithm", None)
            else:
                headers[name] = value
        to_sign = {h: headers[h] for h in signed if h != "host" and h in headers}
        url = f"http://{headers['Host']}{raw_path}"
        req = AWSRequest(method="POST", url=url, data=body, headers=to_sign)
        S3SigV4Auth(Credentials(*self.credentials), "s3", region).add_auth(req)
        for name, value in req.headers.items():
            headers[name] = value

    def _delete_result(self, root: ET.Element, failed: dict[str, str]) -> web.Response:
        ET.register_namespace("", S3_NS)
        for key, code in failed.items():
            err = ET.SubElement(root, f"{{{S3_NS}}}Error")
            ET.SubElement(err, f"{{{S3_NS}}}Key").text = key
            ET.SubElement(err, f"{{{S3_NS}}}Code").text = code
            ET.SubElement(err, f"{{{S3_NS}}}Message").text = "Injected by FaultProxy"
        return web.Response(status=200, body=_to_xml(root), content_type="application/xml")


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


def _text(elem: ET.Element, tag: str) -> str:
    found = elem.find(f"{{{S3_NS}}}{tag}")
    if found is None:
        found = elem.find(tag)
    return (found.text or "") if found is not None else ""


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
